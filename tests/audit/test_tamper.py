"""Done-when of the auditors issue: for each kind of stored field, modify the database directly,
and both the full audit (``audit()`` and ``ipchain audit``) and ``GET .../verify`` catch it,
naming the record and the event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ipchain.cli.audit import EXIT_DISCREPANCIES, EXIT_PASSED, run_audit
from ipchain.encoding import canonical_bytes, entry_hash, event_code_bytes8, record_id
from ipchain.verification.audit import AuditReport, DiscrepancyKind, audit
from tests.audit.conftest import DESIGN, HASH_ONLY, SECOND, TRADEMARK, IndexedNode

FAKE_HASH = bytes.fromhex("ab" * 32)
COPY_HASH = bytes.fromhex("cd" * 32)


def run_audit_of(node: IndexedNode) -> AuditReport:
    register = node.register
    return audit(node.sessions, register.backend, register.consortium.deployment)


def _where(record_key: str, seq: int) -> str:
    return f"record_key = '{record_key}' AND seq = {seq}"


# --- tampering, one kind of stored field each ----------------------------------------------


def edit_document(node: IndexedNode) -> None:
    node.sql(
        "UPDATE events SET document = replace(document, '\"Acme\"', '\"Acne\"') WHERE "
        + _where(TRADEMARK, 1)
    )


def edit_document_hash(node: IndexedNode) -> None:
    node.sql("UPDATE events SET document_hash = :h WHERE " + _where(TRADEMARK, 2), h=FAKE_HASH)


def edit_document_and_its_hash(node: IndexedNode) -> None:
    """The document changed and its stored hash made to match: only the chain tells."""
    document = json.loads(node.scalar("SELECT document FROM events WHERE " + _where(SECOND, 1)))
    document["record_data"]["mark_verbal_element_text"] = "Zenit"
    text = canonical_bytes(document)
    node.sql(
        "UPDATE events SET document = :d, document_hash = :h WHERE " + _where(SECOND, 1),
        d=text.decode(),
        h=hashlib.sha256(text).digest(),
    )


def edit_event_code(node: IndexedNode) -> None:
    node.sql("UPDATE events SET event_code = 'Q11' WHERE " + _where(TRADEMARK, 2))


def edit_event_date(node: IndexedNode) -> None:
    node.sql("UPDATE events SET event_date = '2024-03-21' WHERE " + _where(TRADEMARK, 2))


def edit_effective_date(node: IndexedNode) -> None:
    node.sql("UPDATE events SET effective_date = NULL WHERE " + _where(TRADEMARK, 3))


def edit_block_timestamp(node: IndexedNode) -> None:
    node.sql(
        "UPDATE events SET block_timestamp = block_timestamp - 86400 WHERE " + _where(DESIGN, 1)
    )


def edit_national_code(node: IndexedNode) -> None:
    node.sql("UPDATE events SET national_code = 'PUB-2' WHERE " + _where(TRADEMARK, 2))


def swap_order(node: IndexedNode) -> None:
    node.sql("UPDATE events SET seq = 99 WHERE " + _where(TRADEMARK, 2))
    node.sql("UPDATE events SET seq = 2 WHERE " + _where(TRADEMARK, 3))
    node.sql("UPDATE events SET seq = 3 WHERE " + _where(TRADEMARK, 99))


def edit_office(node: IndexedNode) -> None:
    node.sql("UPDATE events SET office = 'AU' WHERE " + _where(SECOND, 1))


def edit_entry_hash(node: IndexedNode) -> None:
    node.sql("UPDATE events SET entry_hash = :h WHERE " + _where(TRADEMARK, 3), h=FAKE_HASH)


def edit_prev_entry_hash(node: IndexedNode) -> None:
    node.sql("UPDATE events SET prev_entry_hash = :h WHERE " + _where(SECOND, 2), h=FAKE_HASH)


def edit_signer(node: IndexedNode) -> None:
    outsider = node.register.consortium.outsider.address
    node.sql("UPDATE events SET signer = :s WHERE " + _where(DESIGN, 1), s=outsider)


def edit_hash_only_document_hash(node: IndexedNode) -> None:
    node.sql("UPDATE events SET document_hash = :h WHERE " + _where(HASH_ONLY, 1), h=FAKE_HASH)


def delete_row(node: IndexedNode) -> None:
    node.sql("DELETE FROM events WHERE " + _where(TRADEMARK, 2))


def delete_head(node: IndexedNode) -> None:
    node.sql("DELETE FROM events WHERE " + _where(TRADEMARK, 4))


def insert_row(node: IndexedNode) -> None:
    """A fabricated third event of SECOND, hash-linked as the chain would link it."""
    head = node.scalar("SELECT entry_hash FROM events WHERE " + _where(SECOND, 2))
    document = {
        "schema": "ipchain/register-event/v1",
        "record_key": SECOND,
        "event_code": "H10",
        "event_date": "2024-09-01",
    }
    text = canonical_bytes(document)
    digest = hashlib.sha256(text).digest()
    fabricated = entry_hash(record_id(SECOND), 3, event_code_bytes8("H10"), digest, head, "EM")
    node.sql(
        "INSERT INTO events SELECT :entry, record_key, 3, 'H10', NULL, '2024-09-01', NULL, :doc,"
        " :digest, entry_hash, office, signer, block_number, block_hash, transaction_hash,"
        " log_index + 100, block_timestamp FROM events WHERE " + _where(SECOND, 2),
        entry=fabricated,
        doc=text.decode(),
        digest=digest,
    )


def insert_duplicate(node: IndexedNode) -> None:
    """A second copy of the record's first event, appended as a fifth event."""
    head = node.scalar("SELECT entry_hash FROM events WHERE " + _where(TRADEMARK, 4))
    node.sql(
        "INSERT INTO events SELECT :entry, record_key, 5, event_code, national_code, event_date,"
        " effective_date, document, document_hash, :prev, office, signer, block_number,"
        " block_hash, transaction_hash, log_index + 100, block_timestamp FROM events WHERE "
        + _where(TRADEMARK, 1),
        entry=COPY_HASH,
        prev=head,
    )


def edit_record_head(node: IndexedNode) -> None:
    node.sql(f"UPDATE records SET event_count = 3 WHERE record_key = '{TRADEMARK}'")


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
    assert set(events.c.keys()) <= covered


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
