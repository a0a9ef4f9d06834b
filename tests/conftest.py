"""Fixtures for every test: chain backends (embedded and anvil) and a deployed demo consortium.
Helpers that tests import live in ``tests.helpers``, not here.

Tests taking ``backend`` or ``consortium`` run once per backend: this is the backend
conformance suite (web3.py style) — the same assertions against the embedded py-evm chain and a
real JSON-RPC node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipchain.chain.anvil import AnvilNode, find_anvil_binary
from ipchain.chain.base import ChainBackend
from tests.helpers.consortium import Consortium, deploy_test_consortium

# Test keystores use a cheap scrypt cost: still encrypted, but unlocking takes milliseconds.
os.environ.setdefault("IPCHAIN_KEYSTORE_FAST_KDF", "1")


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    binary = find_anvil_binary()
    if binary is None:
        pytest.skip("anvil is not installed (run 'npm ci'; needs Node 20)")
    return binary


@pytest.fixture
def anvil(anvil_binary: Path) -> Iterator[AnvilNode]:
    node = AnvilNode.start()
    try:
        yield node
    finally:
        node.stop()


def _open_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> ChainBackend:
    if kind == "embedded":
        from ipchain.chain.embedded import EmbeddedChain

        return EmbeddedChain.open(tmp_path / "chain")
    node: AnvilNode = request.getfixturevalue("anvil")
    from ipchain.chain.rpc import RpcChain

    return RpcChain.connect(node.url)


@pytest.fixture(params=["embedded", "anvil"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ChainBackend]:
    chain = _open_backend(request.param, tmp_path, request)
    try:
        yield chain
    finally:
        chain.close()


@pytest.fixture
def consortium(backend: ChainBackend) -> Consortium:
    return deploy_test_consortium(backend)
