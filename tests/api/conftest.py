"""Nodes for the API tests: a node on the embedded chain, or several on one anvil, each with an
index on SQLite or PostgreSQL, served through FastAPI's test client.

Setting a node up is slow on purpose (scrypt keystores, a contract deployment), so it is done
once per session: ``node_template`` is an initialised data directory (embedded chain, keys,
deployment) that each test copies, and ``signer_keys`` holds the offices' signer keys
decrypted once, handed to each :class:`NodeService` instead of its keystore.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from ipchain.config import DEMO_OFFICES, Settings
from ipchain.keys import Keystore, OfficeKey, signer_key_name
from ipchain.node.service import NodeService, ServiceOptions
from ipchain.node.setup import init_node, keystore_password
from tests.helpers.database import postgres_url
from tests.helpers.nodes import RunningNode

OFFICE_CODES = tuple(code for code, _ in DEMO_OFFICES)


@pytest.fixture(scope="session")
def node_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised node data directory on the embedded chain (copied by each test)."""
    directory = tmp_path_factory.mktemp("template") / "node"
    init_node(Settings(data_dir=directory)).close()
    return directory


@pytest.fixture(scope="session")
def signer_keys(node_template: Path) -> dict[str, OfficeKey]:
    """The demo offices' signer keys, decrypted once."""
    settings = Settings(data_dir=node_template)
    keystore = Keystore(settings.keystore_dir)
    password = keystore_password(settings)
    return {code: keystore.load(signer_key_name(code), password) for code in OFFICE_CODES}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[Callable[[Path], str | None]]:
    """Makes index database URLs: SQLite in the node's directory (None: the default), or a
    fresh PostgreSQL schema per node, dropped afterwards."""
    if request.param == "sqlite":
        yield lambda _directory: None
        return
    server = postgres_url()
    if server is None:
        pytest.skip("PostgreSQL cases need IPCHAIN_TEST_POSTGRES_URL (a server URL)")
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    schemas: list[str] = []

    def make(_directory: Path) -> str:
        schema = f"api_{secrets.token_hex(6)}"
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        schemas.append(schema)
        url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def start_node(
    signer_keys: dict[str, OfficeKey], database: Callable[[Path], str | None]
) -> Iterator[Callable[..., RunningNode]]:
    """Starts node services (stopped at teardown): ``start_node(data_dir, offices=..., ...)``."""
    started: list[RunningNode] = []
    databases: dict[Path, str | None] = {}  # a restarted node finds its index again

    def start(
        data_dir: Path,
        *,
        offices: tuple[str, ...] = OFFICE_CODES,
        rpc_url: str | None = None,
        database_url: str | None = None,
        **options: Any,
    ) -> RunningNode:
        if data_dir not in databases:
            databases[data_dir] = database_url or database(data_dir)
        settings = Settings(data_dir=data_dir, rpc_url=rpc_url, database_url=databases[data_dir])
        service = NodeService(
            settings,
            ServiceOptions(signer_offices=offices, **options),
            signer_keys={code: signer_keys[code] for code in offices},
        ).start()
        node = RunningNode(service, TestClient(create_app(service)), settings)
        started.append(node)
        return node

    try:
        yield start
    finally:
        for node in reversed(started):
            node.client.close()
            node.service.stop()


@pytest.fixture
def embedded_dir(node_template: Path, tmp_path: Path) -> Path:
    """A copy of the template node (embedded chain) for one test."""
    directory = tmp_path / "node"
    shutil.copytree(node_template, directory)
    return directory


@pytest.fixture
def node(start_node: Callable[..., RunningNode], embedded_dir: Path) -> RunningNode:
    """A node of all three demo offices on the embedded chain."""
    return start_node(embedded_dir)
