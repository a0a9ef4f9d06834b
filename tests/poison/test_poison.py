"""Untrusted chain content never stops a node.

A member office's signer key (EM's, a rogue office here) writes straight to RegisterLedger —
no API, no ipchain node — documents with NUL bytes, invalid UTF-8, a 1 MB string, deeply
nested and non-canonical JSON, unknown fields, an unknown event code, a record key with no
ST.13 form, events the status machine refuses, and entries no index can hold (record keys and
event codes with NUL, not UTF-8, not ASCII). Another office's node (AU's), on SQLite and on
PostgreSQL, keeps indexing the events other offices anchor after the poison, flags or
quarantines each poison event as it should, says ``degraded`` with the counts on ``/health``,
logs one line per quarantined event, and its audit passes over the rest and names the
quarantined ones.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ipchain.contracts.bindings import send_and_confirm
from ipchain.db.register import event_flags, events, quarantined_events, records
from ipchain.encoding import ZERO_HASH, canonical_bytes, entry_hash, keccak
from ipchain.keys import OfficeKey
from ipchain.register.ledger import Ledger
from ipchain.verification.audit import audit
from tests.helpers.documents import event_document, to_anchor, trademark_event
from tests.helpers.nodes import RunningNode

_WORD = 32
_DAY = datetime.date(2025, 3, 1)


@dataclass
class Poison:
    """One entry written straight to RegisterLedger, and what the node must make of it."""

    name: str
    key: bytes
    code: bytes
    document: bytes
    flags: set[str] = field(default_factory=set)
    """The flags the indexed event must carry (exactly)."""
    quarantined: str | None = None
    """A part of the quarantine reason, when the entry must be quarantined."""
    follows: str | None = None
    """The poison (by name) this entry follows in its record's history."""


def _doc(document: dict[str, Any]) -> bytes:
    return canonical_bytes(document)


def _filing(key: str, **changes: Any) -> dict[str, Any]:
    document = event_document(key)
    document.update(changes)
    return document


def poisons() -> list[Poison]:
    deep = b"[" * 100_000 + b"]" * 100_000
    nested: dict[str, Any] = _filing("EM/TM/901000011")
    inner: Any = "bottom"
    for _ in range(300):
        inner = {"x": inner}
    nested["record_data"]["deep"] = inner
    with_nul = _filing("EM/TM/901000002", national_code="N\u0000")
    with_nul["record_data"]["mark_verbal_element_text"] = "ACME\u0000CORP"
    unknown = _filing("EM/TM/901000007", surprise=1)
    unknown["record_data"]["colour_of_the_day"] = "blue"
    valid_f10 = _doc(
        {
            "schema": "ipchain/register-event/v1",
            "record_key": "EM/TM/901000010",
            "event_code": "F10",
            "event_date": "2025-02-01",
        }
    )
    return [
        Poison(
            "NUL byte in the document",
            b"EM/TM/901000001",
            b"A10",
            b'{"schema":"ipchain/register-event/v1","note":"a\x00b"}',
            {"document-not-text"},
        ),
        Poison(
            "NUL characters in values",
            b"EM/TM/901000002",
            b"A10",
            _doc(with_nul),
            {"nul-character"},
        ),
        Poison(
            "invalid UTF-8 document",
            b"EM/TM/901000003",
            b"A10",
            b'{"schema":"\xff\xfe"}',
            {"document-not-text"},
        ),
        Poison(
            "1 MB string",
            b"EM/TM/901000004",
            b"A10",
            _doc(_filing("EM/TM/901000004", national_text="M" * 1_000_000)),
            {"document-oversized"},
        ),
        Poison(
            "deeply nested JSON",
            b"EM/TM/901000005",
            b"A10",
            deep,
            {"document-unreadable", "document-oversized"},
        ),
        Poison(
            "deeply nested record data",
            b"EM/TM/901000011",
            b"A10",
            _doc(nested),
            {"document-unreadable"},
        ),
        Poison(
            "non-canonical JSON",
            b"EM/TM/901000006",
            b"A10",
            json.dumps(_filing("EM/TM/901000006"), indent=1).encode(),
            {"document-not-canonical"},
        ),
        Poison("unknown fields", b"EM/TM/901000007", b"A10", _doc(unknown), {"unknown-fields"}),
        Poison(
            "unknown event code",
            b"EM/TM/901000008",
            b"Z99",
            _doc({**_filing("EM/TM/901000008"), "event_code": "Z99"}),
            {"unknown-event-code"},
        ),
        Poison(
            "record key with no ST.13 form",
            b"EM/TM/not a number!",
            b"A10",
            _doc(_filing("EM/TM/not a number!")),
            {"record-key-not-st13"},
        ),
        Poison(
            "registration before filing",
            b"EM/TM/901000010",
            b"F10",
            valid_f10,
            {"status-transition"},
        ),
        Poison(
            "filing after registration",
            b"EM/TM/901000010",
            b"A10",
            _doc(_filing("EM/TM/901000010")),
            {"status-transition"},
            follows="registration before filing",
        ),
        Poison(
            "record key with NUL",
            b"EM/TM/9\x0001",
            b"A10",
            b"{}",
            quarantined="record key holds a NUL",
        ),
        Poison(
            "record key not UTF-8",
            b"EM/TM/9\xff01",
            b"A10",
            b"{}",
            quarantined="not a readable EventRecorded entry",
        ),
        Poison(
            "event code with NUL",
            b"EM/TM/901000012",
            b"A\x0010",
            b"{}",
            quarantined="event code holds a NUL",
        ),
        Poison(
            "event code not ASCII",
            b"EM/TM/901000013",
            "É1".encode(),
            b"{}",
            quarantined="not a readable EventRecorded entry",
        ),
        Poison(
            "a good filing",
            b"EM/TM/901000014",
            b"A10",
            _doc(_filing("EM/TM/901000014")),
        ),
        Poison(
            "a follow-up with a NUL in its code",
            b"EM/TM/901000014",
            b"Q\x0010",
            b"{}",
            quarantined="event code holds a NUL",
            follows="a good filing",
        ),
        Poison(
            "a follow-up of the NUL key",
            b"EM/TM/9\x0001",
            b"Q10",
            b"{}",
            quarantined="record key holds a NUL",
            follows="record key with NUL",
        ),
    ]


# --- writing straight to the contract ----------------------------------------------------------


def _word(value: int) -> bytes:
    return value.to_bytes(_WORD, "big")


def _padded(data: bytes) -> bytes:
    return _word(len(data)) + data + b"\0" * (-len(data) % _WORD)


def record_events_calldata(
    selector: bytes, key: bytes, code: bytes, digest: bytes, prev: bytes, document: bytes
) -> bytes:
    """``recordEvents([(key, code, digest, prev, document)])`` with the key as raw bytes
    (eth-abi would only take a ``str``: a key that is not UTF-8 needs this)."""
    key_tail = _padded(key)
    entry = b"".join(
        (
            _word(5 * _WORD),
            code.ljust(_WORD, b"\0"),
            digest,
            prev,
            _word(5 * _WORD + len(key_tail)),
            key_tail,
            _padded(document),
        )
    )
    return selector + _word(_WORD) + _word(1) + _word(_WORD) + entry


def write_poison(ledger: Ledger, rogue: OfficeKey, items: list[Poison]) -> dict[str, bytes]:
    """Anchor each poison in a transaction of its own; returns each one's entry hash."""
    selector = ledger.ledger.encode_call("recordEvents", [])[:4]
    hashes: dict[str, bytes] = {}
    seqs: dict[bytes, int] = {}
    for item in items:
        digest = hashlib.sha256(item.document).digest()
        prev = ZERO_HASH if item.follows is None else hashes[item.follows]
        data = record_events_calldata(selector, item.key, item.code, digest, prev, item.document)
        send_and_confirm(
            ledger.backend,
            rogue,
            to=ledger.ledger_address,
            data=data,
            gas=3_000_000 + 80 * len(data),
            interfaces=[ledger.ledger, ledger.registry],
        )
        seq = seqs[item.key] = seqs.get(item.key, 0) + 1
        hashes[item.name] = entry_hash(
            keccak(item.key), seq, item.code.ljust(8, b"\0"), digest, prev, "EM"
        )
    return hashes


# --- the test ----------------------------------------------------------------------------------


def test_poison_from_a_rogue_office_never_stops_another_offices_node(
    start_node: Callable[..., RunningNode],
    embedded_dir: Path,
    signer_keys: dict[str, OfficeKey],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    node = start_node(embedded_dir, offices=("AU",))
    service = node.service
    ledger = service.node.ledger
    items = poisons()
    hashes = write_poison(ledger, signer_keys["EM"], items)

    # Other offices go on anchoring after the poison: RU straight to the chain, AU through
    # its own node's API.
    ledger.anchor(
        signer_keys["RU"],
        [
            to_anchor(trademark_event(f"RU/TM/202470000{n}", "A10", _DAY, mark="Ромашка"))
            for n in (1, 2)
        ],
    )
    token = node.token("AU")
    documents = [event_document(f"AU/TM/230000{n}") for n in (1, 2, 3)]
    accepted = node.client.post(
        "/api/v1/offices/AU/events", json={"events": documents}, headers=token
    )
    assert accepted.status_code == 202, accepted.text
    service.wait_until_idle(timeout=300)
    assert service.queries.indexed_block() == service.chain_head()

    for key in ("RU/TM/2024700001", "RU/TM/2024700002", "AU/TM/2300001", "AU/TM/2300003"):
        office, kind, number = key.split("/")
        answer = node.client.get(f"/api/v1/records/{office}/{kind}/{number}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "filed"

    with service.session_factory() as session:
        quarantined = {
            bytes(row.entry_hash) if row.entry_hash is not None else None: row
            for row in session.execute(select(quarantined_events))
        }
        flags: dict[bytes, set[str]] = {}
        for entry, flag in session.execute(select(event_flags.c.entry_hash, event_flags.c.flag)):
            flags.setdefault(bytes(entry), set()).add(flag)
        stored = {bytes(h) for h in session.scalars(select(events.c.entry_hash))}
        marks = dict(session.execute(select(records.c.record_key, records.c.mark_text)).all())

    for item in items:
        entry = hashes[item.name]
        if item.quarantined is not None:
            assert entry not in stored, item.name
            row = quarantined.get(entry)
            assert row is not None, item.name
            assert item.quarantined in row.reason, (item.name, row.reason)
        else:
            assert entry in stored, item.name
            assert flags.get(entry, set()) == item.flags, item.name
    expected_quarantine = sum(item.quarantined is not None for item in items)
    assert len(quarantined) == expected_quarantine
    # Good events carry no flag; the poison's text reached the index sanitised.
    assert not flags.keys() - {hashes[item.name] for item in items}
    assert marks["EM/TM/901000002"] == "ACME\ufffdCORP"
    assert marks["EM/TM/901000006"] == "NORDLICHT"  # non-canonical, still read

    # The record's page shows its flagged events and its quarantined logs.
    page = node.client.get("/api/v1/records/EM/TM/901000010").json()
    assert [(flag["seq"], flag["flag"]) for flag in page["flags"]] == [
        (1, "status-transition"),
        (2, "status-transition"),
    ]
    assert page["quarantined"] == []
    page = node.client.get("/api/v1/records/EM/TM/901000014").json()
    assert page["flags"] == [] and page["event_count"] == 1
    assert [item["entry_hash"] for item in page["quarantined"]] == [
        "0x" + hashes["a follow-up with a NUL in its code"].hex()
    ]
    assert "event code holds a NUL" in page["quarantined"][0]["reason"]

    health = node.client.get("/api/v1/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded", body
    assert body["quarantined_events"] == expected_quarantine
    assert body["flagged_events"] == sum(bool(item.flags) for item in items)
    assert (body["anchoring"], body["indexing"]) == ("running", "running")
    assert any("quarantined" in reason for reason in body["reasons"])

    report = audit(service.session_factory, service.node.backend, service.node.deployment)
    assert report.ok, report.to_json()
    assert report.totals.quarantined_events == expected_quarantine
    assert report.totals.flagged_events == body["flagged_events"]
    named = [w for w in report.warnings if w.startswith("quarantined by this node")]
    assert len(named) == expected_quarantine
    for item in items:
        if item.quarantined is not None:
            assert any(hashes[item.name].hex() in warning for warning in named), item.name

    # One log line per quarantined event, and no traceback loop.
    lines = [r for r in caplog.records if r.getMessage().startswith("quarantined ")]
    assert len(lines) == expected_quarantine, [r.getMessage() for r in lines]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
