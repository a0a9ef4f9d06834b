"""Shared fixtures: chain backends (embedded and anvil) and a deployed demo consortium.

Tests taking ``backend`` or ``consortium`` run once per backend: this is the backend
conformance suite (web3.py style) — the same assertions against the embedded py-evm chain and a
real JSON-RPC node.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from ipchain.chain.anvil import AnvilNode, find_anvil_binary
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment, FoundingOffice, deploy_consortium
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import Ledger

# Test keystores use a cheap scrypt cost: still encrypted, but unlocking takes milliseconds.
os.environ.setdefault("IPCHAIN_KEYSTORE_FAST_KDF", "1")

OFFICES = ("EM", "AU", "RU")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def new_key() -> OfficeKey:
    """A fresh random key (tests need no keystore)."""
    return OfficeKey.from_private_key(bytes(Account.create().key))


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


@dataclass
class Consortium:
    """A deployed consortium of three offices with their keys."""

    backend: ChainBackend
    deployment: Deployment
    ledger: Ledger
    admins: dict[str, OfficeKey]
    signers: dict[str, OfficeKey]
    outsider: OfficeKey


def deploy_test_consortium(backend: ChainBackend, offices: tuple[str, ...] = OFFICES) -> Consortium:
    deployer = new_key()
    admins = {code: new_key() for code in offices}
    signers = {code: new_key() for code in offices}
    outsider = new_key()
    accounts = [deployer, outsider, *admins.values(), *signers.values()]
    fund(backend, [key.address for key in accounts])
    founders = [
        FoundingOffice(
            code=code,
            name=f"Office {code}",
            admin=admins[code].address,
            signers=(signers[code].address,),
        )
        for code in offices
    ]
    deployment = deploy_consortium(backend, deployer, founders, voting_period_seconds=3600)
    return Consortium(
        backend=backend,
        deployment=deployment,
        ledger=Ledger(backend, deployment),
        admins=admins,
        signers=signers,
        outsider=outsider,
    )


@pytest.fixture
def consortium(backend: ChainBackend) -> Consortium:
    return deploy_test_consortium(backend)


def postgres_url() -> str | None:
    return os.environ.get("IPCHAIN_TEST_POSTGRES_URL")


@contextmanager
def empty_database(kind: str, tmp_path: Path, prefix: str = "test") -> Iterator[str]:
    """The URL of an empty database: SQLite in ``tmp_path``, or a fresh schema of its own on the
    PostgreSQL server of ``IPCHAIN_TEST_POSTGRES_URL`` (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    server = postgres_url()
    if server is None:
        pytest.skip("PostgreSQL cases need IPCHAIN_TEST_POSTGRES_URL (a server URL)")
    from sqlalchemy import create_engine, make_url, text

    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
