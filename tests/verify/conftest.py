"""A record anchored on anvil, shared by the verification tests of one module.

One anvil per module keeps the many mutation cases fast; each test reads the chain through a
fresh connection and never writes to it (tests that write start their own chain).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.verification import build_bundle
from tests.helpers.anchored_record import (
    OTHER_KEY,
    RECORD_KEY,
    AnchoredRecord,
    register_document,
    to_anchor,
)
from tests.helpers.consortium import deploy_test_consortium


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
