"""The authorisation matrix, at contract level: who may write register events, attest, revoke,
propose, vote and execute — each denial with its exact custom error, each allowed case
succeeding — checked against RegisterLedger and AttestationRegistry themselves, not only the
OfficeRegistry's view of the office.

One consortium per backend serves the whole matrix (building it takes ~40 transactions):
five founding offices, of which FR is then suspended, DE removed, and one of EM's two signer
keys revoked, all by vote. Every cell creates what it acts on (a fresh record, attestation or
proposal), so cells do not depend on each other's order.

Rows are credentials (the transaction's sender key):
  member        EM's own keys (signer to write, admin to govern)
  other_office  AU's keys acting on EM's records, attestations and proposals
  suspended     FR's keys after FR's suspension
  removed       DE's keys after DE's removal
  revoked_key   EM's revoked signer key
  no_credential a fresh key the consortium has never seen
  non_member    the consortium's outsider account
  wrong_role    EM's admin key used to write, EM's signer key used to govern
Proposal-state denials (expired, double vote, executed, below threshold) are in
test_proposals.py, since expiry needs time control.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ipchain.attestations import (
    PARTY_IDENTITY_SCHEMA,
    Attestation,
    Attestations,
    AttestationStatus,
)
from ipchain.chain.base import ChainBackend
from ipchain.contracts.office_registry import Governance, OfficeStatus
from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.errors import ContractRevertError
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from tests.helpers.consortium import Consortium, deploy_test_consortium, new_key
from tests.helpers.governance import (
    anchor_one,
    approve_standard_schemas,
    pass_proposal,
    record_event_directly,
)

ALLOWED = "allowed"
ROWS = (
    "member",
    "other_office",
    "suspended",
    "removed",
    "revoked_key",
    "no_credential",
    "non_member",
    "wrong_role",
)
_counter = itertools.count()


def party_claim(office: str) -> dict[str, str]:
    return {
        "party_id": f"{office}:applicant:{next(_counter)}",
        "role": "applicant",
        "name": "Example Trading Ltd",
        "office_code": office,
    }


@dataclass
class World:
    consortium: Consortium
    gov: Governance
    attestations: Attestations
    retired_em_signer: OfficeKey
    stranger: OfficeKey
    past_entries: dict[str, AnchoredEvent]
    past_attestations: dict[str, Attestation]
    executable: Iterator[int]
    """Proposals that passed once the electorate shrank, left for ``execute`` cells."""

    def signer(self, row: str) -> OfficeKey:
        c = self.consortium
        return {
            "member": c.signers["EM"],
            "other_office": c.signers["AU"],
            "suspended": c.signers["FR"],
            "removed": c.signers["DE"],
            "revoked_key": self.retired_em_signer,
            "no_credential": self.stranger,
            "non_member": c.outsider,
            "wrong_role": c.admins["EM"],
        }[row]

    def admin(self, row: str) -> OfficeKey:
        c = self.consortium
        return {
            "member": c.admins["EM"],
            "other_office": c.admins["AU"],
            "suspended": c.admins["FR"],
            "removed": c.admins["DE"],
            "revoked_key": self.retired_em_signer,
            "no_credential": self.stranger,
            "non_member": c.outsider,
            "wrong_role": c.signers["EM"],
        }[row]


@pytest.fixture(scope="module")
def world(module_backend: ChainBackend) -> World:
    return _build_world(module_backend)


def _build_world(backend: ChainBackend) -> World:
    c = deploy_test_consortium(backend, ("EM", "AU", "RU", "FR", "DE"))
    gov = Governance(backend, c.deployment)
    registry = Attestations(backend, c.deployment)
    admins = c.admins
    approve_standard_schemas(c)
    retired, stranger = new_key(), new_key()
    fund(backend, [retired.address, stranger.address])
    pass_proposal(
        gov,
        gov.propose_add_signer(admins["EM"], "EM", retired.address),
        [admins["AU"], admins["RU"]],
    )

    # What FR, DE and the soon-revoked key wrote while they could.
    past_entries = {
        "FR": anchor_one(c.ledger, c.signers["FR"], "FR/TM/1000", "FR filed"),
        "DE": anchor_one(c.ledger, c.signers["DE"], "DE/DS/1000", "DE filed"),
        "revoked_key": anchor_one(c.ledger, retired, "EM/TM/1000", "EM filed"),
    }
    past_attestations = {
        "FR": registry.attest(c.signers["FR"], PARTY_IDENTITY_SCHEMA, party_claim("FR")),
        "revoked_key": registry.attest(retired, PARTY_IDENTITY_SCHEMA, party_claim("EM")),
    }

    # Two votes of five do not pass; once only three offices are active, they do.
    executable = [
        gov.propose_approve_schema(admins["EM"], f'{{"test":"executable {n}"}}') for n in ROWS
    ]
    for proposal_id in executable:
        assert not gov.vote(admins["AU"], proposal_id)

    pass_proposal(gov, gov.propose_suspend_office(admins["EM"], "FR"), [admins["AU"], admins["RU"]])
    pass_proposal(gov, gov.propose_remove_office(admins["EM"], "DE"), [admins["AU"], admins["RU"]])
    pass_proposal(
        gov, gov.propose_revoke_signer(admins["EM"], "EM", retired.address), [admins["AU"]]
    )
    assert gov.active_office_count() == 3
    return World(
        c, gov, registry, retired, stranger, past_entries, past_attestations, iter(executable)
    )


# ------------------------------------------------------------------------------ the actions


def submit(world: World, row: str) -> object:
    key = world.signer(row)
    office = {"other_office": "EM", "suspended": "FR", "removed": "DE"}.get(row, "EM")
    record_key = f"{office}/TM/{next(_counter)}"
    receipt = record_event_directly(world.consortium.ledger, key, record_key, row)
    (entry,) = world.consortium.ledger.record_entries(record_key)
    assert (entry.office, entry.signer, entry.block_number) == (
        "EM",
        key.address,
        receipt.block_number,
    )
    return entry


def attest(world: World, row: str) -> object:
    attestation = world.attestations.attest(
        world.signer(row), PARTY_IDENTITY_SCHEMA, party_claim("EM")
    )
    # The credential decides the issuing office; no key can attest for another office.
    assert attestation.issuer_office == {"other_office": "AU"}.get(row, "EM")
    assert world.attestations.is_valid(attestation.uid)
    return attestation


def revoke_em_attestation(world: World, row: str) -> object:
    em = world.consortium.signers["EM"]
    target = world.attestations.attest(em, PARTY_IDENTITY_SCHEMA, party_claim("EM"))
    revoked = world.attestations.revoke(world.signer(row), target.uid)
    assert revoked.revoked_at is not None and not world.attestations.is_valid(target.uid)
    return revoked


def propose(world: World, row: str) -> object:
    proposal_id = world.gov.propose_approve_schema(world.admin(row), f'{{"n":{next(_counter)}}}')
    assert world.gov.proposal(proposal_id).votes == 1
    return proposal_id


def vote(world: World, row: str) -> object:
    proposal_id = world.gov.propose_approve_schema(
        world.consortium.admins["RU"], f'{{"n":{next(_counter)}}}'
    )
    executed = world.gov.vote(world.admin(row), proposal_id)
    assert executed and world.gov.proposal(proposal_id).executed  # 2 of 3 active offices
    return proposal_id


def execute(world: World, row: str) -> object:
    proposal_id = next(world.executable)
    # The votes decided; executing only applies the decision, so any account may.
    world.gov.execute(world.admin(row), proposal_id)
    assert world.gov.proposal(proposal_id).executed
    return proposal_id


ACTIONS: dict[str, Callable[[World, str], object]] = {
    "submit": submit,
    "attest": attest,
    "revoke_others": revoke_em_attestation,
    "propose": propose,
    "vote": vote,
    "execute": execute,
}

_NOT_ADMIN = "OfficeRegistryNotActiveAdmin"
_NO_OFFICE = "AttestationUnauthorizedOffice"
_LEDGER_DENIED = "RegisterUnauthorizedOffice"
MATRIX: dict[str, dict[str, str]] = {
    "member": {
        "submit": ALLOWED,
        "attest": ALLOWED,
        "revoke_others": ALLOWED,  # EM revoking EM's own: the one allowed revocation
        "propose": ALLOWED,
        "vote": ALLOWED,
        "execute": ALLOWED,
    },
    "other_office": {
        "submit": "RegisterForeignRecord",
        "attest": ALLOWED,
        "revoke_others": "AttestationNotIssuer",
        "propose": ALLOWED,
        "vote": ALLOWED,
        "execute": ALLOWED,
    },
    **{
        row: {
            "submit": _LEDGER_DENIED,
            "attest": _NO_OFFICE,
            "revoke_others": _NO_OFFICE,
            "propose": _NOT_ADMIN,
            "vote": _NOT_ADMIN,
            "execute": ALLOWED,
        }
        for row in ("suspended", "removed", "revoked_key", "no_credential", "non_member")
    },
    "wrong_role": {
        "submit": _LEDGER_DENIED,
        "attest": _NO_OFFICE,
        "revoke_others": _NO_OFFICE,
        "propose": _NOT_ADMIN,
        "vote": _NOT_ADMIN,
        "execute": ALLOWED,
    },
}
CELLS = [(row, action, MATRIX[row][action]) for row in ROWS for action in ACTIONS]


@pytest.mark.parametrize(
    ("row", "action", "expected"), CELLS, ids=[f"{r}-{a}" for r, a, _ in CELLS]
)
def test_authorisation_matrix(world: World, row: str, action: str, expected: str) -> None:
    if expected == ALLOWED:
        ACTIONS[action](world, row)
        return
    with pytest.raises(ContractRevertError) as error:
        ACTIONS[action](world, row)
    assert error.value.error_name == expected, str(error.value)


def test_matrix_covers_every_row_and_action() -> None:
    assert set(MATRIX) == set(ROWS)
    assert all(set(cells) == set(ACTIONS) for cells in MATRIX.values())


def test_denials_name_the_account_and_office(world: World) -> None:
    """The custom errors' arguments say who was refused (what an operator needs to act)."""
    suspended = world.signer("suspended")
    with pytest.raises(ContractRevertError) as error:
        attest(world, "suspended")
    assert error.value.error_args == (suspended.address,)
    with pytest.raises(ContractRevertError) as error:
        revoke_em_attestation(world, "other_office")
    assert error.value.error_args[1] == b"AU"
    with pytest.raises(ContractRevertError) as error:
        propose(world, "removed")
    assert error.value.error_args == (world.admin("removed").address,)


def test_suspended_office_cannot_revoke_even_its_own_attestation(world: World) -> None:
    own = world.past_attestations["FR"]
    with pytest.raises(ContractRevertError) as error:
        world.attestations.revoke(world.signer("suspended"), own.uid)
    assert error.value.error_name == _NO_OFFICE


def test_past_entries_stay_and_attestations_follow_their_issuers_status(world: World) -> None:
    """Register entries stay anchored with their author whatever befalls the office or key. An
    attestation holds while its issuer is Active: FR's does not while FR is suspended (it
    held when issued); the revoked key's still holds, since its office EM is Active."""
    ledger = world.consortium.ledger
    expected = {
        "FR/TM/1000": ("FR", world.signer("suspended").address),
        "DE/DS/1000": ("DE", world.signer("removed").address),
        "EM/TM/1000": ("EM", world.retired_em_signer.address),
    }
    for record_key, (office, signer) in expected.items():
        (entry,) = ledger.record_entries(record_key)
        assert (entry.office, entry.signer) == (office, signer)
        assert entry.block_number > 0
    suspended, by_revoked_key = (
        world.past_attestations["FR"],
        world.past_attestations["revoked_key"],
    )
    assert not world.attestations.is_valid(suspended.uid)
    assert world.attestations.status_at(suspended.uid) is AttestationStatus.ISSUER_SUSPENDED
    assert world.attestations.is_valid(by_revoked_key.uid)
    assert world.past_attestations["revoked_key"].attester == world.retired_em_signer.address
    assert world.gov.office("FR").status is OfficeStatus.SUSPENDED
    assert world.gov.office("DE").status is OfficeStatus.REMOVED
    assert world.retired_em_signer.address not in world.gov.signers_of("EM")
    assert ledger.office_of(world.retired_em_signer.address) == (None, False)
