"""Register events and documents: model events to anchor (``trademark_event``,
``design_event``, ``to_anchor``) and JSON documents to submit through the API
(``event_document``, ``body``)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from ipchain.encoding import canonical_bytes, document_hash
from ipchain.register.catalog import RecordKey
from ipchain.register.ledger import EventToAnchor
from ipchain.register.models import (
    DesignData,
    LocalizedText,
    NiceClass,
    Party,
    RegisterEvent,
    TrademarkData,
)


def trademark_event(
    record_key: str,
    code: str,
    day: datetime.date,
    *,
    mark: str | None = None,
    nice: tuple[int, ...] = (),
    **data: Any,
) -> RegisterEvent:
    """A valid trademark event; record data only when some is given."""
    fields: dict[str, Any] = dict(data)
    if mark is not None:
        fields["mark_verbal_element_text"] = mark
        fields["mark_feature_category"] = "Word"
    if nice:
        fields["nice_classes"] = tuple(
            NiceClass(number, (LocalizedText("en", f"goods of class {number}"),)) for number in nice
        )
    if code.startswith("A"):
        fields.setdefault("applicants", (Party("Acme Ltd", "GB"),))
        fields.setdefault("application_date", day)
    return RegisterEvent(
        record_key=RecordKey.parse(record_key),
        event_code=code,
        event_date=day,
        record_data=TrademarkData(**fields) if fields else None,
    )


def design_event(
    record_key: str, code: str, day: datetime.date, *, locarno: tuple[str, ...], product: str
) -> RegisterEvent:
    """A valid design filing or update."""
    return RegisterEvent(
        record_key=RecordKey.parse(record_key),
        event_code=code,
        event_date=day,
        record_data=DesignData(
            locarno_classes=locarno,
            product_indications=(LocalizedText("en", product),),
            application_date=day if code.startswith("A") else None,
        ),
    )


def to_anchor(event: RegisterEvent) -> EventToAnchor:
    """The event with its canonical document, ready for Ledger.anchor."""
    document = event.to_document()
    return EventToAnchor(
        str(event.record_key), event.event_code, document_hash(document), canonical_bytes(document)
    )


def event_document(
    record_key: str,
    code: str = "A10",
    day: str = "2025-01-15",
    *,
    mark: str | None = "NORDLICHT",
    nice: tuple[int, ...] = (9, 42),
) -> dict[str, Any]:
    """A register event document: a trademark filing (``A10``) with data, or a later event."""
    document: dict[str, Any] = {
        "schema": "ipchain/register-event/v1",
        "record_key": record_key,
        "event_code": code,
        "event_date": day,
    }
    if code.startswith("A"):
        data: dict[str, Any] = {
            "applicants": [{"name": "Nordlicht GmbH", "country_code": "DE"}],
            "application_date": day,
            "nice_classes": [
                {"class_number": n, "descriptions": [{"language_code": "en", "text": f"goods {n}"}]}
                for n in nice
            ],
        }
        if mark is not None:
            data["mark_verbal_element_text"] = mark
            data["mark_feature_category"] = "Word"
        document["record_data"] = data
    return document


def body(documents: list[dict[str, Any]]) -> bytes:
    """A batch request body."""
    return json.dumps({"events": documents}).encode("utf-8")
