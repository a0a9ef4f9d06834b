"""Record keys, ST.13 numbers and the standards catalogues."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from ipchain.errors import InvalidRecordKeyError, UnknownEventCodeError, UnknownOfficeError
from ipchain.register.catalog import (
    MAX_RECORD_KEY_LENGTH,
    ST13_LENGTH,
    IpType,
    OfficeCode,
    RecordKey,
    RecordStatus,
    event_catalog,
    event_code,
    is_country_code,
    is_locarno_class,
    is_nice_class,
    is_vienna_code,
    office_catalog,
    office_info,
)

# --- record keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("EM/TM/018123456", "EM/TM/018123456"),
        ("em/tm/018 123-456", "EM/TM/018123456"),
        (" au / ds / 2023.12345 ", "AU/DS/202312345"),
        ("KR/TM/40-2023-0123456", "KR/TM/4020230123456"),
        # Only the first two slashes separate the parts: numbers may be printed with slashes.
        ("CH/TM/52345/2023", "CH/TM/523452023"),
        ("WO/DS/DM/234567", "WO/DS/DM234567"),
        ("US/DS/29/123,456", "US/DS/29123456"),
        ("gb/tm/uk00003912345", "GB/TM/UK00003912345"),
    ],
)
def test_parse_normalises_keys(text: str, normalised: str) -> None:
    key = RecordKey.parse(text)
    assert str(key) == normalised
    assert RecordKey.parse(str(key)) == key


def test_key_parts() -> None:
    key = RecordKey.parse("em/tm/018 123 456")
    assert key.office == "EM" and isinstance(key.office, OfficeCode)
    assert key.ip_type is IpType.TRADEMARK
    assert key.application_number == "018123456"
    assert RecordKey(OfficeCode("EM"), IpType.TRADEMARK, "018123456") == key


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("EM/TM", "office/type/number"),
        ("EMTM018123456", "office/type/number"),
        ("EUR/TM/1", "office"),
        ("E1/TM/1", "office"),
        ("EM/PT/1", "neither TM nor DS"),
        ("EM/TM/", "no application number"),
        ("EM/TM/ - / ", "no application number"),
        ("EM/TM/0181#23", "letters and digits"),
        ("EM/TM/018é23", "letters and digits"),
        ("EM/TM/" + "1" * (MAX_RECORD_KEY_LENGTH - 5), "longer than 64"),
    ],
)
def test_parse_rejects_bad_keys(text: str, problem: str) -> None:
    with pytest.raises(InvalidRecordKeyError, match=problem) as caught:
        RecordKey.parse(text)
    assert caught.value.field == "record_key"


def test_longest_key_fits_the_contract_limit() -> None:
    key = RecordKey.parse("EM/TM/" + "1" * (MAX_RECORD_KEY_LENGTH - 6))
    assert len(str(key).encode()) == MAX_RECORD_KEY_LENGTH


def test_constructor_refuses_unnormalised_parts() -> None:
    with pytest.raises(InvalidRecordKeyError, match="normalise"):
        RecordKey(OfficeCode("EM"), IpType.TRADEMARK, "018 123 456")
    with pytest.raises(InvalidRecordKeyError):
        RecordKey("em", IpType.TRADEMARK, "1")  # type: ignore[arg-type]


def test_keys_sort_and_hash() -> None:
    keys = [RecordKey.parse(text) for text in ("RU/TM/2", "AU/DS/1", "AU/TM/1", "AU/DS/1")]
    assert sorted(set(keys)) == [keys[1], keys[2], keys[0]]


def test_office_code_is_st3_shaped() -> None:
    assert OfficeCode("MT") == "MT"
    for bad in ("mt", "M", "MTA", "M1", ""):
        with pytest.raises(UnknownOfficeError):
            OfficeCode(bad)


# --- ST.13 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "st13"),
    [
        # Same form as WIPO's Global Brand Database and TMview identifiers.
        ("EM/TM/018660437", "EM500000018660437"),
        ("US/TM/99104968", "US500000099104968"),
        # Numbers carrying a year put it in the year field.
        ("RU/TM/2023712345", "RU502023000712345"),
        ("AU/DS/202312345", "AU402023000012345"),
        ("KR/TM/40-2023-0123456", "KR502023000123456"),
        ("CH/TM/52345/2023", "CH502023000052345"),
        ("AU/TM/2345678", "AU500000002345678"),
    ],
)
def test_st13_form(key: str, st13: str) -> None:
    derived = RecordKey.parse(key).st13()
    assert derived == st13
    assert len(st13) == ST13_LENGTH


@pytest.mark.parametrize(
    "key",
    [
        "EM/DS/009876543-0001",  # the design number within the application does not fit
        "EM/TM/W01712345",  # an international registration's designation: not EUIPO's format
        "AU/TM/12",  # does not match the office's format
        "XY/TM/2023123456",  # office not in the catalogue
        "EP/TM/1234567",  # office without trademark numbers
        "WO/DS/DM234567",
    ],
)
def test_st13_absent_when_not_derivable(key: str) -> None:
    assert RecordKey.parse(key).st13() is None


def test_every_st13_example_has_17_characters() -> None:
    for office in office_catalog().offices.values():
        for ip_type, number_format in office.number_formats.items():
            key = RecordKey(office.code, ip_type, number_format.example)
            st13 = key.st13()
            assert (st13 is not None) == number_format.st13, key
            if st13 is not None:
                assert re.fullmatch(r"[A-Z]{2}(50|40)[0-9]{13}", st13), st13
            display = RecordKey.parse(
                f"{office.code}/{ip_type.value}/{number_format.display_example}"
            )
            assert display == key


# --- catalogues ------------------------------------------------------------------------------


def test_catalogue_codes_follow_st27_categories() -> None:
    catalog = event_catalog()
    assert set(catalog.categories) == set("ABCDEFGHKLMNPQRSTUVWY")
    assert set(catalog.standards) == {"WIPO ST.27", "WIPO ST.61", "WIPO ST.87"}
    assert len(catalog.codes) >= 60
    for code, entry in catalog.codes.items():
        assert re.fullmatch(r"[A-Z][0-9]{2}", code)
        assert entry.category == code[0] and entry.category in catalog.categories
        assert entry.ip_types
        expected = [
            s
            for t, s in ((IpType.TRADEMARK, "WIPO ST.61"), (IpType.DESIGN, "WIPO ST.87"))
            if t in entry.ip_types
        ]
        assert list(entry.standards) == expected
        assert entry.requires_status, code
    # Every category is used, for trademarks and for designs.
    for ip_type in IpType:
        used = {entry.category for entry in catalog.codes.values() if entry.applies_to(ip_type)}
        assert used >= set(catalog.categories) - {"E", "G"}, ip_type


def test_only_filing_codes_start_a_record() -> None:
    starters = {code for code, entry in event_catalog().codes.items() if entry.allows(None)}
    assert starters == {"A10", "A11", "A12", "A13"}
    assert all(event_code(code).requires_complete_data for code in starters)
    assert all(event_code(code).sets_status is RecordStatus.FILED for code in starters)


def test_status_effects() -> None:
    assert event_code("F10").sets_status is RecordStatus.REGISTERED
    assert event_code("M10").sets_status is None
    assert event_code("M10").allows(RecordStatus.REGISTERED)
    assert not event_code("M10").allows(RecordStatus.FILED)
    assert event_code("C10").restores_previous_status
    assert RecordStatus.EXPIRED.is_ended and not RecordStatus.UNDER_REVIEW.is_ended
    assert RecordStatus.PUBLISHED.phase == "pending"
    # On an ended record only revival, restoration, appeal and correction make sense.
    ended = [status for status in RecordStatus if status.is_ended]
    after_end = {
        entry.category
        for entry in event_catalog().codes.values()
        if any(entry.allows(status) for status in ended) and entry.code != "N10"
    }
    assert after_end == {"C", "K", "V", "Y"}


def test_unknown_event_code() -> None:
    with pytest.raises(UnknownEventCodeError, match="X99") as caught:
        event_code("X99")
    assert caught.value.field == "event_code"


def test_catalogue_files_are_versioned_json() -> None:
    folder = resources.files("ipchain") / "data" / "catalog"
    for name in ("event_codes.json", "offices.json", "nice.json", "locarno.json", "vienna.json"):
        document = json.loads((folder / name).read_text(encoding="utf-8"))
        assert document["catalog_version"]
        assert document["schema"].startswith("ipchain/")


def test_offices() -> None:
    for code in ("EM", "RU", "AU", "WO", "MT"):
        assert office_info(code).name
    assert office_info("EM").short_name == "EUIPO"
    assert office_info("RU").short_name == "Rospatent"
    with pytest.raises(UnknownOfficeError):
        office_info("XY")


def test_classifications() -> None:
    assert is_nice_class(1) and is_nice_class(45)
    assert not is_nice_class(0) and not is_nice_class(46)
    assert not is_nice_class(True) and not is_nice_class("9")
    assert is_locarno_class("06-01") and is_locarno_class("32-00") and is_locarno_class("12-99")
    assert not is_locarno_class("06-14") and not is_locarno_class("33-01")
    assert not is_locarno_class("6-1") and not is_locarno_class("0601")
    assert is_vienna_code("26.04.04") and is_vienna_code("01.01.01")
    assert not is_vienna_code("30.01.01") and not is_vienna_code("26.4.4")
    assert not is_vienna_code("26-04-04")
    assert is_country_code("DE") and is_country_code("RU") and is_country_code("AU")
    assert not is_country_code("EM") and not is_country_code("XX") and not is_country_code("de")
