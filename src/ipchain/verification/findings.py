"""The words of verification: what is wrong (:class:`DiscrepancyKind`), what that makes of one
event (:class:`Verdict`), and the two records of them (:class:`Discrepancy`, :class:`Finding`).

One vocabulary for every check — record verification, proof bundles, ``POST /verify``, a
node's stored record and the full audit — in kebab-case, the form of the API's problem codes.
The same word means the same thing wherever it appears: an event is ``missing`` when it is
anchored and absent from what was checked, ``unanchored`` when it is claimed and not anchored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """What verification concluded about one event."""

    VERIFIED = "verified"
    """The data is exactly what is anchored, at this position, by an authorised office."""
    TAMPERED = "tampered"
    """The data differs from what is anchored (document, or any field of the entry)."""
    MISSING = "missing"
    """Anchored on chain, absent from the data."""
    UNANCHORED = "unanchored"
    """In the data, not anchored on chain."""
    OUT_OF_ORDER = "out-of-order"
    """Anchored, but the data has it at another position (or twice)."""


class DiscrepancyKind(StrEnum):
    """What differs between the data checked and the chain, for one event or record."""

    DOCUMENT_TAMPERED = "document-tampered"
    """The document does not hash to the anchored document hash (or is absent where the chain
    published one)."""
    HASH_MISMATCH = "hash-mismatch"
    """A hash (document hash, entry hash) is neither the anchored one nor what the data hashes
    to."""
    FIELD_MISMATCH = "field-mismatch"
    """A field differs from the anchored entry (``field`` names it)."""
    MISSING = "missing"
    """Anchored on chain, absent from the data."""
    UNANCHORED = "unanchored"
    """In the data, not anchored on chain."""
    CHAIN_BROKEN = "chain-broken"
    """The data's events of a record, in their order, do not form a hash chain from zeros."""
    OUT_OF_ORDER = "out-of-order"
    """At another position of the record's history than it is anchored at."""
    DUPLICATE = "duplicate"
    """A second copy of an anchored event (same record and document)."""


_ORDER_KINDS = frozenset((DiscrepancyKind.OUT_OF_ORDER, DiscrepancyKind.CHAIN_BROKEN))


def verdict_of(kinds: Iterable[DiscrepancyKind]) -> Verdict:
    """The verdict on an event from the kinds of its discrepancies (none: verified)."""
    found = set(kinds)
    if not found:
        return Verdict.VERIFIED
    if DiscrepancyKind.MISSING in found:
        return Verdict.MISSING
    if found & {DiscrepancyKind.UNANCHORED, DiscrepancyKind.DUPLICATE}:
        return Verdict.UNANCHORED
    if found <= _ORDER_KINDS:
        return Verdict.OUT_OF_ORDER
    return Verdict.TAMPERED


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One difference between the data checked and the chain."""

    record_key: str
    """The record concerned (as anchored, when the event is on chain)."""
    seq: int | None
    """The event's position in the record's history (as anchored when on chain, as claimed
    otherwise); None for a discrepancy about the record as a whole."""
    entry_hash: bytes | None
    """The event's entry hash (as anchored when on chain, as claimed otherwise)."""
    kind: DiscrepancyKind
    """What is wrong."""
    detail: str
    """Why, in one line, with the claimed and the anchored values."""
    field: str | None = None
    """The field concerned (``event_code``, ``document_hash``...), when there is one."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form (docs/audit.md)."""
        return {
            "record_key": self.record_key,
            "seq": self.seq,
            "entry_hash": None if self.entry_hash is None else "0x" + self.entry_hash.hex(),
            "kind": self.kind.value,
            "field": self.field,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one event: an anchored event, or a claimed one that is not anchored."""

    record_key: str
    """The event's record."""
    seq: int | None
    """Position in the record's on-chain history (from 1); the claimed position for an event
    that is not on chain."""
    entry_hash: bytes | None
    """Its entry hash (as anchored, or as claimed)."""
    event_code: str | None
    """Key event code (as anchored, or as claimed)."""
    position: int | None
    """Position of the event in the data checked (from 1); None when the data lacks it."""
    verdict: Verdict
    """The conclusion, from the discrepancies."""
    discrepancies: tuple[Discrepancy, ...] = ()
    """Every difference found for the event."""
    failed: bool = True
    """Whether this finding fails the verification (an event anchored after a proof bundle was
    made is reported missing without failing it)."""
    note: str = ""
    """Something worth saying about a verified event (e.g. the chain holds only its hash)."""

    @property
    def detail(self) -> str:
        """Why, in one line."""
        return "; ".join(item.detail for item in self.discrepancies) or self.note
