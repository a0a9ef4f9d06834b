"""The indexer's quarantine on its own: a handler failing on the data quarantines only the logs
it fails on (batch handlers are retried log by log, per-log handlers run in savepoints), a
register record whose rows cannot be stored is quarantined with its later entries, and a
storage fault quarantines nothing — the range is rolled back whole and read again."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import pytest
from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import BlockInfo
from ipchain.contracts.bindings import DecodedLog
from ipchain.db.indexer import HandlerRegistry, IndexedLog, Indexer
from ipchain.db.register import events, quarantined_events
from ipchain.register import indexing
from ipchain.register.indexing import index_register_events, register_handlers, remove_above
from tests.helpers.consortium import Consortium
from tests.helpers.documents import to_anchor, trademark_event

DAY = datetime.date(2025, 1, 15)
pytestmark = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


def anchor(consortium: Consortium, keys: Sequence[str], code: str = "A10") -> None:
    consortium.ledger.anchor(
        consortium.signers["EM"],
        [to_anchor(trademark_event(key, code, DAY, mark="Acme")) for key in keys],
    )


def stored(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(events.c.record_key)))


def quarantine_reasons(sessions: sessionmaker[Session]) -> list[tuple[str | None, str]]:
    with sessions() as session:
        rows = session.execute(
            select(quarantined_events.c.record_key, quarantined_events.c.reason).order_by(
                quarantined_events.c.block_number, quarantined_events.c.log_index
            )
        )
        return [(key, reason) for key, reason in rows]


def test_a_batch_handler_failing_on_one_log_quarantines_only_that_log(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor(consortium, ["EM/TM/018000001", "EM/TM/018000002", "EM/TM/018000003"])

    def flaky(session: Session, logs: Sequence[IndexedLog]) -> None:
        if any(b"EM/TM/018000002" in log.log.data for log in logs):
            raise ValueError("cannot take this one")
        index_register_events(session, logs)

    registry = HandlerRegistry()
    registry.register_batch("RegisterLedger", "EventRecorded", flaky)
    registry.register_rollback(remove_above)
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, registry)
    indexer.run_once()
    assert stored(sessions) == ["EM/TM/018000001", "EM/TM/018000003"]
    [(key, reason)] = quarantine_reasons(sessions)
    assert key is None and reason == "cannot index it: ValueError: cannot take this one"
    assert indexer.checkpoint().block_number == consortium.backend.block_number()


def test_a_log_handler_failing_on_one_log_quarantines_it_and_goes_on(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor(consortium, ["EM/TM/018000001", "EM/TM/018000002", "EM/TM/018000003"])
    seen: list[str] = []

    def handler(session: Session, log: DecodedLog, block: BlockInfo) -> None:
        key = log.args["recordKey"]
        if key == "EM/TM/018000002":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        seen.append(key)

    registry = HandlerRegistry()
    registry.register("RegisterLedger", "EventRecorded", handler)
    Indexer(consortium.backend, consortium.deployment, sessions, registry).run_once()
    assert seen == ["EM/TM/018000001", "EM/TM/018000003"]
    [(_, reason)] = quarantine_reasons(sessions)
    assert reason.startswith("cannot index it: UnicodeEncodeError")


def test_a_record_whose_rows_cannot_be_stored_is_quarantined_with_its_later_entries(
    consortium: Consortium, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    anchor(consortium, ["EM/TM/018000001", "EM/TM/018000002"])
    real = indexing.store_entries

    def refusing(session: Session, entries: Sequence[object], timestamps: object) -> None:
        if any(getattr(e, "record_key", None) == "EM/TM/018000002" for e in entries):
            raise exc.DataError("INSERT", {}, ValueError("value refused by the database"))
        real(session, entries, timestamps)  # type: ignore[arg-type]

    monkeypatch.setattr(indexing, "store_entries", refusing)
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, register_handlers())
    indexer.run_once()
    monkeypatch.setattr(indexing, "store_entries", real)
    assert stored(sessions) == ["EM/TM/018000001"]
    [(key, reason)] = quarantine_reasons(sessions)
    assert key == "EM/TM/018000002" and "value refused by the database" in reason

    # Its next entry cannot be stored without a gap in its history: quarantined too.
    anchor(consortium, ["EM/TM/018000001", "EM/TM/018000002"], code="Q10")
    indexer.run_once()
    assert stored(sessions) == ["EM/TM/018000001", "EM/TM/018000001"]
    reasons = quarantine_reasons(sessions)
    assert len(reasons) == 2
    assert reasons[1][0] == "EM/TM/018000002"
    assert reasons[1][1].startswith("its record has a quarantined entry: entry 0x")


def test_quarantined_logs_are_indexed_again_once_the_node_can_read_them(
    consortium: Consortium, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ipchain index retry-quarantined``: after an upgrade, the quarantined logs go through
    the handlers again in chain order; those that still fail stay quarantined."""
    anchor(consortium, ["EM/TM/018000001", "EM/TM/018000002", "EM/TM/018000003"])
    anchor(consortium, ["EM/TM/018000002", "EM/TM/018000003"], code="Q10")
    real = indexing.store_entries
    refused = {"EM/TM/018000002", "EM/TM/018000003"}

    def refusing(session: Session, entries: Sequence[object], timestamps: object) -> None:
        if any(getattr(e, "record_key", None) in refused for e in entries):
            raise exc.DataError("INSERT", {}, ValueError("value refused by the database"))
        real(session, entries, timestamps)  # type: ignore[arg-type]

    monkeypatch.setattr(indexing, "store_entries", refusing)
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, register_handlers())
    indexer.run_once()
    assert stored(sessions) == ["EM/TM/018000001"]
    assert len(quarantine_reasons(sessions)) == 4
    head = indexer.checkpoint()

    refused = {"EM/TM/018000003"}  # "the upgrade" reads one record now, not the other
    outcome = indexer.retry_quarantined()
    assert (outcome.quarantined, outcome.retried, outcome.still_quarantined) == (4, 4, 2)
    assert outcome.indexed == 2
    assert stored(sessions) == ["EM/TM/018000001", "EM/TM/018000002", "EM/TM/018000002"]
    assert [key for key, _ in quarantine_reasons(sessions)] == [
        "EM/TM/018000003",
        "EM/TM/018000003",
    ]
    assert indexer.checkpoint() == head  # the retry does not move the index

    monkeypatch.setattr(indexing, "store_entries", real)
    outcome = indexer.retry_quarantined()
    assert (outcome.retried, outcome.still_quarantined) == (2, 0)
    assert quarantine_reasons(sessions) == []
    with sessions() as session:
        seqs = session.execute(
            select(events.c.record_key, events.c.seq).order_by(events.c.record_key, events.c.seq)
        ).all()
    assert [tuple(row) for row in seqs] == [
        ("EM/TM/018000001", 1),
        ("EM/TM/018000002", 1),
        ("EM/TM/018000002", 2),
        ("EM/TM/018000003", 1),
        ("EM/TM/018000003", 2),
    ]
    assert indexer.retry_quarantined().quarantined == 0


def test_a_storage_fault_quarantines_nothing_and_the_range_is_read_again(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor(consortium, ["EM/TM/018000001", "EM/TM/018000002"])
    failing = True

    def storage(session: Session, logs: Sequence[IndexedLog]) -> None:
        index_register_events(session, logs)
        if failing:
            raise exc.OperationalError("COMMIT", {}, OSError(28, "database or disk is full"))

    registry = HandlerRegistry()
    registry.register_batch("RegisterLedger", "EventRecorded", storage)
    registry.register_rollback(remove_above)
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, registry)
    before = indexer.checkpoint()
    with pytest.raises(exc.OperationalError):
        indexer.run_once()
    assert indexer.checkpoint() == before
    assert stored(sessions) == [] and quarantine_reasons(sessions) == []
    failing = False
    indexer.run_once()
    assert stored(sessions) == ["EM/TM/018000001", "EM/TM/018000002"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(quarantined_events)) == 0
