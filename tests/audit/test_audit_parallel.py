"""An audit split between worker processes finds exactly what one process finds, including rows
that moved from one worker's block range to another's."""

from __future__ import annotations

import pytest

from ipchain.verification.audit import audit
from tests.helpers.indexed_node import DESIGN, SECOND, TRADEMARK, IndexedNode
from tests.helpers.tampering import delete_row, edit_entry_hash, insert_duplicate, insert_row


def findings(node: IndexedNode, workers: int) -> tuple[set[tuple[object, ...]], object]:
    register = node.register
    report = audit(node.sessions, register.backend, register.consortium.deployment, workers=workers)
    found = {(d.record_key, d.seq, d.kind.value, d.field) for d in report.discrepancies}
    return found, report.totals


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_workers_find_what_one_process_finds(indexed: IndexedNode) -> None:
    # Worker processes are fresh interpreters (seconds to start): one split audit only.
    for tamper in (delete_row, edit_entry_hash, insert_row, insert_duplicate):
        tamper(indexed)
    # The design's only event moves to a block at the other end of the chain, into the other
    # worker's range, where it must still be paired with its entry.
    first_block = indexed.scalar("SELECT min(block_number) FROM events")
    last_block = indexed.scalar("SELECT max(block_number) FROM events")
    block = indexed.scalar("SELECT block_number FROM events WHERE record_key = :k", k=DESIGN)
    moved_to = last_block if block - first_block < last_block - block else first_block
    indexed.sql(
        "UPDATE events SET block_number = :b, log_index = 500 WHERE record_key = :k",
        b=moved_to,
        k=DESIGN,
    )
    split, split_totals = findings(indexed, workers=2)
    single, single_totals = findings(indexed, workers=1)
    assert (split, split_totals) == (single, single_totals)
    assert {
        (TRADEMARK, 2, "missing", None),
        (TRADEMARK, 3, "hash-mismatch", "entry_hash"),
        (SECOND, 3, "unanchored", None),
        (TRADEMARK, 5, "duplicate", None),
        (DESIGN, 1, "field-mismatch", "block_number"),
    } <= split
