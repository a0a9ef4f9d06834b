"""Verification from the chain: is this data exactly what the office anchored, in that order, by
an office authorised at the time?

Nothing here trusts ipchain's API or database. Everything is read from a chain node (any
JSON-RPC node, or the embedded chain) and checked against the committed contract artifacts:

1. The contracts are genuine: the runtime code at the RegisterLedger address is the committed
   artifact with the OfficeRegistry address in its one immutable, and the code at the
   OfficeRegistry address is the committed artifact. A genuine RegisterLedger refuses entries
   from inactive offices and entries that do not extend their record's head, so an entry found
   in its logs was written, in that position, by an office active at that block.
2. Each entry is read from the ``EventRecorded`` log of the block it was anchored in (one
   single-block ``eth_getLogs``), its entry hash recomputed (:func:`ipchain.encoding.entry_hash`)
   and its document re-hashed (SHA-256 over RFC 8785 bytes).
3. The signer's authorisation is cross-checked with ``OfficeRegistry.officeOf(signer)`` on the
   state just before the block, where the node keeps historical state (a warning otherwise).

The reads live in :mod:`ipchain.verification.reader`; proof bundles in :mod:`ipchain.verification.bundle`;
docs/proof-bundle.md describes the algorithm for reimplementers.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from eth_utils import to_checksum_address

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment
from ipchain.encoding import (
    JsonValue,
    canonical_bytes,
    canonical_bytes_from_json,
    entry_hash,
    is_canonical,
    parse_json_strict,
)
from ipchain.errors import ChainError, InvalidInputError, IpchainError
from ipchain.verification.reader import (
    ChainReader,
    Code,
    RecordedEvent,
    code_problems,
    read_history,
    signer_verdict,
)

# ------------------------------------------------------------------------------ verdicts


class EventVerdict(StrEnum):
    """What verification concluded about one event."""

    VERIFIED = "verified"
    """The data is exactly what is anchored, at this position, by an authorised office."""
    TAMPERED = "tampered"
    """The data differs from what is anchored (document, or any field of the entry)."""
    MISSING = "missing"
    """Anchored on chain, absent from the data."""
    UNANCHORED = "unanchored"
    """In the data, not anchored on chain."""
    OUT_OF_ORDER = "out_of_order"
    """Anchored, but the data has it at another position (or twice)."""


@dataclass(frozen=True, slots=True)
class EventCheck:
    """The verdict on one event of a record."""

    seq: int | None
    """Position in the record's on-chain history (from 1); None for data not on chain."""
    entry_hash: bytes | None
    """The entry hash checked (as claimed by the data, or as anchored); None when unknown."""
    verdict: EventVerdict
    """The conclusion."""
    detail: str
    """Why, in one line (empty when verified with nothing to add)."""
    event_code: str | None = None
    """Key event code, when known."""
    position: int | None = None
    """Position of the event in the data checked (from 1); None for events only on chain."""
    failed: bool = True
    """Whether this check fails the verification (events anchored after a proof bundle was
    made are reported as missing without failing it)."""


@dataclass(frozen=True, slots=True)
class RecordVerification:
    """The verification of a record's data against its history on chain."""

    record_key: str
    """The record verified."""
    checks: tuple[EventCheck, ...]
    """One check per event, in on-chain order; data that is not on chain comes last."""
    ok: bool
    """True only when every check passed and there is no problem."""
    head_seq: int
    """Number of events anchored for the record, as of the latest block."""
    head_entry_hash: bytes
    """The record's latest entry hash on chain (zeros when it has none)."""
    problems: tuple[str, ...] = ()
    """Failures that are not about one event (contracts not genuine, chain unreadable)."""
    warnings: tuple[str, ...] = ()
    """Checks that could not be made (e.g. a node without historical state)."""


@dataclass(frozen=True, slots=True)
class DocumentVerification:
    """Whether one document is anchored, and where."""

    record_key: str
    """The record the document belongs to."""
    document_hash: bytes
    """SHA-256 of the document's RFC 8785 bytes."""
    verdict: EventVerdict
    """VERIFIED when an authorised entry of the record anchors it, else UNANCHORED or
    TAMPERED (anchored, but the entry does not check out)."""
    detail: str
    """Why, in one line."""
    seq: int | None = None
    """The anchoring entry's position in the record's history."""
    entry_hash: bytes | None = None
    """The anchoring entry."""
    office: str | None = None
    """Office that anchored it."""
    signer: str | None = None
    """Signer account of the anchoring transaction."""
    block_number: int | None = None
    """Block it was anchored in."""
    transaction_hash: bytes | None = None
    """Transaction that anchored it."""
    warnings: tuple[str, ...] = ()
    """Checks that could not be made."""


@dataclass(frozen=True, slots=True)
class BundleReport:
    """The outcome of checking a proof bundle against a chain."""

    record_key: str
    """The bundle's record."""
    chain_id: int
    """Chain checked."""
    registry_address: str
    """The OfficeRegistry the entries were checked against (the auditor must know it is the
    consortium's: nothing in a bundle can prove that)."""
    ledger_address: str
    """The RegisterLedger the entries were checked against."""
    checks: tuple[EventCheck, ...]
    """One check per event of the bundle, plus one per anchored event the bundle lacks."""
    ok: bool
    """True only when the bundle is proven: every check passed and there is no problem."""
    bundle_seq: int
    """Number of events in the bundle."""
    head_seq: int
    """Number of events anchored for the record now."""
    problems: tuple[str, ...] = ()
    """Failures that are not about one event (contracts, record id, head)."""
    warnings: tuple[str, ...] = ()
    """Checks that could not be made (e.g. no historical state on the node)."""

    @property
    def newer_events(self) -> int:
        """Events anchored after the bundle was made."""
        return max(self.head_seq - self.bundle_seq, 0)


# ------------------------------------------------------------------------------ shared checks


def entry_problems(event: RecordedEvent) -> list[str]:
    """What is wrong with an anchored entry on its own: its entry hash must be recomputable
    from its fields, and a published document must hash to the anchored document hash."""
    problems = []
    try:
        recomputed = entry_hash(
            event.record_id,
            event.seq,
            event.event_code,
            event.document_hash,
            event.prev_entry_hash,
            event.office,
        )
    except IpchainError:
        recomputed = b""
    if recomputed != event.entry_hash:
        problems.append("entry hash does not match the entry's fields")
    if event.document and hashlib.sha256(event.document).digest() != event.document_hash:
        problems.append("published document does not hash to the anchored document hash")
    return problems


def canonical_problem(document: bytes) -> str | None:
    """Why ``document`` is not RFC 8785 canonical JSON (None when it is)."""
    if is_canonical(document):
        return None
    try:
        parse_json_strict(document)
    except IpchainError as error:
        return f"document is not valid JSON ({error})"
    return "document is not in RFC 8785 canonical form"


# The check lives in ipchain.encoding with the rest of canonical encoding; this name stays for
# tests/verify/test_canonical_check.py, which imports it from here.


def longest_increasing(values: Sequence[int]) -> set[int]:
    """Indexes of one longest strictly increasing subsequence of ``values``."""
    tails: list[int] = []  # value at the end of the best run of each length
    tail_index: list[int] = []
    parent: list[int] = [-1] * len(values)
    for index, value in enumerate(values):
        length = bisect.bisect_left(tails, value)
        if length == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[length] = value
            tail_index[length] = index
        parent[index] = tail_index[length - 1] if length > 0 else -1
    chosen: set[int] = set()
    cursor = tail_index[-1] if tail_index else -1
    while cursor != -1:
        chosen.add(cursor)
        cursor = parent[cursor]
    return chosen


# ------------------------------------------------------------------------------ records


def _document_hash_of(document: JsonValue | bytes) -> bytes:
    canonical = (
        canonical_bytes_from_json(document)
        if isinstance(document, bytes | str)
        else canonical_bytes(document)
    )
    return hashlib.sha256(canonical).digest()


def verify_record(
    backend: ChainBackend,
    deployment: Deployment,
    record_key: str,
    documents: Sequence[Mapping[str, Any] | bytes],
) -> RecordVerification:
    """Check documents claimed to be a record's history, in order (from an office's database
    or API, say), against the history anchored on chain.

    Each document (a JSON object, or JSON text) is re-hashed with RFC 8785 + SHA-256 and
    matched with the anchored entries: verified when found at its position; out of order when
    anchored elsewhere in the history; tampered when an anchored entry sits at its position with
    another hash; unanchored when nothing is left to pair it with; anchored entries with no
    document are missing. Every anchored entry is also checked on its own (entry hash, published
    document, signer authorised at its block). Raises :class:`InvalidInputError` for a document
    that is not JSON and :class:`ChainError` when the chain cannot be read.
    """
    claimed = [_document_hash_of(document) for document in documents]
    reader = ChainReader(
        backend, deployment.address("OfficeRegistry"), deployment.address("RegisterLedger")
    )
    try:
        problems = _deployment_problems(reader)
        history, head = read_history(reader, record_key)
        _, status = reader.fetch_with_signers([], [(e.signer, e.block_number) for e in history])
    finally:
        reader.close()
    warnings: list[str] = []
    integrity: dict[int, list[str]] = {}
    for event in history:
        issues = entry_problems(event)
        issue, warning = signer_verdict(
            status.get((event.signer, event.block_number)),
            event.office,
            event.signer,
            event.block_number,
        )
        if issue:
            issues.append(issue)
        if warning and warning not in warnings:
            warnings.append(warning)
        integrity[event.seq] = issues
    checks = _align(history, claimed, integrity)
    ok = not problems and all(not check.failed for check in checks)
    return RecordVerification(
        record_key=record_key,
        checks=tuple(checks),
        ok=ok,
        head_seq=len(history),
        head_entry_hash=head,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


def _deployment_problems(reader: ChainReader) -> list[str]:
    registry_code, ledger_code = reader.fetch(
        [Code(reader.registry_address), Code(reader.ledger_address)]
    )
    for answer in (registry_code, ledger_code):
        if isinstance(answer, ChainError):
            raise answer
    return code_problems(reader.registry_address, registry_code, reader.ledger_address, ledger_code)


def _align(
    history: Sequence[RecordedEvent], claimed: Sequence[bytes], integrity: Mapping[int, list[str]]
) -> list[EventCheck]:
    """Pair claimed document hashes with anchored entries (see :func:`verify_record`)."""
    by_hash: dict[bytes, list[int]] = {}
    for event in history:
        by_hash.setdefault(event.document_hash, []).append(event.seq)
    matched: dict[int, int] = {}  # position -> seq
    used: set[int] = set()
    for position, digest in enumerate(claimed, start=1):
        free = [seq for seq in by_hash.get(digest, ()) if seq not in used]
        if free:
            matched[position] = free[0]
            used.add(free[0])
    positions = sorted(matched)
    in_order = longest_increasing([matched[position] for position in positions])
    anchors = [positions[index] for index in sorted(in_order)]
    events = {event.seq: event for event in history}
    checks: list[EventCheck] = []

    def check(seq: int | None, verdict: EventVerdict, detail: str, position: int | None) -> None:
        event = events.get(seq) if seq is not None else None
        if event is not None and integrity.get(seq or 0) and verdict is EventVerdict.VERIFIED:
            verdict, detail = EventVerdict.TAMPERED, "; ".join(integrity[seq or 0])
        checks.append(
            EventCheck(
                seq=seq,
                entry_hash=event.entry_hash if event else None,
                verdict=verdict,
                detail=detail,
                event_code=event.event_code_text if event else None,
                position=position,
                failed=verdict is not EventVerdict.VERIFIED,
            )
        )

    for position in anchors:
        check(matched[position], EventVerdict.VERIFIED, "", position)
    for position in positions:
        if position not in anchors:
            check(
                matched[position],
                EventVerdict.OUT_OF_ORDER,
                f"anchored as event {matched[position]}, found at position {position}",
                position,
            )
    # Between consecutive in-order anchors, the remaining documents and entries pair up.
    bounds = [(0, 0), *((position, matched[position]) for position in anchors)]
    bounds.append((len(claimed) + 1, len(history) + 1))
    for (low_position, low_seq), (high_position, high_seq) in itertools.pairwise(bounds):
        loose_documents = [
            position
            for position in range(low_position + 1, high_position)
            if position not in matched
        ]
        loose_entries = [seq for seq in range(low_seq + 1, high_seq) if seq not in used]
        for position, seq in zip(loose_documents, loose_entries, strict=False):
            detail = (
                f"document hash 0x{claimed[position - 1].hex()} differs from the anchored "
                f"0x{events[seq].document_hash.hex()}"
            )
            check(seq, EventVerdict.TAMPERED, detail, position)
        for position in loose_documents[len(loose_entries) :]:
            detail = f"document 0x{claimed[position - 1].hex()} is not anchored for this record"
            check(None, EventVerdict.UNANCHORED, detail, position)
        for seq in loose_entries[len(loose_documents) :]:
            check(seq, EventVerdict.MISSING, "anchored on chain, absent from the data", None)
    checks.sort(key=lambda item: (item.seq is None, item.seq or 0, item.position or 0))
    return checks


def verify_document(
    backend: ChainBackend,
    deployment: Deployment,
    document: Mapping[str, Any] | bytes,
    *,
    record_key: str | None = None,
) -> DocumentVerification:
    """Whether a register event document is anchored: re-hash it, then find the entry of its
    record (``record_key``, or the document's own ``record_key`` member) that anchors it."""
    parsed = parse_json_strict(document) if isinstance(document, bytes) else document
    if record_key is None:
        key = parsed.get("record_key") if isinstance(parsed, Mapping) else None
        if not isinstance(key, str):
            raise InvalidInputError(
                "the document has no record_key member: give the record key", field="record_key"
            )
        record_key = key
    digest = _document_hash_of(parsed)
    reader = ChainReader(
        backend, deployment.address("OfficeRegistry"), deployment.address("RegisterLedger")
    )
    try:
        problems = _deployment_problems(reader)
        history, _head = read_history(reader, record_key)
        anchoring = [event for event in history if event.document_hash == digest]
        _, status = reader.fetch_with_signers([], [(e.signer, e.block_number) for e in anchoring])
    finally:
        reader.close()
    if not anchoring:
        return DocumentVerification(
            record_key=record_key,
            document_hash=digest,
            verdict=EventVerdict.UNANCHORED,
            detail=f"no entry of {record_key} ({len(history)} anchored) anchors this document",
        )
    event = anchoring[0]
    issues = problems + entry_problems(event)
    issue, warning = signer_verdict(
        status.get((event.signer, event.block_number)),
        event.office,
        event.signer,
        event.block_number,
    )
    if issue:
        issues.append(issue)
    return DocumentVerification(
        record_key=record_key,
        document_hash=digest,
        verdict=EventVerdict.TAMPERED if issues else EventVerdict.VERIFIED,
        detail="; ".join(issues) or f"anchored as event {event.seq} of {record_key}",
        seq=event.seq,
        entry_hash=event.entry_hash,
        office=event.office,
        signer=to_checksum_address(event.signer),
        block_number=event.block_number,
        transaction_hash=event.transaction_hash,
        warnings=(warning,) if warning else (),
    )
