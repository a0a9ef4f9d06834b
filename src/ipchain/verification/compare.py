"""The one comparison of claimed register events with anchored ones.

Whatever the source of a claim — documents someone holds, the entries of a proof bundle, the
rows of an office node's database — :func:`compare` pairs each claimed event with the event the
chain anchored and reports, per event, every difference. Record verification, bundle
verification, ``POST /verify`` and the audit all call it (the audit on chunks of a large
database, see :mod:`ipchain.verification.audit`).

Pairing, in order, each step only among what is still unpaired:

1. by entry hash (the chain made it unique);
2. by record and claimed ``seq``, then by claimed chain position (block, log index), so that a
   claim whose entry hash was altered is reported as such rather than as one missing event and
   one foreign event;
3. for claims that state only a document, by document hash in history order: the longest run
   in anchored order is taken as placed, the others are out of order, and a claim left between
   two placed ones is paired with the anchored event left at its place (tampered).

Then each pair is compared field by field (:func:`_differences`); paired claims out of their
anchored order are ``out-of-order``; a claim repeating a paired entry is ``out-of-order`` too,
one repeating an anchored document of its record a ``duplicate``, any other ``unanchored``;
anchored events nothing claims are ``missing``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.encoding import ZERO_HASH, entry_hash, event_code_bytes8, record_id
from ipchain.errors import IpchainError
from ipchain.verification.findings import (
    Discrepancy,
    DiscrepancyKind,
    Finding,
    Verdict,
    verdict_of,
)

K = DiscrepancyKind


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """What some source says one event of a record is. A field left None is not claimed."""

    record_key: str
    """The record the claim is about."""
    position: int | None = None
    """Where the source places the event in the record's history (from 1), for the relative
    order check; None when the source's order says nothing (a database row: its ``seq``)."""
    document: bytes | None = None
    """The document bytes claimed (compared byte for byte with what was anchored)."""
    document_hash: bytes | None = None
    """The claimed SHA-256 of the document."""
    seq: int | None = None
    """The claimed position in the record's history (a stored value: any type may come)."""
    entry_hash: bytes | None = None
    """The claimed entry hash."""
    prev_entry_hash: bytes | None = None
    """The claimed previous entry hash."""
    event_code: str | None = None
    """The claimed key event code."""
    office: str | None = None
    """The claimed writing office."""
    signer: str | None = None
    """The claimed signer account."""
    block_number: int | None = None
    """The claimed block."""
    block_hash: bytes | None = None
    """The claimed block hash."""
    transaction_hash: bytes | None = None
    """The claimed anchoring transaction."""
    log_index: int | None = None
    """The claimed log position in the block."""
    columns: Mapping[str, Any] = field(default_factory=dict)
    """Further claimed values derived from the anchored event (a node's stored columns: dates,
    national code, anchoring time), checked against ``expected_columns``."""


ExpectedColumns = Callable[[AnchoredEvent], Mapping[str, Any]]
"""The values of :attr:`ClaimedEvent.columns` an anchored event implies."""

KnownDocument = Callable[[ClaimedEvent], int | None]
"""For a claim nothing anchored accounts for: the seq of an anchored event of its record with
the same document known outside the comparison (a streamed audit's other chunks), or None."""

_ENTRY_FIELDS: Final = (
    "event_code",
    "prev_entry_hash",
    "office",
    "signer",
    "block_number",
    "block_hash",
    "transaction_hash",
    "log_index",
)
_HASHED: Final = frozenset(
    ("record_key", "seq", "event_code", "document_hash", "prev_entry_hash", "office", "entry_hash")
)


def compare(
    claimed: Sequence[ClaimedEvent],
    anchored: Sequence[AnchoredEvent],
    *,
    expected_columns: ExpectedColumns | None = None,
    known_document: KnownDocument | None = None,
) -> list[Finding]:
    """One finding per anchored event (in the order given) and per claim no anchored event
    accounts for (in claimed order); see the module docstring for the rules."""
    pairs = _pair(claimed, anchored)
    paired = {id(event): claim for claim, event in pairs}
    order = _out_of_order(pairs)
    findings: list[Finding] = []
    for event in anchored:
        claim = paired.get(id(event))
        if claim is None:
            detail = f"anchored in block {event.block_number}, absent from the data"
            findings.append(_finding(event, None, [_about(event, K.MISSING, detail)]))
            continue
        found = _differences(claim, event, expected_columns)
        if not found and id(claim) in order:
            found.append(_about(event, K.OUT_OF_ORDER, order[id(claim)], "seq"))
        findings.append(_finding(event, claim, found))
    findings += _lone_claims(claimed, pairs, anchored, known_document)
    return findings


def _finding(event: AnchoredEvent, claim: ClaimedEvent | None, found: list[Discrepancy]) -> Finding:
    return Finding(
        record_key=event.record_key,
        seq=event.seq,
        entry_hash=event.entry_hash,
        event_code=event.event_code,
        position=None if claim is None else claim.position,
        verdict=verdict_of(item.kind for item in found),
        discrepancies=tuple(found),
        failed=bool(found),
    )


def _about(
    event: AnchoredEvent, kind: DiscrepancyKind, detail: str, field: str | None = None
) -> Discrepancy:
    return Discrepancy(event.record_key, event.seq, event.entry_hash, kind, detail, field)


# ------------------------------------------------------------------------------ pairing


def _pair(
    claimed: Sequence[ClaimedEvent], anchored: Sequence[AnchoredEvent]
) -> list[tuple[ClaimedEvent, AnchoredEvent]]:
    free = {id(event): event for event in anchored}
    pairs: list[tuple[ClaimedEvent, AnchoredEvent]] = []
    lone: list[ClaimedEvent] = []
    by_hash = {event.entry_hash: event for event in anchored}
    for claim in claimed:
        event = by_hash.get(claim.entry_hash) if isinstance(claim.entry_hash, bytes) else None
        if event is not None and id(event) in free:
            del free[id(event)]
            pairs.append((claim, event))
        else:
            lone.append(claim)
    for key in (_record_and_seq, _chain_position):
        index = {key(event): event for event in free.values()}
        still = []
        for claim in lone:
            event = index.get(key(claim)) if _states(claim, key) else None
            if event is not None and id(event) in free:
                del free[id(event)]
                pairs.append((claim, event))
            else:
                still.append(claim)
        lone = still
    documents_only = [claim for claim in lone if _documents_only(claim)]
    if documents_only:
        pairs += _align_documents(documents_only, [e for e in anchored if id(e) in free])
    return pairs


def _record_and_seq(item: Any) -> tuple[str, Any]:
    return item.record_key, item.seq


def _chain_position(item: Any) -> tuple[Any, Any]:
    return item.block_number, item.log_index


def _states(claim: ClaimedEvent, key: Callable[[Any], tuple[Any, Any]]) -> bool:
    return all(part is not None for part in key(claim))


def _documents_only(claim: ClaimedEvent) -> bool:
    return claim.entry_hash is None and claim.seq is None and claim.document_hash is not None


def _align_documents(
    claims: Sequence[ClaimedEvent], history: Sequence[AnchoredEvent]
) -> list[tuple[ClaimedEvent, AnchoredEvent]]:
    """Pair document-only claims (in claimed order) with a record's unpaired anchored events
    (in history order): by document hash, then what is left between placed pairs."""
    by_document: dict[bytes, list[int]] = {}
    for index, event in enumerate(history):
        by_document.setdefault(event.document_hash, []).append(index)
    matched: dict[int, int] = {}  # claim index -> history index
    used: set[int] = set()
    for position, claim in enumerate(claims):
        spare = [
            index for index in by_document.get(claim.document_hash or b"", ()) if index not in used
        ]
        if spare:
            matched[position] = spare[0]
            used.add(spare[0])
    placed = sorted(matched)
    pairs = [(claims[position], history[matched[position]]) for position in placed]
    in_order = [placed[i] for i in sorted(longest_increasing([matched[p] for p in placed]))]
    bounds = [(-1, -1), *((position, matched[position]) for position in in_order)]
    bounds.append((len(claims), len(history)))
    for (low_claim, low_event), (high_claim, high_event) in itertools.pairwise(bounds):
        loose_claims = [p for p in range(low_claim + 1, high_claim) if p not in matched]
        loose_events = [i for i in range(low_event + 1, high_event) if i not in used]
        pairs += [
            (claims[position], history[index])
            for position, index in zip(loose_claims, loose_events, strict=False)
        ]
    return pairs


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


def _out_of_order(pairs: Sequence[tuple[ClaimedEvent, AnchoredEvent]]) -> dict[int, str]:
    """Paired claims (by id) placed out of their anchored order, per record, with why."""
    by_record: dict[str, list[tuple[int, ClaimedEvent, AnchoredEvent]]] = {}
    for claim, event in pairs:
        if isinstance(claim.position, int):
            by_record.setdefault(event.record_key, []).append((claim.position, claim, event))
    late: dict[int, str] = {}
    for placed in by_record.values():
        placed.sort(key=lambda item: item[0])
        keep = longest_increasing([event.seq for _, _, event in placed])
        for rank, (position, claim, event) in enumerate(placed):
            if rank not in keep:
                late[id(claim)] = f"anchored as event {event.seq}, found at position {position}"
    return late


def _lone_claims(
    claimed: Sequence[ClaimedEvent],
    pairs: Sequence[tuple[ClaimedEvent, AnchoredEvent]],
    anchored: Sequence[AnchoredEvent],
    known_document: KnownDocument | None,
) -> list[Finding]:
    """Findings for the claims nothing anchored accounts for."""
    paired_claims = {id(claim) for claim, _ in pairs}
    paired_hashes = {event.entry_hash: event.seq for _, event in pairs}
    documents = {(event.record_key, event.document_hash): event.seq for event in anchored}
    findings = []
    for claim in claimed:
        if id(claim) in paired_claims:
            continue
        seq = claim.seq if isinstance(claim.seq, int) else None
        claimed_hash = claim.entry_hash if isinstance(claim.entry_hash, bytes) else None
        copy_of = documents.get((claim.record_key, claim.document_hash or b""))
        if copy_of is None and known_document is not None:
            copy_of = known_document(claim)
        if claimed_hash in paired_hashes:
            kind = K.OUT_OF_ORDER
            detail = f"event {paired_hashes[claimed_hash]} appears more than once"
        elif copy_of is not None:
            kind = K.DUPLICATE
            detail = (
                f"event {_shown(seq)} repeats anchored event {copy_of} of the record (same "
                "document); it is not anchored itself"
            )
        else:
            kind = K.UNANCHORED
            detail = f"event {_shown(seq)} (entry hash {_shown(claimed_hash)}) is not anchored"
            if claim.document_hash is not None and claimed_hash is None:
                detail = f"document {_shown(claim.document_hash)} is not anchored for this record"
        discrepancy = Discrepancy(claim.record_key, seq, claimed_hash, kind, detail)
        findings.append(
            Finding(
                record_key=claim.record_key,
                seq=seq,
                entry_hash=claimed_hash,
                event_code=claim.event_code,
                position=claim.position,
                verdict=verdict_of((kind,)),
                discrepancies=(discrepancy,),
            )
        )
    return findings


# ------------------------------------------------------------------------------ one pair


def _differences(
    claim: ClaimedEvent, event: AnchoredEvent, expected_columns: ExpectedColumns | None
) -> list[Discrepancy]:
    """Every difference between a claim and the anchored event it is paired with."""
    found: list[Discrepancy] = []

    def differs(kind: DiscrepancyKind, detail: str, name: str | None = None) -> None:
        found.append(_about(event, kind, detail, name))

    document = claim.document
    if document is not None:
        digest = hashlib.sha256(document).digest()
        if digest != event.document_hash:
            differs(
                K.DOCUMENT_TAMPERED,
                f"the document hashes to {_shown(digest)}, the anchored document hash is "
                f"{_shown(event.document_hash)}",
                "document",
            )
    elif event.document:
        differs(K.DOCUMENT_TAMPERED, "the document published on chain is missing", "document")
    if claim.document_hash is not None and claim.document_hash != event.document_hash:
        differs(
            K.HASH_MISMATCH,
            f"document hash {_shown(claim.document_hash)} is not the anchored "
            f"{_shown(event.document_hash)}",
            "document_hash",
        )
    if claim.entry_hash is not None and claim.entry_hash != event.entry_hash:
        differs(
            K.HASH_MISMATCH,
            f"entry hash {_shown(claim.entry_hash)} is not the anchored {_shown(event.entry_hash)}",
            "entry_hash",
        )
    if claim.seq is not None and claim.seq != event.seq:
        differs(
            K.OUT_OF_ORDER,
            f"stated as event {_shown(claim.seq)} of the record, anchored as event {event.seq}",
            "seq",
        )
    if claim.record_key != event.record_key:
        differs(
            K.FIELD_MISMATCH,
            f"record_key {_shown(claim.record_key)}, anchored {_shown(event.record_key)}",
            "record_key",
        )
    for name in _ENTRY_FIELDS:
        value = getattr(claim, name)
        if value is not None and value != getattr(event, name):
            differs(
                K.FIELD_MISMATCH,
                f"{name} {_shown(value)}, anchored {_shown(getattr(event, name))}",
                name,
            )
    if claim.columns and expected_columns is not None:
        expected = expected_columns(event)
        for name, value in claim.columns.items():
            if value != expected[name]:
                differs(
                    K.FIELD_MISMATCH,
                    f"{name} {_shown(value)}, anchored {_shown(expected[name])}",
                    name,
                )
    # The claimed fields must also hash to the claimed entry hash: the values are re-hashed,
    # not only the hashes compared. A difference already reported above explains it.
    if claim.entry_hash is not None and not any(item.field in _HASHED for item in found):
        recomputed = claimed_entry_hash(claim)
        if recomputed != claim.entry_hash:
            differs(
                K.HASH_MISMATCH,
                f"the stated fields hash to {_shown(recomputed)}, not to the stated entry hash "
                f"{_shown(claim.entry_hash)}",
                "entry_hash",
            )
    return found


def claimed_entry_hash(claim: ClaimedEvent) -> bytes | None:
    """The entry hash of a claim's fields as RegisterLedger computes it; None when they cannot
    be hashed at all (a field missing or of the wrong type)."""
    try:
        return entry_hash(
            record_id(claim.record_key),
            claim.seq,  # type: ignore[arg-type]
            event_code_bytes8(claim.event_code),  # type: ignore[arg-type]
            claim.document_hash,  # type: ignore[arg-type]
            claim.prev_entry_hash,  # type: ignore[arg-type]
            claim.office,  # type: ignore[arg-type]
        )
    except (IpchainError, TypeError, ValueError, AttributeError):
        return None


def anchored_discrepancies(event: AnchoredEvent) -> list[Discrepancy]:
    """What is wrong with an anchored event on its own (nothing, from a genuine ledger): its
    entry hash must be recomputable from its fields, a published document must hash to the
    anchored document hash."""
    found = []
    recomputed = claimed_entry_hash(
        ClaimedEvent(
            record_key=event.record_key,
            seq=event.seq,
            event_code=event.event_code,
            document_hash=event.document_hash,
            prev_entry_hash=event.prev_entry_hash,
            office=event.office,
        )
    )
    if recomputed != event.entry_hash:
        found.append(
            _about(
                event, K.HASH_MISMATCH, "entry hash does not match the entry's fields", "entry_hash"
            )
        )
    if event.document and hashlib.sha256(event.document).digest() != event.document_hash:
        found.append(
            _about(
                event,
                K.DOCUMENT_TAMPERED,
                "published document does not hash to the anchored document hash",
                "document",
            )
        )
    return found


def with_discrepancies(finding: Finding, extra: Sequence[Discrepancy]) -> Finding:
    """``finding`` with more discrepancies about its event (its verdict recomputed)."""
    if not extra:
        return finding
    found = (*finding.discrepancies, *extra)
    return Finding(
        record_key=finding.record_key,
        seq=finding.seq,
        entry_hash=finding.entry_hash,
        event_code=finding.event_code,
        position=finding.position,
        verdict=verdict_of(item.kind for item in found),
        discrepancies=found,
        failed=True,
    )


# ------------------------------------------------------------------------------ hash chains


def check_hash_chain(
    rows: Sequence[tuple[Any, Any, Any, Any]] | Any, report: Callable[[Discrepancy], None]
) -> None:
    """Follow each record's claimed hash chain: ``rows`` are (record key, seq, entry hash,
    previous entry hash) ordered by record and seq. Each record's events must be numbered from
    1 without gaps, the first linking to zeros and each other to the entry hash before it."""
    record_key: Any = None
    last_seq, last_hash = 0, ZERO_HASH
    for key, seq, stated_hash, previous in rows:
        if key != record_key:
            record_key, last_seq, last_hash = key, 0, ZERO_HASH
        if seq == last_seq + 1 and previous == last_hash:
            last_seq, last_hash = seq, stated_hash
            continue
        if not isinstance(seq, int) or seq <= last_seq:
            detail = f"seq {_shown(seq)} does not follow event {last_seq}"
            name = "seq"
        elif seq != last_seq + 1:
            gap = (
                f"event {last_seq + 1}"
                if seq == last_seq + 2
                else f"events {last_seq + 1} to {seq - 1}"
            )
            detail = f"the history lacks {gap}: event {seq} has no predecessor"
            name = "seq"
        else:
            should = (
                "zeros (it is the first event)"
                if seq == 1
                else f"{_shown(last_hash)} (event {last_seq} as stated)"
            )
            detail = f"event {seq} links to {_shown(previous)}, should link to {should}"
            name = "prev_entry_hash"
        report(
            Discrepancy(
                str(key),
                seq if isinstance(seq, int) else None,
                stated_hash if isinstance(stated_hash, bytes) else None,
                K.CHAIN_BROKEN,
                detail,
                name,
            )
        )
        if isinstance(seq, int):  # walk on from here: each break is reported once
            last_seq, last_hash = seq, stated_hash


def _shown(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return "null" if value is None else repr(value)


__all__ = [
    "ClaimedEvent",
    "ExpectedColumns",
    "KnownDocument",
    "Verdict",
    "anchored_discrepancies",
    "check_hash_chain",
    "claimed_entry_hash",
    "compare",
    "longest_increasing",
    "with_discrepancies",
]
