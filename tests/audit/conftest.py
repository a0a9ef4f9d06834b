"""A register anchored on anvil once per module, and a freshly indexed database per test.

The chain is shared and only read by the tests (tests that anchor more events do so on records
of their own); each test indexes it into an empty database of its own, SQLite or PostgreSQL,
then tampers with that database directly in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.config import Settings
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.node.service import NodeService, ServiceOptions
from tests.helpers.consortium import deploy_test_consortium
from tests.helpers.database import empty_database
from tests.helpers.indexed_node import IndexedNode, Register, anchor_register


@pytest.fixture(scope="module")
def register(anvil_binary: Path) -> Iterator[Register]:
    node = AnvilNode.start()
    try:
        backend = RpcChain.connect(node.url)
        consortium = deploy_test_consortium(backend)
        anchor_register(consortium)
        yield Register(node, backend, consortium)
        backend.close()
    finally:
        node.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL (PostgreSQL cases get a schema of their own)."""
    with empty_database(request.param, tmp_path, "audit") as url:
        yield url


@pytest.fixture
def indexed(register: Register, database_url: str, tmp_path: Path) -> Iterator[IndexedNode]:
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    deployment = register.consortium.deployment
    (data_dir / "deployment.json").write_text(json.dumps(deployment.to_json()), "utf-8")
    settings = Settings(data_dir=data_dir, rpc_url=register.url, database_url=database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    node = IndexedNode(register, settings, engine, session_factory(engine))
    node.index()
    try:
        yield node
    finally:
        engine.dispose()


@pytest.fixture
def api(indexed: IndexedNode) -> Iterator[TestClient]:
    """The node's HTTP API over its (possibly tampered) database; nothing runs behind it."""
    service = NodeService(
        indexed.settings,
        ServiceOptions(run_submitter=False, run_indexer=False),
        signer_keys={},
    ).start()
    try:
        with TestClient(create_app(service)) as client:
            yield client
    finally:
        service.stop()


Tamper = Callable[[IndexedNode], None]
