"""Done-when of the auditors issue: for each kind of stored field, modify the database directly,
and both the full audit (``audit()`` and ``ipchain audit``) and ``GET .../verify`` catch it,
naming the record and the event."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ipchain.cli.audit import EXIT_DISCREPANCIES, EXIT_PASSED, run_audit
from ipchain.verification.audit import DiscrepancyKind, audit
from tests.helpers.indexed_node import DESIGN, HASH_ONLY, SECOND, TRADEMARK, IndexedNode
from tests.helpers.tampering import (
    FAKE_HASH,
    _where,
    delete_head,
    delete_row,
    edit_block_timestamp,
    edit_document,
    edit_document_and_its_hash,
    edit_document_bytes,
    edit_document_hash,
    edit_effective_date,
    edit_entry_hash,
    edit_event_code,
    edit_event_date,
    edit_hash_only_document_hash,
    edit_national_code,
    edit_office,
    edit_prev_entry_hash,
    edit_record_head,
    edit_signer,
    insert_duplicate,
    insert_row,
    run_audit_of,
    swap_order,
)


@dataclass(frozen=True)
class Case:
    tamper: Callable[[IndexedNode], None]
    record_key: str
    seq: int | None
    kind: DiscrepancyKind
    field: str | None
    verdict: str  # of the event in GET .../verify


K = DiscrepancyKind
CASES = {
    "document body": Case(edit_document, TRADEMARK, 1, K.DOCUMENT_TAMPERED, "document", "tampered"),
    "document bytes": Case(
        edit_document_bytes, TRADEMARK, 1, K.DOCUMENT_TAMPERED, "document", "tampered"
    ),
    "document hash": Case(
        edit_document_hash, TRADEMARK, 2, K.HASH_MISMATCH, "document_hash", "tampered"
    ),
    "document and its hash": Case(
        edit_document_and_its_hash, SECOND, 1, K.DOCUMENT_TAMPERED, "document", "tampered"
    ),
    "hash-only document hash": Case(
        edit_hash_only_document_hash, HASH_ONLY, 1, K.HASH_MISMATCH, "document_hash", "tampered"
    ),
    "event code": Case(edit_event_code, TRADEMARK, 2, K.FIELD_MISMATCH, "event_code", "tampered"),
    "event date": Case(edit_event_date, TRADEMARK, 2, K.FIELD_MISMATCH, "event_date", "tampered"),
    "effective date": Case(
        edit_effective_date, TRADEMARK, 3, K.FIELD_MISMATCH, "effective_date", "tampered"
    ),
    "anchoring time": Case(
        edit_block_timestamp, DESIGN, 1, K.FIELD_MISMATCH, "block_timestamp", "tampered"
    ),
    "national code": Case(
        edit_national_code, TRADEMARK, 2, K.FIELD_MISMATCH, "national_code", "tampered"
    ),
    "order": Case(swap_order, TRADEMARK, 2, K.OUT_OF_ORDER, "seq", "out-of-order"),
    "office": Case(edit_office, SECOND, 1, K.FIELD_MISMATCH, "office", "tampered"),
    "signer": Case(edit_signer, DESIGN, 1, K.FIELD_MISMATCH, "signer", "tampered"),
    "entry hash": Case(edit_entry_hash, TRADEMARK, 3, K.HASH_MISMATCH, "entry_hash", "tampered"),
    "previous entry hash": Case(
        edit_prev_entry_hash, SECOND, 2, K.FIELD_MISMATCH, "prev_entry_hash", "tampered"
    ),
    "deleted row": Case(delete_row, TRADEMARK, 2, K.MISSING, None, "missing"),
    "deleted head": Case(delete_head, TRADEMARK, 4, K.MISSING, None, "missing"),
    "inserted row": Case(insert_row, SECOND, 3, K.UNANCHORED, None, "unanchored"),
    "inserted copy": Case(insert_duplicate, TRADEMARK, 5, K.DUPLICATE, None, "unanchored"),
    "records row": Case(edit_record_head, TRADEMARK, None, K.FIELD_MISMATCH, "event_count", ""),
}
ON_POSTGRESQL = ("document body", "event date", "order", "deleted row", "inserted row")


def _cases() -> list[object]:
    params = []
    for name, case in CASES.items():
        for database in ("sqlite", "postgresql"):
            if database == "postgresql" and name not in ON_POSTGRESQL:
                continue
            params.append(pytest.param(case, database, id=f"{name}-{database}"))
    return params


@pytest.mark.parametrize(("case", "database_url"), _cases(), indirect=["database_url"])
def test_tampering_is_caught_by_audit_cli_and_api(
    case: Case,
    indexed: IndexedNode,
    api: TestClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case.tamper(indexed)

    report = run_audit_of(indexed)
    assert not report.ok
    named = [
        item
        for item in report.discrepancies
        if (item.record_key, item.seq, item.kind) == (case.record_key, case.seq, case.kind)
    ]
    assert named, [(d.record_key, d.seq, d.kind.value, d.detail) for d in report.discrepancies]
    assert named[0].field == case.field
    # Nothing else is blamed: every discrepancy is about the tampered record.
    assert {item.record_key for item in report.discrepancies} == {case.record_key}

    report_path = tmp_path / "audit.json"
    code = run_audit(indexed.settings, report_path)
    out, err = capsys.readouterr()
    assert (code, err) == (EXIT_DISCREPANCIES, "")
    assert "AUDIT FAILED" in out and "PASSED" not in out
    assert case.record_key in out and case.kind.value in out
    written = json.loads(report_path.read_text())
    assert written["ok"] is False
    assert {
        "record_key": case.record_key,
        "seq": case.seq,
        "kind": case.kind.value,
        "field": case.field,
    }.items() <= next(
        item
        for item in written["discrepancies"]
        if (item["record_key"], item["seq"], item["kind"])
        == (case.record_key, case.seq, case.kind.value)
    ).items()

    office, ip_type, number = case.record_key.split("/")
    answer = api.get(f"/api/v1/records/{office}/{ip_type}/{number}/verify")
    assert answer.status_code == 200
    result = answer.json()
    assert (result["ok"], result["verdict"]) == (False, "failed")
    assert any(
        (item["seq"], item["kind"]) == (case.seq, case.kind.value)
        for item in result["discrepancies"]
    )
    if case.seq is not None:
        event = next(e for e in result["events"] if e["seq"] == case.seq)
        assert event["verdict"] == case.verdict, event
        assert case.kind.value in {item["kind"] for item in event["discrepancies"]}


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_clean_database_passes(
    indexed: IndexedNode, api: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_audit_of(indexed)
    assert report.ok, report.discrepancies
    totals = report.totals
    assert (totals.anchored_events, totals.stored_events, totals.verified_events) == (8, 8, 8)
    assert (totals.documents_rehashed, totals.records, totals.stored_records) == (7, 4, 4)
    assert report.to_block == indexed.register.backend.block_number()

    code = run_audit(indexed.settings, None, as_json=True)
    out, err = capsys.readouterr()
    assert (code, err) == (EXIT_PASSED, "")
    assert json.loads(out)["ok"] is True
    code = run_audit(indexed.settings, tmp_path / "report.json")
    out, _ = capsys.readouterr()
    assert code == EXIT_PASSED and "AUDIT PASSED: all 8 stored events" in out

    for record_key, count in ((TRADEMARK, 4), (SECOND, 2), (DESIGN, 1), (HASH_ONLY, 1)):
        result = api.get(f"/api/v1/records/{record_key}/verify").json()
        assert (result["ok"], result["head_seq"], result["stored_events"]) == (True, count, count)
        assert [event["verdict"] for event in result["events"]] == ["verified"] * count


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_record_key_moved_to_another_record(indexed: IndexedNode, api: TestClient) -> None:
    """An event moved to another record: the audit names the field; the record it left shows
    the event missing, the record it joined shows an event the chain does not have."""
    indexed.sql("UPDATE events SET record_key = :k WHERE " + _where(TRADEMARK, 4), k=SECOND)
    found = {(d.record_key, d.seq, d.kind, d.field) for d in run_audit_of(indexed).discrepancies}
    assert (TRADEMARK, 4, K.FIELD_MISMATCH, "record_key") in found
    left = api.get(f"/api/v1/records/{TRADEMARK}/verify").json()
    assert [event["verdict"] for event in left["events"]][-1] == "missing"
    joined = api.get(f"/api/v1/records/{SECOND}/verify").json()
    assert joined["ok"] is False
    assert joined["events"][-1]["verdict"] == "unanchored"


def test_every_events_column_has_a_tamper_case() -> None:
    """A column added to ``events`` must get a check, and a case here."""
    from ipchain.db.register import events

    covered = {case.field for case in CASES.values()} | set(POSITION_COLUMNS) | {"record_key"}
    # Columns whose tampering is reported under another field's name, by their case.
    covered |= {column for column, name in REPORTED_AS.items() if name in CASES}
    assert set(events.c.keys()) <= covered


REPORTED_AS = {"document_bytes": "document bytes"}
"""``document_bytes`` is the document when it cannot be text: tampering it is ``document``."""


POSITION_COLUMNS = ("block_hash", "transaction_hash", "log_index", "block_number")


@pytest.mark.parametrize("column", POSITION_COLUMNS)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_chain_position_columns(indexed: IndexedNode, column: str) -> None:
    value: object = FAKE_HASH if column.endswith("hash") else 77
    indexed.sql(f"UPDATE events SET {column} = :v WHERE " + _where(DESIGN, 1), v=value)
    report = run_audit_of(indexed)
    assert [(d.record_key, d.seq, d.kind, d.field) for d in report.discrepancies] == [
        (DESIGN, 1, K.FIELD_MISMATCH, column)
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_values_the_database_type_would_refuse(indexed: IndexedNode) -> None:
    """SQLite keeps what it is given: an invalid date or a text seq is reported, not fatal."""
    indexed.sql("UPDATE events SET event_date = 'not a date' WHERE " + _where(TRADEMARK, 2))
    indexed.sql("UPDATE events SET seq = 'two' WHERE " + _where(SECOND, 2))
    report = run_audit_of(indexed)
    found = {(d.record_key, d.seq, d.kind, d.field) for d in report.discrepancies}
    assert (TRADEMARK, 2, K.FIELD_MISMATCH, "event_date") in found
    assert (SECOND, 2, K.OUT_OF_ORDER, "seq") in found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_report_lists_a_bounded_number(indexed: IndexedNode) -> None:
    indexed.sql("UPDATE events SET event_code = 'Z99'")
    register = indexed.register
    report = audit(indexed.sessions, register.backend, register.consortium.deployment, max_listed=3)
    assert len(report.discrepancies) == 3
    assert report.discrepancy_total == report.discrepancy_counts["field-mismatch"] == 8
    assert report.to_json()["discrepancies_listed"] == 3
