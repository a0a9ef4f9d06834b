"""The authorisation matrix at API level: who may submit events, attest, revoke another
office's attestation, propose, vote and execute through a node's HTTP API — each denial a
problem response with a stable ``code`` (and the contract's error when the chain refused),
each allowed case succeeding on the chain.

A credential is an API token bound to one office; the node signs with that office's keys
(admin key: propose, vote, execute; signer key: submit, attest, revoke). Rows:

  member             EM's token (EM is active; its keys are current)
  no_credential      no Authorization header
  other_office       AU's token acting on EM's records and attestations
  suspended          FR's token (FR suspended by vote)
  removed            DE's token (DE removed by vote)
  revoked_key        US's token (US active, its signer key revoked by vote)
  non_member         MT's token (the node holds MT keys; MT was never admitted)
  expired_proposal   EM's token on a proposal whose voting period is over
  double_vote        a second vote of the same office; execute: a second execution
  vote_by_non_member MT's token voting on an open proposal

The last three rows are about a proposal's state: they apply to voting and executing only.
Credential rows run on the ``world`` consortium, proposal-state rows on ``small_world``
(they move chain time, which would expire the world's waiting proposals).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ipchain.governance.actions import ProposalRequest
from tests.governance_api.conftest import World, filing, party_claim, unique

ALLOWED = "allowed"
NOT_APPLICABLE = "n/a"
VOTING_PERIOD = 7 * 24 * 3600

ACTIONS = ("submit", "attest", "revoke_others", "propose", "vote", "execute")
CREDENTIAL_ROWS = {
    "member": "EM",
    "no_credential": None,
    "other_office": "AU",
    "suspended": "FR",
    "removed": "DE",
    "revoked_key": "US",
    "non_member": "MT",
}
STATE_ROWS = ("expired_proposal", "double_vote", "vote_by_non_member")

_DENIED_WRITER = {
    "submit": "unauthorized-office",
    "attest": "unauthorized-office",
    "revoke_others": "unauthorized-office",
}
_NOT_ADMIN = {"propose": "not-active-admin", "vote": "not-active-admin"}
_NOT_A_VOTE = {action: NOT_APPLICABLE for action in ("submit", "attest", "revoke_others")}
MATRIX: dict[str, dict[str, str]] = {
    "member": dict.fromkeys(ACTIONS, ALLOWED),  # revoke_others: EM revokes its own
    "no_credential": dict.fromkeys(ACTIONS, "unauthenticated"),
    "other_office": {
        "submit": "forbidden",
        "attest": ALLOWED,  # the issuer is AU: no token attests for another office
        "revoke_others": "not-issuer",
        "propose": ALLOWED,
        "vote": ALLOWED,
        "execute": ALLOWED,
    },
    # Executing applies a decision the votes already made: the contract lets any account.
    "suspended": {**_DENIED_WRITER, **_NOT_ADMIN, "execute": ALLOWED},
    "removed": {**_DENIED_WRITER, **_NOT_ADMIN, "execute": ALLOWED},
    # US's admin key is current: only its signer key was revoked.
    "revoked_key": {**_DENIED_WRITER, "propose": ALLOWED, "vote": ALLOWED, "execute": ALLOWED},
    "non_member": {**_DENIED_WRITER, **_NOT_ADMIN, "execute": ALLOWED},
    "expired_proposal": {
        **_NOT_A_VOTE,
        "propose": NOT_APPLICABLE,
        "vote": "proposal-expired",
        "execute": "proposal-expired",
    },
    "double_vote": {
        **_NOT_A_VOTE,
        "propose": NOT_APPLICABLE,
        "vote": "already-voted",
        "execute": "proposal-executed",
    },
    "vote_by_non_member": {
        **_NOT_A_VOTE,
        "propose": NOT_APPLICABLE,
        "vote": "not-active-admin",
        "execute": NOT_APPLICABLE,
    },
}
STATUS = {
    "unauthenticated": 401,
    "forbidden": 403,
    "unauthorized-office": 403,
    "not-active-admin": 403,
    "not-issuer": 403,
    "proposal-expired": 409,
    "already-voted": 409,
    "proposal-executed": 409,
}
CONTRACT_ERROR = {
    "unauthorized-office": ("RegisterUnauthorizedOffice", "AttestationUnauthorizedOffice", None),
    "not-active-admin": ("OfficeRegistryNotActiveAdmin",),
    "not-issuer": ("AttestationNotIssuer",),
    "proposal-expired": ("OfficeRegistryProposalExpired",),
    "already-voted": ("OfficeRegistryAlreadyVoted",),
    "proposal-executed": ("OfficeRegistryProposalAlreadyExecuted",),
}


# --- credential rows -------------------------------------------------------------------------


def submit(world: World, office: str | None, row: str) -> Any:
    owner = {"other_office": "EM"}.get(row, office or "EM")
    number = {
        "EM": f"{18_200_000 + unique():09d}",
        "FR": f"{4_900_000 + unique()}",
        "DE": f"30{2_025_000_000 + unique()}",
        "US": f"{97_000_000 + unique()}",
        "MT": f"{60_000 + unique()}",
    }[owner]
    response = world.post(f"/offices/{owner}/events", office, filing(f"{owner}/TM/{number}"))
    if response.status_code == 202:
        done = world.service.wait_for_submission(owner, response.json()["id"], 60)
        assert done.status == "anchored", done
        (entry,) = world.service.node.ledger.record_entries(f"{owner}/TM/{number}")
        assert entry.office == owner
    return response


def attest(world: World, office: str | None, row: str) -> Any:
    claimant = office or "EM"
    body = {"schema": "ipchain/party-identity/v1", "claim": party_claim(claimant)}
    response = world.post("/attestations", office, body)
    if response.status_code == 201:
        made = response.json()
        assert made["issuer_office"] == office  # the token decides the issuer
        assert world.service.governance_actions.attestations.is_valid(
            bytes.fromhex(made["uid"][2:])
        )
    return response


def revoke_em_attestation(world: World, office: str | None, row: str) -> Any:
    issued = world.service.governance_actions.attest(
        "EM", "ipchain/party-identity/v1", party_claim("EM")
    )
    uid = "0x" + issued.attestation.uid.hex()
    response = world.post(f"/attestations/{uid}/revoke", office)
    registry = world.service.governance_actions.attestations
    if response.status_code == 200:
        assert response.json()["revoked_at"] is not None
        assert not registry.is_valid(issued.attestation.uid)
    else:
        assert registry.is_valid(issued.attestation.uid)  # nothing changed
    return response


def propose(world: World, office: str | None, row: str) -> Any:
    definition = f'{{"test":"proposal {unique()}"}}'
    count = world.governance.proposal_count()
    response = world.post("/proposals", office, {"action": "approve-schema", "name": definition})
    if response.status_code == 201:
        assert response.json()["votes"] == 1
        assert response.json()["proposer"] == office
        assert world.governance.proposal_count() == count + 1
    else:
        assert world.governance.proposal_count() == count  # nothing on the chain
    return response


def vote(world: World, office: str | None, row: str) -> Any:
    actions = world.service.governance_actions
    request = ProposalRequest.build("approve-schema", name=f'{{"test":"vote {unique()}"}}')
    proposal = actions.propose("RU", request)
    response = world.post(f"/proposals/{proposal.proposal_id}/votes", office)
    votes = world.governance.proposal(proposal.proposal_id).votes
    if response.status_code == 201:
        assert response.json()["voter"] == office and votes == 2
        assert world.governance.has_voted(proposal.proposal_id, str(office))
    else:
        assert votes == 1
    return response


def execute(world: World, office: str | None, row: str) -> Any:
    proposal_id = next(world.executable)
    response = world.post(f"/proposals/{proposal_id}/execute", office)
    executed = world.governance.proposal(proposal_id).executed
    if response.status_code == 200:
        assert response.json()["state"] == "executed" and executed
    else:
        assert not executed
    return response


CREDENTIAL_ACTIONS: dict[str, Callable[[World, str | None, str], Any]] = {
    "submit": submit,
    "attest": attest,
    "revoke_others": revoke_em_attestation,
    "propose": propose,
    "vote": vote,
    "execute": execute,
}


# --- proposal-state rows ---------------------------------------------------------------------


def _open_proposal(world: World, office: str = "EM") -> int:
    request = ProposalRequest.build("approve-schema", name=f'{{"test":"state {unique()}"}}')
    return world.service.governance_actions.propose(office, request).proposal_id


def expired_vote(world: World) -> Any:
    proposal_id = _open_proposal(world)
    world.advance_time(VOTING_PERIOD + 1)
    return world.post(f"/proposals/{proposal_id}/votes", "AU")


def expired_execute(world: World) -> Any:
    proposal_id = _open_proposal(world)
    world.advance_time(VOTING_PERIOD + 1)
    return world.post(f"/proposals/{proposal_id}/execute", "AU")


def double_vote(world: World) -> Any:
    proposal_id = _open_proposal(world, "EM")  # the proposer's vote counts at once
    response = world.post(f"/proposals/{proposal_id}/votes", "EM")
    assert world.governance.proposal(proposal_id).votes == 1
    return response


def double_execute(world: World) -> Any:
    proposal_id = _open_proposal(world)
    assert world.post(f"/proposals/{proposal_id}/votes", "AU").json()["executed"]
    return world.post(f"/proposals/{proposal_id}/execute", "RU")


def non_member_vote(world: World) -> Any:
    return world.post(f"/proposals/{_open_proposal(world)}/votes", "MT")


STATE_ACTIONS: dict[tuple[str, str], Callable[[World], Any]] = {
    ("expired_proposal", "vote"): expired_vote,
    ("expired_proposal", "execute"): expired_execute,
    ("double_vote", "vote"): double_vote,
    ("double_vote", "execute"): double_execute,
    ("vote_by_non_member", "vote"): non_member_vote,
}


# --- the matrix ------------------------------------------------------------------------------

CELLS = [
    (row, action, MATRIX[row][action])
    for row in (*CREDENTIAL_ROWS, *STATE_ROWS)
    for action in ACTIONS
    if MATRIX[row][action] != NOT_APPLICABLE
]


@pytest.mark.parametrize(
    ("row", "action", "expected"), CELLS, ids=[f"{r}-{a}" for r, a, _ in CELLS]
)
def test_authorisation_matrix(
    request: pytest.FixtureRequest, row: str, action: str, expected: str
) -> None:
    if row in CREDENTIAL_ROWS:
        world: World = request.getfixturevalue("world")
        response = CREDENTIAL_ACTIONS[action](world, CREDENTIAL_ROWS[row], row)
    else:
        world = request.getfixturevalue("small_world")
        response = STATE_ACTIONS[(row, action)](world)
    if expected == ALLOWED:
        assert response.status_code in (200, 201, 202), response.text
        return
    assert response.status_code == STATUS[expected], response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == expected, problem
    assert problem["status"] == STATUS[expected]
    assert problem["type"].endswith(f"/problems/{expected}")
    if expected in CONTRACT_ERROR:
        assert problem.get("contract_error") in CONTRACT_ERROR[expected], problem


def test_matrix_covers_every_row_and_action() -> None:
    assert set(MATRIX) == {*CREDENTIAL_ROWS, *STATE_ROWS}
    assert all(set(cells) == set(ACTIONS) for cells in MATRIX.values())
    for (row, action), _ in STATE_ACTIONS.items():
        assert MATRIX[row][action] != NOT_APPLICABLE
    applicable = {(r, a) for r in STATE_ROWS for a in ACTIONS if MATRIX[r][a] != NOT_APPLICABLE}
    assert applicable == set(STATE_ACTIONS)


def test_denials_say_who_and_why(world: World) -> None:
    """A refusal names the office and the reason, so an operator can act on it."""
    suspended = submit(world, "FR", "suspended").json()
    assert "FR" in suspended["detail"] and "suspended" in suspended["detail"]
    revoked = submit(world, "US", "revoked_key").json()
    assert world.signer("US").address in revoked["detail"] and "revoked" in revoked["detail"]
    outsider = propose(world, "MT", "non_member").json()
    assert outsider["contract_error"] == "OfficeRegistryNotActiveAdmin"
    assert world.admin("MT").address in outsider["detail"]


def test_an_invalid_token_is_no_credential(world: World) -> None:
    headers = {"Authorization": "Bearer ipc_" + "A" * 43}
    response = world.client.post(
        "/api/v1/proposals", json={"action": "suspend-office", "office": "AU"}, headers=headers
    )
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
