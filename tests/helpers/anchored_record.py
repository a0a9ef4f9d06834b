"""A record anchored on anvil for the verification tests: its documents, events and bundle."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from ipchain.chain.anvil import AnvilNode
from ipchain.encoding import canonical_bytes
from ipchain.register.ledger import EventToAnchor
from tests.helpers.consortium import Consortium

RECORD_KEY = "EM/TM/018123456"
OTHER_KEY = "EM/TM/018999999"


def register_document(record_key: str, event_code: str, day: int, **extra: Any) -> dict[str, Any]:
    """A register event document shaped like ``RegisterEvent.to_document``."""
    return {
        "schema": "ipchain/register-event/1",
        "record_key": record_key,
        "event_code": event_code,
        "event_date": f"2024-03-{day:02d}",
        "record_data": {"mark_verbal_element": "Ünïcødé ✓ 商标", **extra},
    }


def to_anchor(document: dict[str, Any], *, publish: bool = True) -> EventToAnchor:
    """The event to anchor for a document (its canonical bytes published, or its hash only)."""
    canonical = canonical_bytes(document)
    return EventToAnchor(
        document["record_key"],
        document["event_code"],
        hashlib.sha256(canonical).digest(),
        canonical if publish else b"",
    )


@dataclass
class AnchoredRecord:
    """A consortium on anvil with one record of three events (two transactions, two blocks),
    interleaved with another record's events."""

    node: AnvilNode
    consortium: Consortium
    documents: list[dict[str, Any]]
    bundle: dict[str, Any]

    @property
    def url(self) -> str:
        return self.node.url

    def fresh_bundle(self) -> dict[str, Any]:
        """A deep copy of the bundle, for a test to mutate."""
        return copy.deepcopy(self.bundle)
