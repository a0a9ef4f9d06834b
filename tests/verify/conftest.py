"""A record anchored on anvil, shared by the verification tests of one module.

One anvil per module keeps the many mutation cases fast; each test reads the chain through a
fresh connection and never writes to it (tests that write start their own chain).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.encoding import canonical_bytes
from ipchain.register.ledger import EventToAnchor
from ipchain.verification import build_bundle
from tests.helpers.consortium import Consortium, deploy_test_consortium

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


@pytest.fixture(scope="module")
def anchored(anvil_binary: Path) -> Iterator[AnchoredRecord]:
    node = AnvilNode.start()
    try:
        backend = RpcChain.connect(node.url)
        consortium = deploy_test_consortium(backend)
        documents = [
            register_document(RECORD_KEY, "A10", 1, applicant="Acme"),
            register_document(RECORD_KEY, "Q10", 8),
            register_document(RECORD_KEY, "F10", 20),
        ]
        other = [register_document(OTHER_KEY, "A10", 2), register_document(OTHER_KEY, "Q10", 9)]
        signer = consortium.signers["EM"]
        consortium.ledger.anchor(signer, [to_anchor(documents[0]), to_anchor(other[0])])
        consortium.ledger.anchor(
            signer, [to_anchor(other[1]), to_anchor(documents[1]), to_anchor(documents[2])]
        )
        bundle = build_bundle(backend, consortium.deployment, RECORD_KEY)
        yield AnchoredRecord(node, consortium, documents, bundle)
        backend.close()
    finally:
        node.stop()
