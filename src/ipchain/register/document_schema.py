"""The published JSON Schema (2020-12) of a register event document,
``ipchain/register-event/v1``: what a new office reads to write a valid event without reading
ipchain's source, and what the OpenAPI document gives as the submit endpoint's body.

The document reader (:meth:`ipchain.register.models.RegisterEvent.from_document`) remains the
authority: it also checks what a schema cannot say (a known country code, a record key in its
office's number format, a date order, a status transition, links checked across offices). The
schema is built from the same catalogues and limits, so that it does not drift from them;
``tests/test_document_schema.py`` validates the demo register and refused documents with it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from ipchain.register.catalog import event_catalog
from ipchain.register.models import MARK_FEATURE_CATEGORIES, SCHEMA, ST96_ELEMENT_NAMES

SCHEMA_ID: Final = "https://ipchain.example/schemas/register-event-v1.json"
"""The schema's ``$id`` (a name, not a fetchable address)."""

_SHORT: Final = 1_000
_LONG: Final = 100_000
_DATE: Final = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_HASH: Final = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}


def _text(limit: int = _SHORT, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": limit}
    if description:
        schema["description"] = description
    return schema


def _st96(name: str) -> str:
    return f"ST.96: {ST96_ELEMENT_NAMES[name]}"


def _object(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _party(description: str) -> dict[str, Any]:
    return _object(
        {
            "name": _text(description=_st96("Party.name")),
            "country_code": {
                "type": "string",
                "pattern": "^[A-Z]{2}$",
                "description": "ISO 3166-1 alpha-2. " + _st96("Party.country_code"),
            },
            "address": _text(description=_st96("Party.address")),
            "identifier": _text(description=_st96("Party.identifier")),
            "attestation_uid": {**_HASH, "description": "An identity attestation's uid."},
        },
        ["name", "country_code"],
        description,
    )


def _parties(description: str) -> dict[str, Any]:
    return {"type": "array", "items": _party(description)}


_LOCALIZED: Final = _object(
    {
        "language_code": {"type": "string", "pattern": "^[a-z]{2}$", "description": "ISO 639-1"},
        "text": _text(_LONG),
    },
    ["language_code", "text"],
    "A text in one language.",
)
_IMAGE: Final = _object(
    {
        "file_name": _text(255, _st96("ImageFile.file_name")),
        "sha256": {**_HASH, "description": "SHA-256 of the image file's bytes."},
    },
    ["file_name", "sha256"],
    "An image file, by name and hash (the bytes are not anchored).",
)


def _common_data() -> dict[str, Any]:
    return {
        "applicants": _parties(
            "An applicant (a holder, once registered). " + _st96("*.applicants")
        ),
        "representatives": _parties(_st96("*.representatives")),
        "application_date": {**_DATE, "description": _st96("*.application_date")},
        "registration_date": {**_DATE, "description": _st96("*.registration_date")},
        "registration_number": _text(50, _st96("*.registration_number")),
        "expiry_date": {**_DATE, "description": _st96("*.expiry_date")},
        "international_registration_number": _text(
            50, _st96("*.international_registration_number")
        ),
    }


def _trademark_data() -> dict[str, Any]:
    return _object(
        {
            "mark_verbal_element_text": _text(
                description=_st96("TrademarkData.mark_verbal_element_text")
            ),
            "mark_feature_category": {
                "enum": list(MARK_FEATURE_CATEGORIES),
                "description": _st96("TrademarkData.mark_feature_category"),
            },
            "mark_image": _IMAGE,
            "vienna_codes": {
                "type": "array",
                "items": {"type": "string", "pattern": r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}$"},
                "description": _st96("TrademarkData.vienna_codes"),
            },
            "nice_classes": {
                "type": "array",
                "description": _st96("TrademarkData.nice_classes") + ", ascending by class.",
                "items": _object(
                    {
                        "class_number": {"type": "integer", "minimum": 1, "maximum": 45},
                        "descriptions": {"type": "array", "minItems": 1, "items": _LOCALIZED},
                        "nice_edition": {"type": "string", "pattern": "^[0-9]{1,2}-[0-9]{4}$"},
                    },
                    ["class_number", "descriptions"],
                    "One Nice class with its goods or services.",
                ),
            },
            **_common_data(),
        },
        [],
        "Trademark record data (a record key with TM): the fields this event establishes.",
    )


def _design_data() -> dict[str, Any]:
    return _object(
        {
            "locarno_classes": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9]{2}-[0-9]{2}$"},
                "description": _st96("DesignData.locarno_classes"),
            },
            "product_indications": {"type": "array", "items": _LOCALIZED},
            "views": {
                "type": "array",
                "items": _object(
                    {
                        "view_number": {"type": "integer", "minimum": 1},
                        "file_name": _text(255),
                        "sha256": _HASH,
                        "title": _text(),
                    },
                    ["view_number", "file_name", "sha256"],
                    _st96("DesignData.views"),
                ),
            },
            "designers": _parties(_st96("DesignData.designers")),
            **_common_data(),
        },
        [],
        "Design record data (a record key with DS): the fields this event establishes.",
    )


@cache
def register_event_schema() -> dict[str, Any]:
    """The JSON Schema of one register event document."""
    catalog = event_catalog()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ipchain register event",
        "description": "One event of a trademark or design record, as an office submits it and "
        "as it is anchored (its RFC 8785 form hashed with SHA-256). Event codes, their "
        "status effects and the transitions they allow: GET /api/v1/event-codes.",
        "type": "object",
        "properties": {
            "schema": {"const": SCHEMA},
            "record_key": {
                "type": "string",
                "maxLength": 64,
                "pattern": "^[A-Z]{2}/(TM|DS)/[0-9A-Za-z]+$",
                "description": "{office}/{TM|DS}/{application number, normalised}: the office's "
                "number format (GET /api/v1/offices) is checked by the node.",
            },
            "event_code": {
                "enum": sorted(catalog.codes),
                "description": _st96("RegisterEvent.event_code"),
            },
            "event_date": {**_DATE, "description": _st96("RegisterEvent.event_date")},
            "effective_date": {**_DATE, "description": _st96("RegisterEvent.effective_date")},
            "record_data": {"anyOf": [_trademark_data(), _design_data()]},
            "links": {
                "type": "array",
                "items": {
                    **_object(
                        {
                            "relation": {"enum": sorted(catalog.link_relations)},
                            "record_key": {"type": "string", "maxLength": 64},
                            "external_number": _text(100),
                            "link_date": _DATE,
                        },
                        ["relation"],
                        "A link to another record (checked across offices at submission) "
                        "or to an outside number: exactly one of record_key and "
                        "external_number.",
                    ),
                    "oneOf": [
                        {"required": ["record_key"], "not": {"required": ["external_number"]}},
                        {"required": ["external_number"], "not": {"required": ["record_key"]}},
                    ],
                },
            },
            "national_code": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._-]{1,16}$",
                "description": _st96("RegisterEvent.national_code"),
            },
            "national_text": _text(description=_st96("RegisterEvent.national_text")),
            "office_reference": _text(100, "The office's own reference for the event."),
        },
        "required": ["schema", "record_key", "event_code", "event_date"],
        "additionalProperties": False,
    }


__all__ = ["SCHEMA_ID", "register_event_schema"]
