"""Fixtures for governance tests: a consortium shared by a whole module, for tests that only
read or are refused (bad input), so they do not each pay for a deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ipchain.chain.base import ChainBackend
from tests.helpers.consortium import Consortium, deploy_test_consortium
from tests.helpers.governance import approve_standard_schemas


def open_module_backend(kind: str, tmp_path: Path) -> tuple[ChainBackend, object]:
    """A backend of ``kind`` and the anvil process behind it (None for embedded)."""
    if kind == "embedded":
        from ipchain.chain.embedded import EmbeddedChain

        return EmbeddedChain.open(tmp_path / "chain"), None
    from ipchain.chain.anvil import AnvilNode, find_anvil_binary
    from ipchain.chain.rpc import RpcChain

    if find_anvil_binary() is None:
        pytest.skip("anvil is not installed (run 'npm ci')")
    node = AnvilNode.start()
    return RpcChain.connect(node.url), node


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def module_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChainBackend]:
    backend, node = open_module_backend(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield backend
    finally:
        backend.close()
        if node is not None:
            node.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def shared(module_backend: ChainBackend) -> Consortium:
    """EM, AU and RU with the standard schemas approved; tests must leave membership alone."""
    consortium = deploy_test_consortium(module_backend)
    approve_standard_schemas(consortium)
    return consortium
