"""Issue 14 through the API, on anvil: consortium revocation by vote (one attestation, or an
office's attestations since a time), admin replacement, validity that follows the issuer's
status (``/attestations/{uid}?at=|block=``, checked against the contract), proposals that
lapse with their proposer, the last active office, and bad input answered with a problem
naming the contract's custom error and nothing written.

One consortium (EM, AU, RU) serves the module; the tests run in file order and the later ones
change membership, so each leaves what the next needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.db.governance import (
    attestations,
    issuer_revocations,
    office_admin_changes,
    office_signers,
    office_status_history,
    offices,
    proposal_votes,
    proposals,
)
from ipchain.db.indexer import Indexer
from ipchain.db.register import indexer_checkpoints
from ipchain.keys import OfficeKey
from ipchain.node.service import node_handlers
from ipchain.node.setup import fund
from tests.governance_api.conftest import World, build_world, close_world, party_claim
from tests.helpers.consortium import new_key

PARTY = "ipchain/party-identity/v1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("terms") / "node", shaped=False)
    try:
        yield built
    finally:
        close_world(built)


def issue(world: World, office: str) -> dict[str, Any]:
    response = world.post("/attestations", office, {"schema": PARTY, "claim": party_claim(office)})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def propose(world: World, office: str, body: dict[str, Any]) -> dict[str, Any]:
    response = world.post("/proposals", office, body)
    assert response.status_code == 201, response.text
    proposal: dict[str, Any] = response.json()
    return proposal


def vote(world: World, office: str, proposal_id: int) -> dict[str, Any]:
    response = world.post(f"/proposals/{proposal_id}/votes", office)
    assert response.status_code == 201, response.text
    outcome: dict[str, Any] = response.json()
    return outcome


def validity(world: World, uid: str, **params: Any) -> dict[str, Any]:
    response = world.get(f"/attestations/{uid}", **params)
    assert response.status_code == 200, response.text
    judged: dict[str, Any] = response.json()["validity"]
    return judged


def on_chain_at(world: World, uid: str, timestamp: int) -> bool:
    registry = world.service.governance_actions.attestations
    return registry.is_valid_at(bytes.fromhex(uid[2:]), timestamp)


def refused(world: World, office: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /proposals that must fail; checks that no proposal was made."""
    count = world.governance.proposal_count()
    response = world.post("/proposals", office, body)
    assert response.status_code >= 400, response.text
    assert world.governance.proposal_count() == count
    problem: dict[str, Any] = response.json()
    problem["status_code"] = response.status_code
    return problem


def funded(world: World) -> OfficeKey:
    key = new_key()
    fund(world.service.node.backend, [key.address])
    return key


def test_a_vote_revokes_an_attestation_and_the_index_shows_it(world: World) -> None:
    made = issue(world, "AU")
    world.advance_time(10)
    proposal = propose(world, "EM", {"action": "revoke-attestation", "uid": made["uid"]})
    assert (proposal["action"], proposal["data_hash"]) == ("revoke-attestation", made["uid"])
    assert vote(world, "RU", proposal["proposal_id"])["executed"]
    world.wait_indexed()
    stored = world.get(f"/attestations/{made['uid']}").json()
    assert stored["validity"]["status"] == "revoked"
    assert stored["revoker"] == world.governance.registry_address
    revoked_at = int(dt.datetime.fromisoformat(stored["revoked_at"]).timestamp())
    assert validity(world, made["uid"], at=revoked_at - 1)["valid"]
    assert not on_chain_at(world, made["uid"], revoked_at)
    again = refused(world, "EM", {"action": "revoke-attestation", "uid": made["uid"]})
    assert (again["status_code"], again["code"], again["contract_error"]) == (
        409,
        "already-revoked",
        "OfficeRegistryAttestationAlreadyRevoked",
    )


def test_a_vote_revokes_an_offices_attestations_since_a_time(world: World) -> None:
    before = issue(world, "AU")
    world.advance_time(10)
    since = world.chain_time() + 1
    world.advance_time(10)
    after = issue(world, "AU")
    proposal = propose(
        world, "EM", {"action": "revoke-attestations-issued-since", "office": "AU", "value": since}
    )
    assert vote(world, "RU", proposal["proposal_id"])["executed"]
    world.wait_indexed()
    assert validity(world, before["uid"])["status"] == "valid"
    assert validity(world, after["uid"])["status"] == "revoked"
    stored = world.get(f"/attestations/{after['uid']}").json()
    assert stored["revoker"] == world.governance.registry_address
    listed = world.get("/proposals", action="revoke-attestations-issued-since").json()
    assert [item["proposal_id"] for item in listed["items"]] == [proposal["proposal_id"]]
    world.advance_time(10)  # issued in the decision's second, it would be covered too
    later = issue(world, "AU")
    world.wait_indexed()
    assert validity(world, later["uid"])["status"] == "valid"
    now = world.chain_time()
    for made in (before, after, later):
        assert validity(world, made["uid"], at=now)["valid"] == on_chain_at(world, made["uid"], now)


@pytest.mark.parametrize(
    ("body", "status", "code", "contract_error"),
    [
        (
            {"action": "revoke-attestation", "uid": "0x" + "11" * 32},
            422,
            "unknown-attestation",
            "OfficeRegistryUnknownAttestation",
        ),
        (
            {"action": "revoke-attestations-issued-since", "office": "XA", "value": 0},
            422,
            "unknown-office",
            "OfficeRegistryUnknownOffice",
        ),
        ({"action": "revoke-attestation"}, 422, "invalid-input", None),
        ({"action": "revoke-attestation", "uid": "0x12"}, 422, "invalid-input", None),
        ({"action": "revoke-attestation", "uid": "0x" + "00" * 32}, 422, "invalid-input", None),
        (
            {"action": "revoke-attestation", "uid": "0x" + "11" * 32, "office": "AU"},
            422,
            "invalid-input",
            None,
        ),
        (
            {"action": "revoke-attestations-issued-since", "office": "AU"},
            422,
            "invalid-input",
            None,
        ),
        ({"action": "replace-admin", "office": "AU"}, 422, "invalid-input", None),
        (
            {"action": "readmit-office", "office": "AU", "account": "0x" + "22" * 20},
            422,
            "invalid-input",
            None,
        ),
        ({"action": "no-such-action"}, 422, "invalid-input", None),
    ],
)
def test_bad_proposals_are_answered_with_a_problem_and_write_nothing(
    world: World, body: dict[str, Any], status: int, code: str, contract_error: str | None
) -> None:
    problem = refused(world, "EM", body)
    assert (problem["status_code"], problem["code"]) == (status, code), problem
    assert problem.get("contract_error") == contract_error


def test_rotation_to_a_key_bound_elsewhere_is_a_conflict(world: World) -> None:
    for taken in (world.signer("AU").address, world.admin("RU").address):
        problem = refused(
            world, "EM", {"action": "replace-admin", "office": "AU", "account": taken}
        )
        assert (problem["status_code"], problem["code"], problem["contract_error"]) == (
            409,
            "conflict",
            "OfficeRegistryAccountInUse",
        )


def test_validity_follows_the_issuers_suspension_and_proposals_lapse(world: World) -> None:
    made = issue(world, "AU")
    pending = propose(world, "AU", {"action": "approve-schema", "name": '{"by":"AU"}'})
    world.advance_time(10)
    suspend = propose(world, "EM", {"action": "suspend-office", "office": "AU"})
    assert vote(world, "RU", suspend["proposal_id"])["executed"]
    world.wait_indexed()
    stored = world.get(f"/attestations/{made['uid']}").json()
    assert stored["validity"]["status"] == "issuer-suspended"
    suspended_block = world.get("/offices/AU").json()["status_history"][-1]["block_number"]
    assert validity(world, made["uid"], block=suspended_block - 1)["status"] == "valid"
    assert validity(world, made["uid"], block=suspended_block)["status"] == "issuer-suspended"
    now = world.chain_time()
    assert validity(world, made["uid"], at=now)["valid"] == on_chain_at(world, made["uid"], now)

    lapsed = world.get(f"/proposals/{pending['proposal_id']}").json()
    assert (lapsed["state"], lapsed["votes"], lapsed["voters"]) == ("lapsed", 0, [])
    assert [p["proposal_id"] for p in world.get("/proposals", state="lapsed").json()["items"]] == [
        pending["proposal_id"]
    ]
    execute = world.post(f"/proposals/{pending['proposal_id']}/execute", "EM")
    assert execute.status_code == 409
    assert (execute.json()["code"], execute.json()["contract_error"]) == (
        "proposal-lapsed",
        "OfficeRegistryProposalLapsed",
    )

    reinstate = propose(world, "EM", {"action": "reinstate-office", "office": "AU"})
    assert vote(world, "RU", reinstate["proposal_id"])["executed"]
    world.wait_indexed()
    assert validity(world, made["uid"])["status"] == "valid"
    assert world.get(f"/proposals/{pending['proposal_id']}").json()["state"] == "lapsed"


def test_an_admin_replaced_by_vote(world: World) -> None:
    """RU's admin key is replaced by one the node does not hold: RU's token can no longer
    govern through this node, and the index shows the new admin."""
    fresh = funded(world)
    proposal = propose(
        world, "EM", {"action": "replace-admin", "office": "RU", "account": fresh.address}
    )
    assert proposal["action"] == "replace-admin"
    assert vote(world, "AU", proposal["proposal_id"])["executed"]
    world.wait_indexed()
    office = world.get("/offices/RU").json()
    assert office["admin"] == fresh.address and office["status"] == "active"
    denied = world.post("/proposals", "RU", {"action": "approve-schema", "name": '{"old":"key"}'})
    assert denied.status_code == 403
    assert denied.json()["contract_error"] == "OfficeRegistryNotActiveAdmin"
    # The new key governs (here through the binding: the node's keystore has the old one).
    gov = world.governance
    proposal_id = gov.propose_approve_schema(fresh, '{"new":"RU admin"}')
    world.wait_indexed()
    assert world.get(f"/proposals/{proposal_id}").json()["proposer"] == "RU"


def test_the_last_active_office_cannot_leave(world: World) -> None:
    """Suspend RU, then AU (votes for its own suspension): EM is the last active office."""
    suspend_ru = propose(world, "EM", {"action": "suspend-office", "office": "RU"})
    assert vote(world, "AU", suspend_ru["proposal_id"])["executed"]
    suspend_au = propose(world, "EM", {"action": "suspend-office", "office": "AU"})
    assert vote(world, "AU", suspend_au["proposal_id"])["executed"]
    assert world.governance.active_office_count() == 1
    for action in ("suspend-office", "remove-office"):
        problem = refused(world, "EM", {"action": action, "office": "EM"})
        assert (problem["status_code"], problem["code"], problem["contract_error"]) == (
            409,
            "last-active-office",
            "OfficeRegistryLastActiveOffice",
        )
    assert world.governance.active_office_count() == 1


def test_every_governance_and_attestation_error_has_a_problem_type() -> None:
    """A write may meet any custom error of the two contracts: each has a stable problem code
    (no 502 contract-revert for a refusal the contracts name)."""
    from api.problems import CONTRACT_ERRORS, PROBLEM_TYPES
    from ipchain.contracts.bindings import load_interface

    for name in ("OfficeRegistry", "AttestationRegistry"):
        abi = load_interface(name).abi
        errors = {item["name"] for item in abi if item["type"] == "error"}
        errors -= {"ECDSAInvalidSignature", "ECDSAInvalidSignatureLength", "ECDSAInvalidSignatureS"}
        errors -= {"InvalidAccountNonce", "InvalidShortString", "StringTooLong"}  # OpenZeppelin
        missing = sorted(errors - CONTRACT_ERRORS.keys())
        assert missing == [], f"{name}: {missing}"
    assert {code for _, code in CONTRACT_ERRORS.values()} <= PROBLEM_TYPES.keys()


# --- the index: one range or many, and a rollback ------------------------------------------

_TABLES = (
    offices,
    office_status_history,
    office_admin_changes,
    office_signers,
    proposals,
    proposal_votes,
    attestations,
    issuer_revocations,
)


def _dump(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    with sessions() as session:
        return {
            table.name: sorted(tuple(row) for row in session.execute(select(table)).all())
            for table in _TABLES
        }


def _fresh_index(tmp_path: Path, world: World) -> tuple[sessionmaker[Session], Indexer]:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))
    node = world.service.node
    handlers = node_handlers(node.backend, node.deployment)
    indexer = Indexer(
        node.backend, node.deployment, sessions, handlers, name="again", chunk_blocks=1_000_000
    )
    return sessions, indexer


def test_one_range_gives_the_index_the_live_node_built(world: World, tmp_path: Path) -> None:
    """In one range each event kind comes in one group: a term's end may be handled before the
    votes and proposals it voids, a consortium revocation before the attestations it covers."""
    world.wait_indexed()
    sessions, indexer = _fresh_index(tmp_path, world)
    indexer.run_once()
    assert _dump(sessions) == _dump(world.service.session_factory)


def test_a_rollback_past_term_ends_restores_votes_admins_and_revocations(
    world: World, tmp_path: Path
) -> None:
    world.wait_indexed()
    sessions, indexer = _fresh_index(tmp_path, world)
    indexer.run_once()
    expected = _dump(sessions)
    with sessions() as session:
        first_revocation = session.scalar(select(func.min(issuer_revocations.c.block_number)))
    fork = int(first_revocation or 0) - 1
    with sessions() as session, session.begin():
        for rollback in indexer.handlers.rollbacks:
            rollback(session, fork)
        session.execute(
            update(indexer_checkpoints)
            .where(indexer_checkpoints.c.name == "again")
            .values(block_number=fork, block_hash=world.service.node.backend.get_block(fork).hash)
        )
    rolled_back = _dump(sessions)
    assert rolled_back["issuer_attestation_revocations"] == []
    assert all(row[1] <= fork for row in rolled_back["office_admin_changes"])
    ru = next(row for row in rolled_back["offices"] if row[0] == "RU")
    assert ru[3] == world.admin("RU").address  # its admin replacement undone
    assert all(row[-1] is None or row[-1] <= fork for row in rolled_back["proposal_votes"])
    indexer.run_once()
    assert _dump(sessions) == expected
