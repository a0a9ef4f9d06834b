"""A consortium on anvil served by one node's API, set up for the API-level authorisation tests.

Anvil, not the embedded chain: proposal and attestation expiry need chain time control
(``evm_increaseTime``). One world is built per test module (tens of transactions):

* ``build_world(..., shaped=True)`` — founding offices EM, AU, RU, US, FR and DE (all their
  keys in the node's keystore, the standard schemas approved, each office's demo certificate
  bound), MT's keys in the keystore without MT being a member, and then, by vote: FR
  suspended, DE removed, US's only signer key revoked. Before the electorate shrank, seven
  proposals got three votes of six (not enough); with four active offices they pass and
  wait for ``execute``.
* ``build_world(..., shaped=False)`` — EM, AU and RU only, for tests that move chain time.

The node runs the full service (indexer, submitter) with its keystore's keys, as
``ipchain serve`` does, and each office gets an API token.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ipchain.chain.anvil import AnvilNode, find_anvil_binary
from ipchain.chain.rpc import RpcChain
from ipchain.config import Settings
from ipchain.contracts.office_registry import Governance
from ipchain.keys import OfficeKey, admin_key_name, signer_key_name
from ipchain.node.service import NodeService, ServiceOptions
from ipchain.node.setup import fund, init_node, keystore_password

SHAPED_OFFICES = (
    ("EM", "European Union Intellectual Property Office"),
    ("AU", "IP Australia"),
    ("RU", "Federal Service for Intellectual Property (Rospatent)"),
    ("US", "United States Patent and Trademark Office"),
    ("FR", "National Institute of Industrial Property (France)"),
    ("DE", "German Patent and Trade Mark Office"),
)
SMALL_OFFICES = SHAPED_OFFICES[:3]
NON_MEMBER = "MT"
"""An office whose keys the node holds but which the consortium never admitted."""

_counter = itertools.count(1)


def unique() -> int:
    """A number no other call in the session returns (fresh record keys, claims, schemas)."""
    return next(_counter)


@dataclass
class World:
    """A node serving a consortium on anvil, and what was set up on it."""

    anvil: AnvilNode
    service: NodeService
    client: TestClient
    tokens: dict[str, str]
    executable: Iterator[int] = field(default_factory=lambda: iter(()))
    """Proposals that passed once the electorate shrank, left for ``execute``."""

    def auth(self, office: str | None) -> dict[str, str]:
        """Authorization headers of ``office``'s token (none for None)."""
        return {} if office is None else {"Authorization": f"Bearer {self.tokens[office]}"}

    def admin(self, office: str) -> OfficeKey:
        return self.service.node.office_key(admin_key_name(office))

    def signer(self, office: str) -> OfficeKey:
        return self.service.node.office_key(signer_key_name(office))

    @property
    def governance(self) -> Governance:
        return self.service.governance

    def wait_indexed(self) -> None:
        """Until the index has read every block so far."""
        self.service.wait_until_idle(60)

    def advance_time(self, seconds: int) -> None:
        """Move chain time forward and mine a block."""
        backend = self.service.node.backend
        assert isinstance(backend, RpcChain)
        backend.request("evm_increaseTime", [seconds])
        backend.request("evm_mine", [])

    def chain_time(self) -> int:
        return self.service.governance_actions.chain_time()

    def post(self, path: str, office: str | None, json: Any = None) -> Any:
        return self.client.post(f"/api/v1{path}", json=json, headers=self.auth(office))

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params=params)


def party_claim(office: str) -> dict[str, str]:
    """A fresh ``ipchain/party-identity/v1`` claim by ``office``."""
    return {
        "party_id": f"{office}:applicant:{unique()}",
        "role": "applicant",
        "name": "Example Trading Ltd",
        "office_code": office,
    }


def filing(record_key: str) -> dict[str, Any]:
    """A trademark filing event document."""
    return {
        "schema": "ipchain/register-event/v1",
        "record_key": record_key,
        "event_code": "A10",
        "event_date": "2025-01-15",
        "record_data": {
            "mark_verbal_element_text": "NORDLICHT",
            "mark_feature_category": "Word",
            "applicants": [{"name": "Nordlicht GmbH", "country_code": "DE"}],
            "application_date": "2025-01-15",
            "nice_classes": [
                {"class_number": 9, "descriptions": [{"language_code": "en", "text": "goods"}]}
            ],
        },
    }


def build_world(directory: Path, *, shaped: bool) -> World:
    if find_anvil_binary() is None:
        pytest.skip("anvil is not installed (run 'npm ci')")
    anvil = AnvilNode.start()
    try:
        settings = Settings(data_dir=directory, rpc_url=anvil.url)
        offices = SHAPED_OFFICES if shaped else SMALL_OFFICES
        init_node(settings, offices).close()
        _add_non_member_keys(settings)
        service = NodeService(settings, ServiceOptions(indexer_interval=0.02)).start()
    except BaseException:
        anvil.stop()
        raise
    codes = [code for code, _ in offices] + [NON_MEMBER]
    world = World(
        anvil=anvil,
        service=service,
        client=TestClient(create_app(service)),
        tokens={code: service.create_token(code) for code in codes},
    )
    if shaped:
        world.executable = iter(_shape(world))
    world.wait_indexed()
    return world


def close_world(world: World) -> None:
    world.client.close()
    world.service.stop()
    world.anvil.stop()


def _add_non_member_keys(settings: Settings) -> None:
    from ipchain.node.setup import node_keystore, open_backend

    keystore = node_keystore(settings)
    password = keystore_password(settings)
    addresses = [
        keystore.create(name(NON_MEMBER), password) for name in (admin_key_name, signer_key_name)
    ]
    backend = open_backend(settings)
    try:
        fund(backend, addresses)
    finally:
        backend.close()


def _pass(gov: Governance, proposal_id: int, voters: list[OfficeKey]) -> None:
    for voter in voters:
        if gov.vote(voter, proposal_id):
            return
    raise AssertionError(f"proposal {proposal_id} did not pass")


def _shape(world: World) -> list[int]:
    gov = world.governance
    em, au, ru, us = (world.admin(code) for code in ("EM", "AU", "RU", "US"))
    # Three votes of six do not pass; once four offices are active, they do.
    executable = []
    for _ in range(7):  # one per credential row of the matrix
        proposal_id = gov.propose_approve_schema(em, f'{{"test":"executable {unique()}"}}')
        assert not gov.vote(au, proposal_id) and not gov.vote(ru, proposal_id)
        executable.append(proposal_id)
    _pass(gov, gov.propose_suspend_office(em, "FR"), [au, ru, us])
    _pass(gov, gov.propose_remove_office(em, "DE"), [au, ru])
    _pass(gov, gov.propose_revoke_signer(em, "US", world.signer("US").address), [au, ru])
    assert gov.active_office_count() == 4
    return executable


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The shaped consortium (see the module docstring)."""
    built = build_world(tmp_path_factory.mktemp("shaped") / "node", shaped=True)
    try:
        yield built
    finally:
        close_world(built)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """EM, AU and RU, for tests that move chain time."""
    built = build_world(tmp_path_factory.mktemp("small") / "node", shaped=False)
    try:
        yield built
    finally:
        close_world(built)


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
