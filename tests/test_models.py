"""Register events: documents, strict reading, status and record data derived from history."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ipchain.encoding import canonical_bytes, document_hash
from ipchain.errors import (
    InvalidInputError,
    InvalidRecordKeyError,
    StateTransitionError,
    UnknownEventCodeError,
)
from ipchain.register.catalog import RecordKey, RecordStatus
from ipchain.register.history import (
    check_transition,
    current_record_data,
    derive_status,
    replay_history,
)
from ipchain.register.models import (
    SCHEMA,
    DesignData,
    DesignView,
    ImageFile,
    LocalizedText,
    NiceClass,
    Party,
    RecordLink,
    RegisterEvent,
    TrademarkData,
)

HASH_A = "0x" + "ab" * 32
HASH_B = "0x" + "cd" * 32
TM_KEY = RecordKey.parse("EM/TM/018123456")
DS_KEY = RecordKey.parse("EM/DS/009876543-0001")


def trademark_filing() -> RegisterEvent:
    return RegisterEvent(
        record_key=TM_KEY,
        event_code="A10",
        event_date=date(2024, 1, 15),
        record_data=TrademarkData(
            mark_verbal_element_text="Zentaro",
            mark_feature_category="Combined",
            mark_image=ImageFile("018123456-mark.png", HASH_A),
            vienna_codes=("26.04.04", "27.05.01"),
            nice_classes=(
                NiceClass(
                    9,
                    (LocalizedText("en", "Computer software"), LocalizedText("de", "Software")),
                    "12-2025",
                ),
                NiceClass(42, (LocalizedText("en", "Software as a service [SaaS]"),)),
            ),
            applicants=(
                Party(
                    "Zentaro GmbH",
                    "DE",
                    address="12 Main Street, Berlin",
                    identifier="EM-123456",
                    attestation_uid="0x" + "12" * 32,
                ),
            ),
            representatives=(Party("Kessler & Vogt IP", "DE"),),
            application_date=date(2024, 1, 15),
        ),
        links=(
            RecordLink("priority", RecordKey.parse("AU/TM/2345678"), link_date=date(2023, 9, 1)),
        ),
        national_code="RCV",
        national_text="Application received",
        effective_date=date(2024, 1, 16),
        office_reference="REF-1",
    )


def design_filing() -> RegisterEvent:
    return RegisterEvent(
        record_key=DS_KEY,
        event_code="A10",
        event_date=date(2023, 5, 2),
        record_data=DesignData(
            locarno_classes=("06-01",),
            product_indications=(LocalizedText("en", "Chairs"), LocalizedText("fr", "Chaises")),
            views=(
                DesignView(1, "0098765430001-1.png", HASH_A, "Perspective"),
                DesignView(2, "0098765430001-2.png", HASH_B),
            ),
            applicants=(Party("Nordlicht Möbel AG", "CH"),),
            designers=(Party("Lea Meier", "CH"),),
            application_date=date(2023, 5, 2),
        ),
        links=(RecordLink("priority", external_number="CH 151234", link_date=date(2023, 1, 2)),),
    )


# --- documents -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [trademark_filing, design_filing])
def test_document_round_trip(make: Callable[[], RegisterEvent]) -> None:
    event = make()
    document = event.to_document()
    assert document["schema"] == SCHEMA
    # Plain JSON: it survives a trip through JSON text unchanged, and canonicalises.
    assert json.loads(json.dumps(document)) == document
    canonical_bytes(document)
    assert RegisterEvent.from_document(document) == event
    assert RegisterEvent.from_document(document).to_document() == document


def test_document_format() -> None:
    document = trademark_filing().to_document()
    assert document["record_key"] == "EM/TM/018123456"
    assert document["event_date"] == "2024-01-15"
    data = document["record_data"]
    assert data["nice_classes"][0] == {
        "class_number": 9,
        "descriptions": [
            {"language_code": "en", "text": "Computer software"},
            {"language_code": "de", "text": "Software"},
        ],
        "nice_edition": "12-2025",
    }
    assert "nice_edition" not in data["nice_classes"][1]  # unset fields are omitted
    assert "registration_date" not in data
    assert document["links"] == [
        {"relation": "priority", "record_key": "AU/TM/2345678", "link_date": "2023-09-01"}
    ]
    # No links: no member (one spelling per event keeps the hash stable).
    assert "links" not in RegisterEvent(TM_KEY, "U10", date(2024, 2, 1)).to_document()


def test_same_event_same_hash() -> None:
    assert document_hash(trademark_filing().to_document()) == document_hash(
        RegisterEvent.from_document(trademark_filing().to_document()).to_document()
    )
    changed = copy.deepcopy(trademark_filing().to_document())
    changed["record_data"]["mark_verbal_element_text"] = "Zentaro!"
    assert document_hash(changed) != document_hash(trademark_filing().to_document())


_DELETE = object()


def _mutated(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of ``document`` with the member at ``path`` (``a.b.0.c``) set or deleted."""
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    member = int(last) if last.isdigit() else last
    if value is _DELETE:
        del target[member]
    else:
        target[member] = value
    return document


def _field_of(path: str) -> str:
    """The error field for a mutation path: ``a.0.b`` is reported as ``a[0].b``."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


NICE = "record_data.nice_classes"
APPLICANT = "record_data.applicants.0"

# (path, bad value): the error must name exactly that path.
BAD_TRADEMARK_MEMBERS: list[tuple[str, object]] = [
    (f"{NICE}.0.class_number", 46),
    (f"{NICE}.0.class_number", 0),
    (f"{NICE}.0.class_number", "9"),
    (f"{NICE}.0.class_number", True),
    (f"{NICE}.1.class_number", 9),  # classes ascend, each once
    (f"{NICE}.0.nice_edition", "twelve"),
    (f"{NICE}.0.descriptions", []),
    (f"{NICE}.0.descriptions.1.language_code", "en"),  # one text per language
    (f"{NICE}.0.descriptions.0.language_code", "EN"),
    (f"{NICE}.0.descriptions.0.text", " padded"),
    (f"{NICE}.0.descriptions.0.text", ""),
    (f"{NICE}.0.extra", 1),
    (NICE, {}),
    (NICE, []),
    ("record_data.vienna_codes.0", "26.4.4"),
    ("record_data.mark_feature_category", "Logo"),
    ("record_data.mark_image.sha256", "ab" * 32),
    ("record_data.mark_image.file_name", "../etc/passwd"),
    (f"{APPLICANT}.country_code", "XX"),
    (f"{APPLICANT}.country_code", "de"),
    (f"{APPLICANT}.attestation_uid", "0x12"),
    (f"{APPLICANT}.name", _DELETE),
    (f"{APPLICANT}.name", None),
    ("record_data.applicants", []),
    ("record_data.application_date", "2024-1-15"),
    ("record_data.application_date", "15/01/2024"),
    ("record_data.application_date", "2024-02-30"),
    ("record_data.registration_date", "2023-01-01"),  # before the filing
    ("record_data.locarno_classes", ["06-01"]),  # a design field
    ("record_data", _DELETE),
    ("record_data", []),
    ("event_code", "G10"),  # a design-only code
    ("event_code", _DELETE),
    ("event_date", "2024-01-15T00:00:00"),
    ("event_date", 20240115),
    ("effective_date", None),
    ("national_code", "not a code!"),
    ("national_text", ""),
    ("schema", "ipchain/register-event/v0"),
    ("schema", _DELETE),
    ("unexpected", 1),
    ("links", []),
    ("links.0.relation", "cousin"),
    ("links.0.relation", "hague-designation"),  # a design relation
    ("links.0.record_key", "AU/DS/2345678"),  # priority from a design
    ("links.0.record_key", "EM/TM/018123456"),  # itself
]


@pytest.mark.parametrize(("path", "value"), BAD_TRADEMARK_MEMBERS)
def test_bad_documents_name_the_field(path: str, value: object) -> None:
    document = _mutated(trademark_filing().to_document(), path, value)
    with pytest.raises(InvalidInputError) as caught:
        RegisterEvent.from_document(document)
    assert caught.value.field == _field_of(path)
    assert str(caught.value).startswith(_field_of(path))


@pytest.mark.parametrize(
    ("path", "value", "field", "error"),
    [
        ("event_code", "X99", "event_code", UnknownEventCodeError),
        ("record_key", "EM/TM/018 123 456", "record_key", InvalidRecordKeyError),
        ("record_key", "EM/XX/018123456", "record_key", InvalidRecordKeyError),
        ("links.0.record_key", "au/tm/2345678", "links[0].record_key", InvalidRecordKeyError),
        # Both a record key and an external number.
        ("links.0.external_number", "AU 2345678", "links[0].record_key", InvalidInputError),
        # A design key: the trademark fields are unknown to design data.
        ("record_key", "EM/DS/018123456", "record_data.mark_feature_category", InvalidInputError),
    ],
)
def test_bad_document_errors(path: str, value: object, field: str, error: type[Exception]) -> None:
    document = _mutated(trademark_filing().to_document(), path, value)
    with pytest.raises(error) as caught:
        RegisterEvent.from_document(document)
    assert isinstance(caught.value, InvalidInputError)
    assert caught.value.field == field


def test_word_mark_without_words_cannot_start_a_record() -> None:
    document = _mutated(
        trademark_filing().to_document(), "record_data.mark_feature_category", "Word"
    )
    document = _mutated(document, "record_data.mark_verbal_element_text", _DELETE)
    with pytest.raises(InvalidInputError) as caught:
        RegisterEvent.from_document(document)
    assert caught.value.field == "record_data.mark_verbal_element_text"


BAD_DESIGN_MEMBERS: list[tuple[str, object]] = [
    ("record_data.locarno_classes.0", "06-14"),  # no such subclass
    ("record_data.locarno_classes.0", "6-01"),
    ("record_data.locarno_classes", _DELETE),  # a filing needs a Locarno class
    ("record_data.product_indications", _DELETE),  # and a product
    ("record_data.views.1.view_number", 3),
    ("record_data.views.0.view_number", 0),
    ("record_data.views.0.sha256", "0x" + "AB" * 32),
    ("record_data.designers.0.country_code", "UK"),
    ("record_data.nice_classes", []),  # a trademark field
    ("event_code", "E10"),  # a trademark-only code
    ("links.0.relation", "madrid-designation"),
]


@pytest.mark.parametrize(("path", "value"), BAD_DESIGN_MEMBERS)
def test_bad_design_documents_name_the_field(path: str, value: object) -> None:
    document = _mutated(design_filing().to_document(), path, value)
    with pytest.raises(InvalidInputError) as caught:
        RegisterEvent.from_document(document)
    assert caught.value.field == _field_of(path)


def test_document_must_be_an_object() -> None:
    with pytest.raises(InvalidInputError):
        RegisterEvent.from_document([])  # type: ignore[arg-type]


def test_construction_checks_the_data_type() -> None:
    with pytest.raises(InvalidInputError) as caught:
        RegisterEvent(DS_KEY, "P10", date(2024, 1, 1), TrademarkData(mark_verbal_element_text="X"))
    assert caught.value.field == "record_data"
    with pytest.raises(InvalidInputError) as caught:
        RegisterEvent(TM_KEY, "A10", date(2024, 1, 1))
    assert caught.value.field == "record_data"


def test_partial_data_is_fine_after_filing() -> None:
    holder = TrademarkData(applicants=(Party("Buyer Ltd", "GB"),))
    event = RegisterEvent(TM_KEY, "R10", date(2025, 1, 1), holder)
    assert RegisterEvent.from_document(event.to_document()) == event
    with pytest.raises(InvalidInputError, match="verbal element"):
        RegisterEvent(TM_KEY, "A10", date(2025, 1, 1), holder)


def test_figurative_mark_needs_no_words() -> None:
    figurative = TrademarkData(mark_feature_category="Figurative")
    assert RegisterEvent(TM_KEY, "A10", date(2025, 1, 1), figurative).record_data == figurative
    with pytest.raises(InvalidInputError):
        RegisterEvent(TM_KEY, "A10", date(2025, 1, 1), TrademarkData(mark_feature_category="Word"))


# --- status from history ---------------------------------------------------------------------


def event(code: str, data: TrademarkData | None = None, key: RecordKey = TM_KEY) -> RegisterEvent:
    return RegisterEvent(key, code, date(2024, 1, 1), data)


FILING = TrademarkData(
    mark_verbal_element_text="Zentaro", representatives=(Party("A & B IP", "DE"),)
)


@pytest.mark.parametrize(
    ("codes", "status"),
    [
        (["A10"], RecordStatus.FILED),
        (["A10", "U10", "D10"], RecordStatus.EXAMINATION),
        (["A10", "D10", "Q10"], RecordStatus.PUBLISHED),
        (["A10", "D10", "Q10", "F10"], RecordStatus.REGISTERED),
        (["A10", "D10", "Q10", "E10", "E20", "F10", "M10", "M10"], RecordStatus.REGISTERED),
        (["A10", "D10", "Q10", "E10", "E21"], RecordStatus.REFUSED),
        (["A10", "D10", "D20", "B20"], RecordStatus.REFUSED),
        (["A10", "B10"], RecordStatus.WITHDRAWN),
        (["A10", "D10", "B10", "C10"], RecordStatus.EXAMINATION),  # revived where it was
        (["A10", "D10", "B20", "V10", "V20", "C20"], RecordStatus.EXAMINATION),
        (["A10", "F10", "R10", "S10", "H10"], RecordStatus.EXPIRED),
        (["A10", "F10", "H10", "K10"], RecordStatus.REGISTERED),
        (["A10", "F10", "H20"], RecordStatus.SURRENDERED),
        (["A10", "F10", "L10"], RecordStatus.UNDER_REVIEW),
        (["A10", "F10", "L10", "M10", "L21"], RecordStatus.REGISTERED),
        (["A10", "F10", "L11", "L20"], RecordStatus.INVALIDATED),
        (["A10", "F10", "L10", "L20", "V10", "K20"], RecordStatus.REGISTERED),
        (["A10", "F10", "H10", "N10", "Y10"], RecordStatus.TERMINATED),
        (["A10", "D10", "Q10", "Y20"], RecordStatus.EXAMINATION),  # publication undone
    ],
)
def test_status_derived_from_history(codes: list[str], status: RecordStatus) -> None:
    events = [event(code, FILING if code == "A10" else None) for code in codes]
    assert derive_status(codes) is status
    assert derive_status(codes, strict=False) is status  # the index's reading agrees
    # Each prefix passes the transition check from its predecessor's status.
    state = replay_history([])
    for item in events:
        check_transition(state.status, item)
        state = state.after(item)
    assert state.status is status and state.event_count == len(codes)


@pytest.mark.parametrize(
    ("codes", "refused"),
    [
        (["D10"], "D10"),  # nothing before a filing
        (["A10", "A10"], "A10"),  # filed once
        (["A10", "M10"], "M10"),  # renewal of a record never registered
        (["A10", "H10"], "H10"),
        (["A10", "E10"], "E10"),  # opposition before publication
        (["A10", "D10", "Q10", "E10", "F10"], "F10"),  # registration while opposed
        (["A10", "F10", "F10"], "F10"),
        (["A10", "B10", "R10"], "R10"),  # transfer of a withdrawn application
        (["A10", "F10", "H10", "M10"], "M10"),  # expired rights are restored, not renewed
        (["A10", "F10", "H20", "S10"], "S10"),
        (["A10", "F10", "L20"], "L20"),  # decision without a request
        (["A10", "F10", "H10", "C10"], "C10"),  # revival is for applications
        (["A10", "B20", "K10"], "K10"),  # restoration is for rights
        (["A10", "F10", "H10", "N10", "K10"], "K10"),  # terminated is final
        (["A10", "Y20"], "Y20"),  # nothing to undo
    ],
)
def test_impossible_transitions_are_rejected(codes: list[str], refused: str) -> None:
    events = [event(code, FILING if code == "A10" else None) for code in codes]
    with pytest.raises(StateTransitionError, match=refused) as caught:
        replay_history(events)
    assert caught.value.field == "event_code"
    with pytest.raises(StateTransitionError, match=refused):
        derive_status(codes)
    # Everything before the refused event was fine.
    replay_history(events[:-1])
    # What the chain holds is shown all the same: the lenient reading never refuses.
    assert derive_status(codes, strict=False) is not None


def test_check_transition_before_filing() -> None:
    check_transition(None, event("A10", FILING))
    with pytest.raises(StateTransitionError, match="not yet filed"):
        check_transition(None, event("Q10"))


def test_history_is_one_record() -> None:
    other = RecordKey.parse("EM/TM/018123457")
    with pytest.raises(InvalidInputError) as caught:
        replay_history([event("A10", FILING), event("D10", key=other)])
    assert caught.value.field == "record_key"
    with pytest.raises(InvalidInputError):
        derive_status([])
    assert derive_status([], strict=False) is None


def test_strict_status_refuses_codes_outside_the_catalogue() -> None:
    with pytest.raises(UnknownEventCodeError):
        derive_status(["A10", "Z99"])
    assert derive_status(["A10", "Z99"], strict=False) is RecordStatus.FILED


def test_current_record_data_merges_in_order() -> None:
    registered = TrademarkData(
        registration_date=date(2024, 6, 1), expiry_date=date(2034, 1, 15), registration_number="1"
    )
    renewed = TrademarkData(expiry_date=date(2044, 1, 15))
    transferred = TrademarkData(applicants=(Party("Buyer Ltd", "GB"),), representatives=())
    events = [
        event("A10", FILING),
        event("F10", registered),
        event("M10", renewed),
        event("R10", transferred),
        event("S10"),
    ]
    data = current_record_data(events)
    assert isinstance(data, TrademarkData)
    assert data.mark_verbal_element_text == "Zentaro"  # from the filing
    assert data.registration_date == date(2024, 6, 1)  # from the registration
    assert data.expiry_date == date(2044, 1, 15)  # the renewal overrode it
    assert data.applicants == (Party("Buyer Ltd", "GB"),)
    assert data.representatives == ()  # the transfer established "no representative"
    assert current_record_data([event("A10", FILING), event("U10")]) == FILING


def test_merged_data_is_checked() -> None:
    filing = TrademarkData(mark_verbal_element_text="Zentaro", application_date=date(2024, 1, 1))
    too_early = TrademarkData(registration_date=date(2023, 1, 1))
    with pytest.raises(InvalidInputError) as caught:
        current_record_data([event("A10", filing), event("F10", too_early)])
    assert caught.value.field == "registration_date"


def test_document_bytes_are_pinned() -> None:
    # Anchored hashes must stay reproducible: this is the example of docs/data-model.md,
    # checked there with sha256sum. A change here breaks every anchored document.
    transfer = RegisterEvent(
        TM_KEY,
        "R10",
        date(2026, 3, 2),
        TrademarkData(applicants=(Party("Buyer Ltd", "GB"),), representatives=()),
        national_text="Transfer recorded",
    )
    assert canonical_bytes(transfer.to_document()) == (
        b'{"event_code":"R10","event_date":"2026-03-02","national_text":"Transfer recorded",'
        b'"record_data":{"applicants":[{"country_code":"GB","name":"Buyer Ltd"}],'
        b'"representatives":[]},"record_key":"EM/TM/018123456",'
        b'"schema":"ipchain/register-event/v1"}'
    )
    assert document_hash(transfer.to_document()).hex() == (
        "a63c99470d7cd06e9dfdfb2b25ec257040ba991c655fc29af8400459a56d65d5"
    )
