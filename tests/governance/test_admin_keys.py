"""Admin keys after issue 14, at contract level on both backends: replacing an office's admin by
vote (the old key is retired, its votes and proposals stop counting, the Besu allowlists
follow), the compromised-admin path (suspend, replace, reinstate), and re-admitting a removed
office under a fresh admin (its former keys retired, its old attestations not revived)."""

from __future__ import annotations

import pytest

from ipchain.attestations import PARTY_IDENTITY_SCHEMA, Attestations, AttestationStatus
from ipchain.besu import allowlists_from_registry
from ipchain.chain.base import ChainBackend
from ipchain.contracts.office_registry import (
    Governance,
    OfficeStatus,
    ProposalAction,
    ProposalState,
    StatusStep,
)
from ipchain.errors import ContractRevertError
from tests.helpers.consortium import Consortium, deploy_test_consortium
from tests.helpers.governance import (
    anchor_one,
    approve_standard_schemas,
    expect_revert,
    funded_key,
    party_claim,
    pass_proposal,
    raw_propose,
)


def test_replaced_admin_is_retired_and_the_new_one_governs(consortium: Consortium) -> None:
    c = consortium
    gov = Governance(c.backend, c.deployment)
    old, new = c.admins["AU"], funded_key(c.backend)
    proposal_id = gov.propose_replace_admin(c.admins["EM"], "AU", new.address)
    assert gov.proposal(proposal_id).action is ProposalAction.REPLACE_ADMIN
    pass_proposal(gov, proposal_id, [c.admins["RU"]])
    assert gov.office("AU").admin == new.address
    assert gov.office("AU").status is OfficeStatus.ACTIVE
    with pytest.raises(ContractRevertError) as error:
        gov.propose_approve_schema(old, '{"old":"admin"}')
    assert expect_revert(error, "OfficeRegistryNotActiveAdmin") == (old.address,)
    schema = gov.propose_approve_schema(new, '{"new":"admin"}')
    assert gov.proposal(schema).proposer == "AU"
    # The old key is retired for good: it can never be bound again, in any role.
    with pytest.raises(ContractRevertError) as error:
        gov.propose_add_signer(c.admins["EM"], "EM", old.address)
    assert expect_revert(error, "OfficeRegistryAccountInUse") == (old.address,)
    # Besu's account allowlist follows OfficeRegistry: the new admin in, the old one out.
    accounts = allowlists_from_registry(c.backend, c.deployment).accounts
    assert new.address in accounts and old.address not in accounts


def test_votes_and_proposals_of_a_replaced_admin_stop_counting(
    module_backend: ChainBackend,
) -> None:
    c = deploy_test_consortium(module_backend, ("EM", "AU", "RU", "CN", "JP"))
    gov = Governance(c.backend, c.deployment)
    old, new = c.admins["AU"], funded_key(c.backend)
    by_old = gov.propose_approve_schema(old, '{"proposed":"by the old key"}')
    em_proposal = gov.propose_approve_schema(c.admins["EM"], '{"voted":"by the old key"}')
    assert not gov.vote(old, em_proposal)  # 2 of 5
    replace = gov.propose_replace_admin(c.admins["EM"], "AU", new.address)
    pass_proposal(gov, replace, [c.admins["RU"], c.admins["CN"]])
    assert gov.proposal(by_old).state is ProposalState.LAPSED
    with pytest.raises(ContractRevertError) as error:
        gov.vote(c.admins["EM"], by_old)
    assert expect_revert(error, "OfficeRegistryProposalLapsed") == (by_old, b"AU")
    # The vote the old key cast no longer counts; the new key votes afresh.
    assert (gov.proposal(em_proposal).votes, gov.has_voted(em_proposal, "AU")) == (1, False)
    assert not gov.vote(new, em_proposal)
    assert gov.voters(em_proposal) == ("EM", "AU")
    assert gov.vote(c.admins["RU"], em_proposal)


def test_compromised_admin_is_suspended_replaced_and_reinstated(consortium: Consortium) -> None:
    c = consortium
    gov = Governance(c.backend, c.deployment)
    stolen, fresh = c.admins["RU"], funded_key(c.backend)
    # The thief votes for whatever is open before the honest offices react...
    pending = gov.propose_approve_schema(c.admins["EM"], '{"pending":"when stolen"}')
    pass_proposal(gov, gov.propose_suspend_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    with pytest.raises(ContractRevertError) as error:
        gov.vote(stolen, pending)  # ...but a suspended office's admin can do nothing
    assert expect_revert(error, "OfficeRegistryNotActiveAdmin") == (stolen.address,)
    pass_proposal(
        gov, gov.propose_replace_admin(c.admins["EM"], "RU", fresh.address), [c.admins["AU"]]
    )
    assert gov.office("RU").status is OfficeStatus.SUSPENDED  # still suspended, new key
    pass_proposal(gov, gov.propose_reinstate_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    assert gov.office("RU").admin == fresh.address
    with pytest.raises(ContractRevertError) as error:
        gov.vote(stolen, pending)
    assert expect_revert(error, "OfficeRegistryNotActiveAdmin") == (stolen.address,)
    assert gov.vote(fresh, pending)


def test_replace_admin_refuses_keys_bound_elsewhere_and_removed_offices(
    consortium: Consortium,
) -> None:
    c = consortium
    gov = Governance(c.backend, c.deployment)
    em = c.admins["EM"]
    for taken in (c.signers["RU"].address, c.admins["RU"].address, c.signers["AU"].address):
        with pytest.raises(ContractRevertError) as error:
            gov.propose_replace_admin(em, "AU", taken)
        assert expect_revert(error, "OfficeRegistryAccountInUse") == (taken,)
    with pytest.raises(ContractRevertError) as error:
        raw_propose(gov, em, ProposalAction.REPLACE_ADMIN, office=b"AU")  # no new admin
    assert expect_revert(error, "OfficeRegistryInvalidProposal") == (ProposalAction.REPLACE_ADMIN,)
    pass_proposal(gov, gov.propose_remove_office(em, "RU"), [c.admins["AU"]])
    with pytest.raises(ContractRevertError) as error:
        gov.propose_replace_admin(em, "RU", funded_key(c.backend).address)
    assert expect_revert(error, "OfficeRegistryInvalidStatus") == (b"RU", OfficeStatus.REMOVED)


def test_removed_office_is_readmitted_under_a_fresh_admin_with_no_old_key(
    consortium: Consortium,
) -> None:
    c = consortium
    gov = Governance(c.backend, c.deployment)
    registry = Attestations(c.backend, c.deployment)
    em, au = c.admins["EM"], c.admins["AU"]
    approve_standard_schemas(c)
    old_signer, old_admin = c.signers["RU"], c.admins["RU"]
    before = registry.attest(old_signer, PARTY_IDENTITY_SCHEMA, party_claim("RU"))
    anchor_one(c.ledger, old_signer, "RU/TM/1", "filed before the removal")
    pass_proposal(gov, gov.propose_remove_office(em, "RU"), [au])
    assert registry.status_at(before.uid) is AttestationStatus.ISSUER_REMOVED

    # Admitting the code again is not AdmitOffice (the code stays taken) but ReadmitOffice.
    fresh_admin, fresh_signer = funded_key(c.backend), funded_key(c.backend)
    with pytest.raises(ContractRevertError) as error:
        gov.propose_admit_office(em, "RU", "Rospatent", fresh_admin.address)
    assert expect_revert(error, "OfficeRegistryOfficeExists") == (b"RU",)
    with pytest.raises(ContractRevertError) as error:
        gov.propose_readmit_office(em, "RU", "Rospatent", old_signer.address)
    assert expect_revert(error, "OfficeRegistryAccountInUse") == (old_signer.address,)
    readmit = gov.propose_readmit_office(em, "RU", "Rospatent (readmitted)", fresh_admin.address)
    pass_proposal(gov, readmit, [au])

    office = gov.office("RU")
    assert (office.status, office.admin, office.name, office.signers) == (
        OfficeStatus.ACTIVE,
        fresh_admin.address,
        "Rospatent (readmitted)",
        (),
    )
    assert [step.status for step in gov.status_history("RU")] == [
        OfficeStatus.ACTIVE,
        OfficeStatus.REMOVED,
        OfficeStatus.ACTIVE,
    ]
    assert gov.admission_count("RU") == 2 and gov.removed_at("RU", 2) is None
    assert gov.office_of(old_signer.address) == (None, False)  # retired, not revived
    with pytest.raises(ContractRevertError) as error:
        gov.propose_approve_schema(old_admin, '{"old":"RU admin"}')
    assert expect_revert(error, "OfficeRegistryNotActiveAdmin") == (old_admin.address,)
    # The re-admitted office gets a signer by vote and writes again; its history continues.
    pass_proposal(gov, gov.propose_add_signer(fresh_admin, "RU", fresh_signer.address), [em])
    second = anchor_one(c.ledger, fresh_signer, "RU/TM/1", "filed after the readmission")
    assert second.seq == 2
    # Attestations issued before the removal stay invalid; new ones hold.
    assert registry.status_at(before.uid) is AttestationStatus.ISSUER_REMOVED
    after = registry.attest(fresh_signer, PARTY_IDENTITY_SCHEMA, party_claim("RU"))
    assert registry.status_at(after.uid) is AttestationStatus.VALID
    with pytest.raises(ContractRevertError) as error:
        gov.propose_readmit_office(em, "RU", "again", funded_key(c.backend).address)
    assert expect_revert(error, "OfficeRegistryInvalidStatus") == (b"RU", OfficeStatus.ACTIVE)


def test_status_history_answers_for_past_times(consortium: Consortium) -> None:
    c = consortium
    gov = Governance(c.backend, c.deployment)
    pass_proposal(gov, gov.propose_suspend_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    history = gov.status_history("RU")
    assert [step.status for step in history] == [OfficeStatus.ACTIVE, OfficeStatus.SUSPENDED]
    admitted, suspended = history
    assert isinstance(admitted, StatusStep) and admitted.changed_at <= suspended.changed_at
    assert gov.status_at("RU", admitted.changed_at - 1) is OfficeStatus.NONE
    assert gov.status_at("RU", suspended.changed_at) is OfficeStatus.SUSPENDED
    assert (gov.admission_count("RU"), gov.removed_at("RU", 1)) == (1, None)
    pass_proposal(gov, gov.propose_remove_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    removed = gov.status_history("RU")[-1]
    assert gov.status_at("RU", removed.changed_at) is OfficeStatus.REMOVED
    assert gov.removed_at("RU", 1) == removed.changed_at
    assert gov.status_history("XX") == [] and gov.admission_count("XX") == 0
