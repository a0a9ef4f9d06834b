"""Links re-checked against the chain (issue 12): each link an anchored event carries, judged
by the same rule as at submission (:func:`ipchain.register.links.judge_link`), but on what the
chain held when the claiming event was anchored — the linked record's entries before it, its
office's membership at that block's time — never on a node's index.

A node that accepted a claim it should have refused, or a claim written straight to the
contract, shows here as ``link-target-missing``, ``link-date-mismatch``, ``link-out-of-window``,
``link-applicant-mismatch`` or ``link-classes-not-covered``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.errors import ChainError, InvalidInputError
from ipchain.register.links import FirstFiling, LinkCheck, claimed_filing_date, judge_link
from ipchain.register.models import RegisterEvent
from ipchain.verification.reader import ChainReader


@dataclass(frozen=True, slots=True)
class LinkFinding:
    """One link of an anchored event, judged against the chain as of that event."""

    seq: int
    """The claiming event's position in its record's history."""
    check: LinkCheck
    """The outcome (``link-verified``, ``link-unverifiable`` or a failure)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form in verification responses."""
        return {"seq": self.seq, **self.check.to_json()}


def _document(event: AnchoredEvent) -> dict[str, Any] | None:
    """An anchored document, parsed (untrusted: None when it is not a JSON object)."""
    if not event.document:
        return None
    try:
        parsed = json.loads(event.document)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def check_anchored_links(
    reader: ChainReader, history: Sequence[AnchoredEvent], block_times: Mapping[int, int]
) -> tuple[LinkFinding, ...]:
    """The links of a record's anchored ``history`` (oldest first), each judged against the
    chain as of its event. Events whose document is not a valid register event carry no
    links to judge (the indexer flags them)."""
    findings: list[LinkFinding] = []
    earlier: list[Mapping[str, Any] | None] = []
    targets: dict[str, list[AnchoredEvent]] = {}
    for event in history:
        document = _document(event)
        parsed = None
        if document is not None and document.get("links"):
            try:
                parsed = RegisterEvent.from_document(document)
            except InvalidInputError:
                parsed = None
        for position, link in enumerate(parsed.links if parsed is not None else ()):
            first = None
            member = True
            if link.record_key is not None:
                target = str(link.record_key)
                if target not in targets:
                    try:
                        targets[target] = reader.history(target)
                    except ChainError:
                        targets[target] = []
                before = [
                    entry
                    for entry in targets[target]
                    if (entry.block_number, entry.log_index) < (event.block_number, event.log_index)
                ]
                first = FirstFiling.of([_document(entry) for entry in before]) if before else None
                member = reader.office_active_at(
                    link.record_key.office, block_times[event.block_number]
                )
            assert parsed is not None
            check = judge_link(
                parsed,
                position,
                member=member,
                first=first,
                claimed_on=claimed_filing_date(parsed, earlier),
            )
            findings.append(LinkFinding(event.seq, check))
        earlier.append(document)
    return tuple(findings)


__all__ = ["LinkFinding", "check_anchored_links"]
