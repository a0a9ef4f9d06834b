"""The published JSON Schema of a register event document agrees with the document reader:
every document of the demo register (trademarks and designs, every event code it uses, links)
is valid under it, and documents the reader refuses for their shape are refused by it too."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from ipchain.errors import InvalidInputError
from ipchain.register.demo_data import generate_demo_events
from ipchain.register.document_schema import register_event_schema
from ipchain.register.models import RegisterEvent
from tests.helpers.documents import event_document


@pytest.fixture(scope="module")
def validator() -> Any:
    # Building the validator checks the schema itself against the 2020-12 meta-schema.
    return jsonschema_rs.Draft202012Validator(register_event_schema(), validate_formats=True)


def test_the_demo_register_is_valid_under_the_schema(validator: Any) -> None:
    events = generate_demo_events(["AU", "EM", "RU", "WO"], 60)
    codes = set()
    for event in events:
        document = event.to_document()
        errors = [error.message for error in validator.iter_errors(document)]
        assert not errors, (document, errors)
        codes.add(event.event_code)
    assert len(codes) > 10 and any(event.links for event in events)


REFUSED = {
    "unknown member": {"colour": "blue"},
    "date not ISO": {"event_date": "14/03/2025"},
    "unknown event code": {"event_code": "Z99"},
    "wrong schema": {"schema": "ipchain/register-event/v2"},
    "record key shape": {"record_key": "EM-TM-1"},
    "Nice class out of range": {
        "record_data": {
            "nice_classes": [
                {"class_number": 46, "descriptions": [{"language_code": "en", "text": "x"}]}
            ]
        }
    },
    "link with both targets": {
        "links": [{"relation": "priority", "record_key": "AU/TM/1", "external_number": "1"}]
    },
    "unknown relation": {"links": [{"relation": "cousin", "external_number": "1"}]},
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_documents_the_reader_refuses_are_refused_by_the_schema(validator: Any, case: str) -> None:
    document: dict[str, Any] = {**event_document("EM/TM/018000001"), **REFUSED[case]}
    with pytest.raises(InvalidInputError):
        RegisterEvent.from_document(document)
    assert not validator.is_valid(document), case


def test_every_submit_example_in_the_openapi_document_is_valid(validator: Any) -> None:
    from api.routes.offices import _SUBMIT_EXAMPLES

    assert {
        "filing",
        "examination",
        "publication",
        "opposition",
        "registration",
        "renewal",
        "transfer",
        "batch",
        "priority-claim",
    } <= set(_SUBMIT_EXAMPLES)
    for name, example in _SUBMIT_EXAMPLES.items():
        value = example["value"]
        for document in value.get("events", [value]):
            assert not list(validator.iter_errors(document)), name
            RegisterEvent.from_document(document)  # the reader accepts it too
