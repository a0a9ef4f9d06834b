"""Ways to tamper with an office node's database behind its back, for the audit tests."""

from __future__ import annotations

import hashlib
import json

from ipchain.encoding import canonical_bytes, entry_hash, event_code_bytes8, record_id
from ipchain.verification.audit import AuditReport, audit
from tests.helpers.indexed_node import DESIGN, HASH_ONLY, SECOND, TRADEMARK, IndexedNode

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


def edit_document_bytes(node: IndexedNode) -> None:
    """The byte form of a document (kept for documents that cannot be text) set beside the
    text: it is what the row claims then."""
    node.sql(
        "UPDATE events SET document_bytes = :b WHERE " + _where(TRADEMARK, 1),
        b=b'{"schema":"forged"}\x00',
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


_EVENT_COLUMNS = (
    "entry_hash, record_key, seq, event_code, national_code, event_date, effective_date,"
    " document, document_hash, prev_entry_hash, office, signer, block_number, block_hash,"
    " transaction_hash, log_index, block_timestamp"
)
"""The events columns the fabricating inserts fill, named (later columns keep their default)."""


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
        f"INSERT INTO events ({_EVENT_COLUMNS})"
        " SELECT :entry, record_key, 3, 'H10', NULL, '2024-09-01', NULL, :doc,"
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
        f"INSERT INTO events ({_EVENT_COLUMNS})"
        " SELECT :entry, record_key, 5, event_code, national_code, event_date,"
        " effective_date, document, document_hash, :prev, office, signer, block_number,"
        " block_hash, transaction_hash, log_index + 100, block_timestamp FROM events WHERE "
        + _where(TRADEMARK, 1),
        entry=COPY_HASH,
        prev=head,
    )


def edit_record_head(node: IndexedNode) -> None:
    node.sql(f"UPDATE records SET event_count = 3 WHERE record_key = '{TRADEMARK}'")
