"""Register event documents are read by one strict reader, field by field. It accepts a document
only in the one spelling the event writes (which keeps its hash stable), and refuses anything
else with an :class:`InvalidInputError` whose ``field`` names the first problem in field order,
never with another exception."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from ipchain.errors import InvalidInputError, InvalidRecordKeyError
from ipchain.register.catalog import RecordKey
from ipchain.register.demo_data import generate_demo_events
from ipchain.register.models import (
    LocalizedText,
    NiceClass,
    Party,
    RecordLink,
    RegisterEvent,
    TrademarkData,
)

# Values that are wrong (or right) somewhere in a document: types, blanks, dates, codes, keys.
REPLACEMENTS: list[object] = [
    None, "", " x", "x", 0, -1, 1, True, 46, 9, "9", 3.5, [], {}, [1], ["x"], [{}], {"a": 1},
    "2024-02-30", "2024-01-15", "2024-1-15", "EM/TM/1", "em/tm/1", "EM/TM/018 123", "XX", "GB",
    "en", "EN", "Word", "A10", "X99", "G10", "priority", "0x" + "ab" * 32, "a\x01b", "x" * 1001,
    "06-01", "26.04.04", "EM/DS/0123456780001", "AU/TM/1480001", "12-2025",
    [{"language_code": "en", "text": "x"}], [{"name": "A", "country_code": "GB"}],
]  # fmt: skip
EXTRA_NAMES = ["extra", "aaa", "schema", "name", "text", "record_key", "links", "record_data"]
EVENT_MEMBERS = {"schema", *RegisterEvent.__dataclass_fields__}


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    events = generate_demo_events(("EM", "AU", "RU", "WO"), records_per_office=25)
    loaded: list[dict[str, Any]] = json.loads(json.dumps([e.to_document() for e in events]))
    return loaded


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for name, item in value.items():
            yield from paths(item, (*prefix, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def mutated(document: dict[str, Any], generator: random.Random) -> dict[str, Any]:
    """``document`` with one to four members replaced, deleted or added."""
    document = copy.deepcopy(document)
    for _ in range(generator.choice([1, 1, 2, 3, 4])):
        path = generator.choice(list(paths(document)))
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        action = generator.random()
        if action < 0.15 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.25 and isinstance(parent, dict):
            parent[generator.choice(EXTRA_NAMES)] = copy.deepcopy(generator.choice(REPLACEMENTS))
        else:
            parent[path[-1]] = copy.deepcopy(generator.choice(REPLACEMENTS))
    return document


def test_valid_documents_round_trip(documents: list[dict[str, Any]]) -> None:
    for document in documents:
        assert RegisterEvent.from_document(document).to_document() == document


@pytest.mark.parametrize("seed", range(3))
def test_bad_documents_are_refused_naming_a_field(
    documents: list[dict[str, Any]], seed: int
) -> None:
    generator = random.Random(seed)
    refused = 0
    for _ in range(1000):
        document = mutated(generator.choice(documents), generator)
        try:
            event = RegisterEvent.from_document(document)
        except InvalidInputError as error:
            refused += 1
            field = error.field
            assert field, (document, error)
            assert field.split(".")[0].split("[")[0] in EVENT_MEMBERS | set(document)
            continue
        # Accepted: in exactly the spelling the event writes, so the hash is the event's.
        assert event.to_document() == document
    assert 500 < refused < 1000  # both kinds of document were tried


def filing() -> RegisterEvent:
    return RegisterEvent(
        record_key=RecordKey.parse("EM/TM/018123456"),
        event_code="A10",
        event_date=date(2024, 1, 15),
        record_data=TrademarkData(
            mark_verbal_element_text="Zentaro",
            nice_classes=(
                NiceClass(9, (LocalizedText("en", "Software"),)),
                NiceClass(42, (LocalizedText("en", "Hosting"), LocalizedText("de", "Hosting"))),
            ),
            applicants=(Party("Zentaro GmbH", "DE"),),
            application_date=date(2024, 1, 15),
        ),
        links=(RecordLink("priority", external_number="DE 30 2023 123 456"),),
    )


def refusal(changes: dict[str, Any], data: dict[str, Any] | None = None) -> InvalidInputError:
    document = filing().to_document() | changes
    document["record_data"] |= data or {}
    with pytest.raises(InvalidInputError) as caught:
        RegisterEvent.from_document(document)
    return caught.value


@pytest.mark.parametrize(
    ("changes", "data", "field", "message"),
    [
        # The record data is read first, then the event's fields in declaration order...
        (
            {"event_date": "15.01.2024"},
            {"application_date": "2024-02-30"},
            "record_data.application_date",
            "2024-02-30 is not a calendar date",
        ),
        ({"event_date": None, "colour": 1}, {}, "event_date", "must not be null (omit it instead)"),
        # ... then members that are not fields, then what the constructor refuses.
        ({"event_code": "G10", "colour": 1}, {}, "colour", "is not a field of RegisterEvent"),
        ({"event_code": "G10"}, {}, "event_code", "G10 does not apply to TM records"),
        ({"links": []}, {}, "links", "must not be empty (omit it instead)"),
        ({"links": {}}, {}, "links", "must be a JSON array"),
        ({"links": [{"relation": []}]}, {}, "links[0].relation", "[] is not a known link relation"),
        ({}, {"applicants": [7]}, "record_data.applicants[0]", "must be a JSON object"),
        (
            {},
            {"nice_classes": [{"class_number": 9, "descriptions": [{"language_code": "en"}]}]},
            "record_data.nice_classes[0].descriptions[0].text",
            "is required",
        ),
        (
            {},
            {
                "nice_classes": [
                    {"class_number": 9, "descriptions": [{"language_code": "en", "text": " x"}]}
                ]
            },
            "record_data.nice_classes[0].descriptions[0].text",
            "must be non-empty, without leading or trailing spaces",
        ),
        (
            {},
            {"nice_classes": [{"class_number": "9"}]},
            "record_data.nice_classes[0].descriptions",
            "is required",
        ),
    ],
)
def test_the_first_problem_in_field_order_is_reported(
    changes: dict[str, Any], data: dict[str, Any], field: str, message: str
) -> None:
    error = refusal(changes, data)
    assert (error.field, str(error)) == (field, f"{field}: {message}")


def test_record_key_errors_keep_their_class_at_any_depth() -> None:
    error = refusal({"links": [{"relation": "priority", "record_key": "de/tm/1"}]})
    assert type(error) is InvalidRecordKeyError and error.field == "links[0].record_key"
    assert str(error) == "links[0].record_key: not normalised, write DE/TM/1"
    error = refusal({"record_key": 7})
    assert type(error) is InvalidRecordKeyError
    assert str(error) == "record_key: must be a string"
