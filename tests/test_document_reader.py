"""Register event documents are read by a quick pass and, only when it fails, a careful one that
names the first problem. Both must accept exactly the same documents and build the same events,
or an invalid document could slip through (or a valid one be refused) on the quick path."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ipchain.errors import InvalidInputError
from ipchain.register.demo_data import generate_demo_events
from ipchain.register.documents import NotQuickError
from ipchain.register.models import RegisterEvent, _read_event

# Values that are wrong (or right) somewhere in a document: types, blanks, dates, codes, keys.
REPLACEMENTS: list[object] = [
    None, "", " x", "x", 0, -1, 1, True, 46, 9, "9", 3.5, [], {}, [1], ["x"], [{}], {"a": 1},
    "2024-02-30", "2024-01-15", "2024-1-15", "EM/TM/1", "em/tm/1", "EM/TM/018 123", "XX", "GB",
    "en", "EN", "Word", "A10", "X99", "G10", "priority", "0x" + "ab" * 32, "a\x01b", "x" * 1001,
    "06-01", "26.04.04", "EM/DS/0123456780001", "AU/TM/1480001", "12-2025",
    [{"language_code": "en", "text": "x"}], [{"name": "A", "country_code": "GB"}],
]  # fmt: skip
EXTRA_NAMES = ["extra", "aaa", "schema", "name", "text", "record_key", "links"]


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
    """``document`` with one to three members replaced, deleted or added."""
    document = copy.deepcopy(document)
    for _ in range(generator.choice([1, 1, 2, 3])):
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


def outcome(document: dict[str, Any], *, quickly: bool) -> object:
    try:
        return _read_event(document, quickly=quickly)
    except NotQuickError:
        return "refused"
    except InvalidInputError as error:
        return "refused" if quickly else (type(error), error.field, str(error))


def test_valid_documents_take_the_quick_path(documents: list[dict[str, Any]]) -> None:
    for document in documents:
        event = _read_event(document, quickly=True)
        assert event == _read_event(document, quickly=False)
        assert event.to_document() == document


@pytest.mark.parametrize("seed", range(3))
def test_quick_and_careful_readers_agree_on_bad_documents(
    documents: list[dict[str, Any]], seed: int
) -> None:
    generator = random.Random(seed)
    refused = 0
    for _ in range(1000):
        document = mutated(generator.choice(documents), generator)
        careful = outcome(document, quickly=False)
        quick = outcome(document, quickly=True)
        if isinstance(careful, RegisterEvent):
            assert quick == careful, document
            assert RegisterEvent.from_document(document) == careful
        else:
            refused += 1
            assert quick == "refused", document
            with pytest.raises(InvalidInputError) as caught:
                RegisterEvent.from_document(document)
            assert (type(caught.value), caught.value.field, str(caught.value)) == careful
    assert 500 < refused < 1000  # both kinds of document were tried
