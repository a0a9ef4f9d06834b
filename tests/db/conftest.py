"""Index databases for the tests: SQLite always, PostgreSQL when IPCHAIN_TEST_POSTGRES_URL is set.

Each PostgreSQL test gets a schema of its own (dropped afterwards), so tests never see each
other's rows even when they run against one shared server.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ipchain.db.base import make_engine, session_factory, upgrade
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
from tests.conftest import empty_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not migrated)."""
    with empty_database(request.param, tmp_path, "test") as url:
        yield url


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a migrated database."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


# --- register event documents ----------------------------------------------------------------


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
