"""Demo data: deterministic, realistic, and valid for the register."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date

import pytest

from ipchain.encoding import canonical_bytes
from ipchain.register.catalog import IpType, RecordKey, RecordStatus, find_office
from ipchain.register.demo_data import DEMO_AS_OF, demo_image, generate_demo_events
from ipchain.register.history import current_record_data, replay_history
from ipchain.register.models import (
    DesignData,
    RegisterEvent,
    TrademarkData,
)

Histories = dict[RecordKey, list[RegisterEvent]]


def histories(events: list[RegisterEvent]) -> Histories:
    by_record: Histories = defaultdict(list)
    for event in events:
        by_record[event.record_key].append(event)
    return by_record


@pytest.fixture(scope="module")
def default_events() -> list[RegisterEvent]:
    return generate_demo_events()


@pytest.fixture(scope="module")
def with_wipo() -> list[RegisterEvent]:
    return generate_demo_events(("EM", "AU", "RU", "WO", "MT"), 60, seed=3)


def test_deterministic(default_events: list[RegisterEvent]) -> None:
    again = generate_demo_events()
    assert [e.to_document() for e in again] == [e.to_document() for e in default_events]
    other_seed = generate_demo_events(seed=2)
    assert [e.to_document() for e in other_seed] != [e.to_document() for e in default_events]


def test_several_hundred_records_per_default(default_events: list[RegisterEvent]) -> None:
    records = histories(default_events)
    assert len(records) == 300
    kinds = Counter((key.office, key.ip_type) for key in records)
    for office in ("EM", "AU", "RU"):
        assert kinds[(office, IpType.TRADEMARK)] > kinds[(office, IpType.DESIGN)] > 10


@pytest.mark.parametrize("fixture", ["default_events", "with_wipo"])
def test_every_history_is_valid(fixture: str, request: pytest.FixtureRequest) -> None:
    events: list[RegisterEvent] = request.getfixturevalue(fixture)
    dates = [event.event_date for event in events]
    assert dates == sorted(dates) and dates[-1] <= DEMO_AS_OF
    for key, history in histories(events).items():
        state = replay_history(history)  # raises on any impossible transition
        assert history[0].event_code in ("A10", "A12")
        assert isinstance(state.record_data, TrademarkData | DesignData), key
        assert len(str(key).encode()) <= 64
    for event in events:
        document = event.to_document()
        canonical_bytes(document)
        assert RegisterEvent.from_document(document) == event


def test_histories_are_realistic(default_events: list[RegisterEvent]) -> None:
    records = histories(default_events)
    statuses = Counter(replay_history(history).status for history in records.values())
    for status in (
        RecordStatus.REGISTERED,
        RecordStatus.EXPIRED,
        RecordStatus.REFUSED,
        RecordStatus.WITHDRAWN,
    ):
        assert statuses[status] > 0, status
    assert statuses[RecordStatus.REGISTERED] > len(records) / 2
    codes = Counter(event.event_code for event in default_events)
    for code in ("A10", "D10", "Q10", "E10", "F10", "M10", "R10", "S10", "H10", "Q11"):
        assert codes[code] > 0, code
    # A renewal pushes the expiry date ten (trademarks) or five (designs) years on.
    for key, history in records.items():
        data = current_record_data(history)
        assert data is not None and data.application_date == history[0].event_date
        renewals = sum(event.event_code == "M10" for event in history)
        if data.expiry_date is not None:
            term = 10 if key.ip_type is IpType.TRADEMARK else 5
            assert (
                data.expiry_date
                == data.application_date.replace(
                    year=data.application_date.year + term * (renewals + 1)
                )
                or data.application_date.month == 2
            )


def test_numbers_follow_office_formats(default_events: list[RegisterEvent]) -> None:
    for key in histories(default_events):
        office = find_office(key.office)
        assert office is not None
        assert office.number_formats[key.ip_type].pattern.fullmatch(key.application_number)
        if key.office in ("AU", "RU") or key.ip_type is IpType.TRADEMARK:
            st13 = key.st13()
            assert st13 is not None and len(st13) == 17


def test_priority_claims_link_earlier_records(default_events: list[RegisterEvent]) -> None:
    records = histories(default_events)
    claims = [
        (event, link)
        for event in default_events
        for link in event.links
        if link.relation == "priority"
    ]
    assert len(claims) >= 5
    for event, link in claims:
        assert link.record_key is not None and link.record_key in records
        assert link.record_key.office != event.record_key.office
        earlier_filing = records[link.record_key][0].event_date
        assert link.link_date == earlier_filing
        assert 30 <= (event.event_date - earlier_filing).days <= 180


def test_international_designations(with_wipo: list[RegisterEvent]) -> None:
    records = histories(with_wipo)
    designations = [e for e in with_wipo if e.event_code == "A12"]
    assert designations
    for event in designations:
        (link,) = event.links
        assert link.relation in ("madrid-designation", "hague-designation")
        assert link.record_key is not None and link.record_key.office == "WO"
        registration = current_record_data(records[link.record_key])
        assert registration is not None and link.link_date == registration.registration_date
        data = event.record_data
        assert data is not None
        assert data.international_registration_number == link.record_key.application_number


def test_texts_in_several_languages(default_events: list[RegisterEvent]) -> None:
    languages = Counter(
        text.language_code
        for event in default_events
        if isinstance(event.record_data, TrademarkData)
        for nice_class in event.record_data.nice_classes or ()
        for text in nice_class.descriptions
    )
    assert {"en", "ru"} <= set(languages) and ({"de", "fr"} & set(languages))
    assert any(event.national_text for event in default_events)


def test_view_hashes_match_the_synthetic_images(default_events: list[RegisterEvent]) -> None:
    checked = 0
    for event in default_events:
        data = event.record_data
        if isinstance(data, DesignData) and data.views:
            for view in data.views:
                image = demo_image(f"{event.record_key}#view{view.view_number}")
                assert image.startswith(b"\x89PNG\r\n\x1a\n")
                assert view.sha256 == "0x" + hashlib.sha256(image).hexdigest()
                checked += 1
    assert checked > 50


def test_as_of_bounds_the_data() -> None:
    events = generate_demo_events(("AU",), 40, as_of=date(2016, 12, 31))
    assert events and max(event.event_date for event in events) <= date(2016, 12, 31)
    for history in histories(events).values():
        replay_history(history)


def test_other_offices_get_plausible_numbers() -> None:
    events = generate_demo_events(("KR", "CH", "XY"), 30, seed=5)
    keys = list(histories(events))
    assert {key.office for key in keys} == {"KR", "CH", "XY"}
    for key in keys:
        office = find_office(key.office)
        if office is not None:
            assert office.number_formats[key.ip_type].pattern.fullmatch(key.application_number)
