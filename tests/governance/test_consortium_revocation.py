"""Attestations after issue 14, at contract level on both backends: revocation by consortium
vote (one attestation, or every attestation an office issued since a time), validity that
follows the issuer's status history (suspension pauses, removal ends), and delegated
attestations that a signer can cancel (burning its nonce) and that cannot be signed for
relaying further than 30 days ahead."""

from __future__ import annotations

import pytest

from ipchain.attestations import (
    MAX_SIGNATURE_LIFETIME,
    PARTY_IDENTITY_SCHEMA,
    Attestation,
    Attestations,
    AttestationStatus,
    build_request,
)
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import send_and_confirm
from ipchain.contracts.office_registry import Governance, OfficeStatus, ProposalAction
from ipchain.encoding import ZERO_HASH
from ipchain.errors import ContractRevertError
from tests.helpers.consortium import Consortium, deploy_test_consortium
from tests.helpers.governance import (
    approve_standard_schemas,
    expect_revert,
    funded_key,
    latest_timestamp,
    party_claim,
    pass_proposal,
    raw_propose,
    tick,
)


@pytest.fixture
def approved(module_backend: ChainBackend) -> Consortium:
    """EM, AU, RU with the standard schemas approved (a fresh consortium per test)."""
    consortium = deploy_test_consortium(module_backend)
    approve_standard_schemas(consortium)
    return consortium


def attest(c: Consortium, office: str) -> Attestation:
    return Attestations(c.backend, c.deployment).attest(
        c.signers[office], PARTY_IDENTITY_SCHEMA, party_claim(office)
    )


# ------------------------------------------------------------------ revocation by vote


def test_a_vote_revokes_one_attestation_whoever_issued_it(approved: Consortium) -> None:
    c = approved
    gov, registry = Governance(c.backend, c.deployment), Attestations(c.backend, c.deployment)
    target = attest(c, "AU")
    tick(c.backend)
    proposal_id = gov.propose_revoke_attestation(c.admins["EM"], target.uid)
    proposal = gov.proposal(proposal_id)
    assert (proposal.action, proposal.data_hash) == (ProposalAction.REVOKE_ATTESTATION, target.uid)
    assert registry.is_valid(target.uid)  # one vote of three: nothing yet
    start = c.backend.block_number() + 1
    pass_proposal(gov, proposal_id, [c.admins["RU"]])

    revoked = registry.get(target.uid)
    assert revoked.revoked_at is not None
    assert registry.status_at(target.uid) is AttestationStatus.REVOKED
    assert registry.is_valid_at(target.uid, target.issued_at)  # it held before
    logs = c.backend.get_logs(
        address=registry.address, from_block=start, to_block=c.backend.block_number()
    )
    (event,) = [d for log in logs if (d := registry.contract.decode_log(log))]
    assert (event.event, event.args["uid"], event.args["revoker"]) == (
        "Revoked",
        target.uid,
        gov.registry_address,  # the OfficeRegistry, executing the vote
    )
    with pytest.raises(ContractRevertError) as error:
        registry.revoke(c.signers["AU"], target.uid)
    assert expect_revert(error, "AttestationAlreadyRevoked") == (target.uid,)
    with pytest.raises(ContractRevertError) as error:
        gov.propose_revoke_attestation(c.admins["EM"], target.uid)
    assert expect_revert(error, "OfficeRegistryAttestationAlreadyRevoked") == (target.uid,)


def test_a_vote_revokes_what_a_suspended_office_vouched_for(approved: Consortium) -> None:
    """The issuer of a compromised office cannot revoke (its keys are suspended); the
    consortium can, so the attestation stays revoked after a reinstatement."""
    c = approved
    gov, registry = Governance(c.backend, c.deployment), Attestations(c.backend, c.deployment)
    forged = attest(c, "RU")
    pass_proposal(gov, gov.propose_suspend_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    assert registry.status_at(forged.uid) is AttestationStatus.ISSUER_SUSPENDED
    with pytest.raises(ContractRevertError) as error:
        registry.revoke(c.signers["RU"], forged.uid)
    assert expect_revert(error, "AttestationUnauthorizedOffice") == (c.signers["RU"].address,)
    revoke = gov.propose_revoke_attestation(c.admins["EM"], forged.uid)
    pass_proposal(gov, revoke, [c.admins["AU"]])
    pass_proposal(gov, gov.propose_reinstate_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    assert registry.status_at(forged.uid) is AttestationStatus.REVOKED


def test_a_vote_revokes_every_attestation_an_office_issued_since_a_time(
    approved: Consortium,
) -> None:
    c = approved
    gov, registry = Governance(c.backend, c.deployment), Attestations(c.backend, c.deployment)
    before = attest(c, "AU")
    tick(c.backend)
    since = latest_timestamp(c.backend) + 1
    tick(c.backend)
    after = [attest(c, "AU"), attest(c, "AU")]
    other_office = attest(c, "RU")
    assert before.issued_at < since <= after[0].issued_at
    proposal_id = gov.propose_revoke_attestations_issued_since(c.admins["EM"], "AU", since)
    assert gov.proposal(proposal_id).value == since
    start = c.backend.block_number() + 1
    pass_proposal(gov, proposal_id, [c.admins["RU"]])
    decided = latest_timestamp(c.backend)

    for attestation in after:
        assert registry.status_at(attestation.uid) is AttestationStatus.REVOKED
        assert registry.get(attestation.uid).revoked_at == decided
        assert registry.is_valid_at(attestation.uid, decided - 1) or (
            attestation.issued_at >= decided
        )
    assert registry.status_at(before.uid) is AttestationStatus.VALID
    assert registry.status_at(other_office.uid) is AttestationStatus.VALID
    tick(c.backend)
    later = attest(c, "AU")  # issued after the decision: holds
    assert registry.status_at(later.uid) is AttestationStatus.VALID
    logs = c.backend.get_logs(
        address=registry.address, from_block=start, to_block=c.backend.block_number()
    )
    events = [d for log in logs if (d := registry.contract.decode_log(log))]
    assert (events[0].event, events[0].args.get("issuedSince")) == (
        "IssuerAttestationsRevoked",
        since,
    )
    # A revocation already in force is refused as such, by the issuer or by a second vote.
    with pytest.raises(ContractRevertError) as error:
        registry.revoke(c.signers["AU"], after[0].uid)
    assert expect_revert(error, "AttestationAlreadyRevoked") == (after[0].uid,)
    with pytest.raises(ContractRevertError) as error:
        gov.propose_revoke_attestation(c.admins["EM"], after[1].uid)
    assert expect_revert(error, "OfficeRegistryAttestationAlreadyRevoked") == (after[1].uid,)


def test_revocation_proposals_with_bad_arguments_are_refused(approved: Consortium) -> None:
    c = approved
    gov = Governance(c.backend, c.deployment)
    em = c.admins["EM"]
    unknown = b"\x11" * 32
    with pytest.raises(ContractRevertError) as error:
        gov.propose_revoke_attestation(em, unknown)
    assert expect_revert(error, "OfficeRegistryUnknownAttestation") == (unknown,)
    with pytest.raises(ContractRevertError) as error:
        raw_propose(gov, em, ProposalAction.REVOKE_ATTESTATION)  # zero uid
    assert expect_revert(error, "OfficeRegistryUnknownAttestation") == (ZERO_HASH,)
    target = attest(c, "AU")
    with pytest.raises(ContractRevertError) as error:  # an office named: not taken
        raw_propose(gov, em, ProposalAction.REVOKE_ATTESTATION, office=b"AU", data_hash=target.uid)
    assert expect_revert(error, "OfficeRegistryInvalidProposal") == (
        ProposalAction.REVOKE_ATTESTATION,
    )
    future = latest_timestamp(c.backend) + 3600
    with pytest.raises(ContractRevertError) as error:
        gov.propose_revoke_attestations_issued_since(em, "AU", future)
    assert expect_revert(error, "OfficeRegistryInvalidProposal") == (
        ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE,
    )
    with pytest.raises(ContractRevertError) as error:
        gov.propose_revoke_attestations_issued_since(em, "XX", 0)
    assert expect_revert(error, "OfficeRegistryUnknownOffice") == (b"XX",)


def test_only_the_office_registry_applies_consortium_revocations(approved: Consortium) -> None:
    c = approved
    registry = Attestations(c.backend, c.deployment)
    target = attest(c, "AU")
    for data in (
        registry.contract.encode_call("revokeByConsortium", target.uid),
        registry.contract.encode_call("revokeIssuedSince", b"AU", 0),
    ):
        for key in (c.admins["EM"], c.signers["AU"], c.outsider):
            with pytest.raises(ContractRevertError) as error:
                send_and_confirm(
                    c.backend,
                    key,
                    to=registry.address,
                    data=data,
                    gas=200_000,
                    interfaces=[registry.contract],
                )
            assert expect_revert(error, "AttestationNotRegistry") == (key.address,)
    assert registry.is_valid(target.uid)


# ------------------------------------------------------------------ validity and the issuer


def test_suspension_pauses_validity_and_reinstatement_restores_it(approved: Consortium) -> None:
    c = approved
    gov, registry = Governance(c.backend, c.deployment), Attestations(c.backend, c.deployment)
    held = attest(c, "RU")
    tick(c.backend)
    pass_proposal(gov, gov.propose_suspend_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    suspended_at = gov.status_history("RU")[-1].changed_at
    assert registry.status_at(held.uid) is AttestationStatus.ISSUER_SUSPENDED
    assert not registry.is_valid(held.uid)
    assert registry.is_valid_at(held.uid, suspended_at - 1)
    assert registry.validity_at(held.uid, suspended_at) is AttestationStatus.ISSUER_SUSPENDED
    tick(c.backend)
    pass_proposal(gov, gov.propose_reinstate_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    assert registry.status_at(held.uid) is AttestationStatus.VALID
    assert registry.validity_at(held.uid, suspended_at) is AttestationStatus.ISSUER_SUSPENDED


def test_removal_ends_validity_for_good(approved: Consortium) -> None:
    c = approved
    gov, registry = Governance(c.backend, c.deployment), Attestations(c.backend, c.deployment)
    held = attest(c, "RU")
    tick(c.backend)
    pass_proposal(gov, gov.propose_remove_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    removed_at = gov.status_history("RU")[-1].changed_at
    assert gov.status_at("RU", removed_at) is OfficeStatus.REMOVED
    assert gov.removed_at("RU", 1) == removed_at
    assert registry.status_at(held.uid) is AttestationStatus.ISSUER_REMOVED
    assert registry.is_valid_at(held.uid, removed_at - 1)
    assert registry.validity_at(b"\x22" * 32, removed_at) is None  # no such attestation


# ------------------------------------------------------------------ delegated attestations


def test_a_signer_cancels_an_unrelayed_attestation_by_burning_its_nonce(
    approved: Consortium,
) -> None:
    c = approved
    registry = Attestations(c.backend, c.deployment)
    em = c.signers["EM"]
    request = build_request(PARTY_IDENTITY_SCHEMA, party_claim("EM"))
    signed = registry.sign(em, request, deadline=latest_timestamp(c.backend) + 600)
    assert registry.cancel_nonce(em) == signed.nonce
    assert registry.nonce_of(em.address) == signed.nonce + 1
    with pytest.raises(ContractRevertError) as error:
        registry.relay(c.outsider, signed)
    assert expect_revert(error, "AttestationInvalidNonce") == (em.address, signed.nonce + 1)
    with pytest.raises(ContractRevertError) as error:
        registry.cancel_nonce(em, signed.nonce)  # not the next one any more
    assert expect_revert(error, "AttestationInvalidNonce") == (em.address, signed.nonce + 1)


def test_only_a_current_signer_key_may_cancel(approved: Consortium) -> None:
    c = approved
    gov, registry = Governance(c.backend, c.deployment), Attestations(c.backend, c.deployment)
    revoked = funded_key(c.backend)
    pass_proposal(
        gov, gov.propose_add_signer(c.admins["EM"], "EM", revoked.address), [c.admins["AU"]]
    )
    pass_proposal(
        gov, gov.propose_revoke_signer(c.admins["EM"], "EM", revoked.address), [c.admins["AU"]]
    )
    for key in (c.admins["EM"], c.outsider, revoked):
        with pytest.raises(ContractRevertError) as error:
            registry.cancel_nonce(key, 0)
        assert expect_revert(error, "AttestationNotSigner") == (key.address,)
    # A suspended office's signer may still disown its own signatures.
    pass_proposal(gov, gov.propose_suspend_office(c.admins["EM"], "RU"), [c.admins["AU"]])
    assert registry.cancel_nonce(c.signers["RU"]) == 0


def test_deadlines_more_than_30_days_ahead_are_refused(approved: Consortium) -> None:
    c = approved
    registry = Attestations(c.backend, c.deployment)
    em = c.signers["EM"]
    request = build_request(PARTY_IDENTITY_SCHEMA, party_claim("EM"))
    now = latest_timestamp(c.backend)
    for deadline in (2**256 - 1, now + MAX_SIGNATURE_LIFETIME + 3600):
        signed = registry.sign(em, request, deadline=deadline)
        with pytest.raises(ContractRevertError) as error:
            registry.relay(c.outsider, signed)
        too_far, latest = expect_revert(error, "AttestationDeadlineTooFar")
        assert too_far == deadline
        assert now + MAX_SIGNATURE_LIFETIME <= int(str(latest)) < deadline
    within = registry.sign(em, request, deadline=now + MAX_SIGNATURE_LIFETIME - 60)
    assert registry.relay(c.outsider, within).attester == em.address
