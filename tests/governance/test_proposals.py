"""Proposal lifecycle on OfficeRegistry through ipchain.contracts.office_registry: admission,
suspension and reinstatement enforced on RegisterLedger, thresholds, events, proposal-state
denials (expired, double vote, executed, below threshold, non-member vote) and bad input that
writes nothing."""

from __future__ import annotations

import pytest

from ipchain.chain.base import ChainBackend
from ipchain.contracts.office_registry import (
    Governance,
    OfficeStatus,
    ProposalAction,
    ProposalState,
)
from ipchain.errors import ContractRevertError, InvalidInputError, UnknownOfficeError
from ipchain.node.setup import fund
from tests.helpers.consortium import Consortium, new_key
from tests.helpers.governance import (
    advance_time,
    anchor_one,
    expect_revert,
    governance,
    pass_proposal,
    record_event_directly,
)


def registry_events(backend: ChainBackend, gov: Governance, from_block: int) -> list[str]:
    logs = backend.get_logs(
        address=gov.registry_address, from_block=from_block, to_block=backend.block_number()
    )
    return [decoded.event for log in logs if (decoded := gov.registry.decode_log(log))]


def test_admitted_office_gets_a_signer_by_vote_and_writes(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins = consortium.admins
    fr_admin, fr_signer = new_key(), new_key()
    fund(consortium.backend, [fr_admin.address, fr_signer.address])
    start = consortium.backend.block_number() + 1

    proposal_id = gov.propose_admit_office(admins["EM"], "FR", "INPI", fr_admin.address)
    proposal = gov.proposal(proposal_id)
    assert (proposal.action, proposal.office, proposal.account, proposal.name) == (
        ProposalAction.ADMIT_OFFICE,
        "FR",
        fr_admin.address,
        "INPI",
    )
    assert (proposal.votes, proposal.state, proposal.proposer) == (1, ProposalState.OPEN, "EM")
    assert gov.vote(admins["AU"], proposal_id)  # 2 of 3: more than half, executes at once
    assert gov.proposal(proposal_id).state is ProposalState.EXECUTED
    assert registry_events(consortium.backend, gov, start) == [
        "ProposalCreated",
        "ProposalVoted",
        "ProposalVoted",
        "OfficeAdmitted",
        "ProposalExecuted",
    ]

    office = gov.office("FR")
    assert (office.name, office.status, office.admin, office.signers) == (
        "INPI",
        OfficeStatus.ACTIVE,
        fr_admin.address,
        (),
    )
    assert gov.active_office_count() == 4
    # The new office votes at once: 3 of 4 are needed now.
    add = gov.propose_add_signer(fr_admin, "FR", fr_signer.address)
    assert not gov.vote(admins["EM"], add)
    assert gov.vote(admins["RU"], add)
    assert gov.signers_of("FR") == (fr_signer.address,)
    entry = anchor_one(consortium.ledger, fr_signer, "FR/TM/5001", "filed")
    assert (entry.office, entry.signer) == ("FR", fr_signer.address)


def test_suspension_stops_writes_on_the_ledger_and_reinstatement_restores_them(
    consortium: Consortium,
) -> None:
    gov = governance(consortium)
    admins, signers, ledger = consortium.admins, consortium.signers, consortium.ledger
    before = anchor_one(ledger, signers["AU"], "AU/TM/700", "filed")

    pass_proposal(gov, gov.propose_suspend_office(admins["EM"], "AU"), [admins["RU"]])
    assert gov.office("AU").status is OfficeStatus.SUSPENDED
    assert ledger.office_of(signers["AU"].address) == ("AU", False)
    with pytest.raises(ContractRevertError) as error:
        record_event_directly(ledger, signers["AU"], "AU/TM/701", "filed while suspended")
    assert expect_revert(error, "RegisterUnauthorizedOffice") == (signers["AU"].address,)
    assert ledger.record_entries("AU/TM/700") == [before]  # history untouched and readable

    # Two offices remain active: both must agree to reinstate.
    reinstate = gov.propose_reinstate_office(admins["EM"], "AU")
    assert gov.vote(admins["RU"], reinstate)
    assert gov.office("AU").status is OfficeStatus.ACTIVE
    after = anchor_one(ledger, signers["AU"], "AU/TM/701", "filed again")
    assert after.office == "AU"


def test_removed_office_cannot_be_reinstated(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins = consortium.admins
    pass_proposal(gov, gov.propose_remove_office(admins["EM"], "RU"), [admins["AU"]])
    with pytest.raises(ContractRevertError) as error:
        gov.propose_reinstate_office(admins["EM"], "RU")
    assert expect_revert(error, "OfficeRegistryInvalidStatus") == (b"RU", OfficeStatus.REMOVED)


def test_revoked_signer_key_stops_writing_and_is_retired(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins, signers, ledger = consortium.admins, consortium.signers, consortium.ledger
    old = signers["EM"]
    pass_proposal(gov, gov.propose_revoke_signer(admins["EM"], "EM", old.address), [admins["AU"]])
    assert gov.signers_of("EM") == ()
    with pytest.raises(ContractRevertError) as error:
        record_event_directly(ledger, old, "EM/TM/1", "after revocation")
    expect_revert(error, "RegisterUnauthorizedOffice")
    # A retired key can never come back, for this office or another.
    with pytest.raises(ContractRevertError) as error:
        gov.propose_add_signer(admins["AU"], "AU", old.address)
    expect_revert(error, "OfficeRegistryAccountInUse")


def test_stale_proposal_fails_when_it_would_execute(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins, signer = consortium.admins, consortium.signers["EM"].address
    first = gov.propose_revoke_signer(admins["EM"], "EM", signer)
    second = gov.propose_revoke_signer(admins["RU"], "EM", signer)
    assert gov.vote(admins["AU"], first)
    with pytest.raises(ContractRevertError) as error:
        gov.vote(admins["AU"], second)
    assert expect_revert(error, "OfficeRegistryUnknownSigner") == (b"EM", signer)
    assert not gov.proposal(second).executed


def test_threshold_change_takes_effect_for_later_votes(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins = consortium.admins
    pass_proposal(gov, gov.propose_change_threshold(admins["EM"], 9000), [admins["AU"]])
    assert gov.threshold_bps() == 9000
    proposal_id = gov.propose_approve_schema(admins["EM"], '{"unanimous":true}')
    assert not gov.vote(admins["AU"], proposal_id)  # 2 of 3 is not more than 90 %
    with pytest.raises(ContractRevertError) as error:
        gov.execute(consortium.outsider, proposal_id)
    assert expect_revert(error, "OfficeRegistryThresholdNotReached") == (proposal_id, 2)
    assert gov.vote(admins["RU"], proposal_id)


def test_double_vote_and_votes_on_executed_proposals_are_refused(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins = consortium.admins
    proposal_id = gov.propose_approve_schema(admins["EM"], '{"n":1}')
    with pytest.raises(ContractRevertError) as error:
        gov.vote(admins["EM"], proposal_id)  # the proposer's vote is already counted
    assert expect_revert(error, "OfficeRegistryAlreadyVoted") == (proposal_id, b"EM")
    assert gov.vote(admins["AU"], proposal_id)
    for attempt in (lambda: gov.vote(admins["RU"], proposal_id),
                    lambda: gov.execute(admins["RU"], proposal_id)):  # fmt: skip
        with pytest.raises(ContractRevertError) as error:
            attempt()
        assert expect_revert(error, "OfficeRegistryProposalAlreadyExecuted") == (proposal_id,)
    assert gov.has_voted(proposal_id, "AU") and not gov.has_voted(proposal_id, "RU")


def test_vote_by_non_member_and_unknown_proposal(consortium: Consortium) -> None:
    gov = governance(consortium)
    proposal_id = gov.propose_approve_schema(consortium.admins["EM"], '{"n":2}')
    with pytest.raises(ContractRevertError) as error:
        gov.vote(consortium.outsider, proposal_id)
    assert expect_revert(error, "OfficeRegistryNotActiveAdmin") == (consortium.outsider.address,)
    with pytest.raises(ContractRevertError) as error:
        gov.vote(consortium.admins["AU"], 99)
    assert expect_revert(error, "OfficeRegistryUnknownProposal") == (99,)
    assert gov.proposal(proposal_id).votes == 1


def test_expired_proposal_refuses_votes_and_execution(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins = consortium.admins
    proposal_id = gov.propose_approve_schema(admins["EM"], '{"n":3}')
    pass_proposal(gov, gov.propose_change_threshold(admins["AU"], 3000), [admins["RU"]])
    advance_time(consortium.backend, gov.voting_period() + 1)
    assert gov.proposal(proposal_id).state is ProposalState.EXPIRED
    with pytest.raises(ContractRevertError) as error:
        gov.vote(admins["AU"], proposal_id)
    assert expect_revert(error, "OfficeRegistryProposalExpired") == (proposal_id,)
    # One vote of three passes a 30 % threshold, but too late.
    with pytest.raises(ContractRevertError) as error:
        gov.execute(admins["AU"], proposal_id)
    expect_revert(error, "OfficeRegistryProposalExpired")
    assert not gov.proposal(proposal_id).executed


def test_list_proposals_pages_in_order(consortium: Consortium) -> None:
    gov = governance(consortium)
    admins = consortium.admins
    ids = [gov.propose_approve_schema(admins["EM"], f'{{"n":{n}}}') for n in range(5)]
    gov.vote(admins["AU"], ids[1])
    listed = gov.list_proposals()
    assert [p.proposal_id for p in listed] == ids == list(range(5))
    assert [p.state for p in listed[:3]] == [
        ProposalState.OPEN,
        ProposalState.EXECUTED,
        ProposalState.OPEN,
    ]
    assert [p.proposal_id for p in gov.list_proposals(offset=3, limit=10)] == [3, 4]
    assert gov.list_proposals(offset=7) == []
    assert gov.proposal_count() == 5


BAD_PROPOSALS = {
    "lowercase-code": (lambda gov, key: gov.propose_suspend_office(key, "em"), UnknownOfficeError),
    "digit-in-code": (lambda gov, key: gov.propose_suspend_office(key, "E1"), UnknownOfficeError),
    "three-letter-code": (
        lambda gov, key: gov.propose_admit_office(key, "FRA", "INPI", key.address),
        UnknownOfficeError,
    ),
    "blank-name": (
        lambda gov, key: gov.propose_admit_office(key, "FR", " ", key.address),
        InvalidInputError,
    ),
    "bad-address": (
        lambda gov, key: gov.propose_add_signer(key, "EM", "0x1234"),
        InvalidInputError,
    ),
    "zero-address": (
        lambda gov, key: gov.propose_add_signer(key, "EM", "0x" + "00" * 20),
        InvalidInputError,
    ),
    "threshold-too-high": (
        lambda gov, key: gov.propose_change_threshold(key, 10_000),
        InvalidInputError,
    ),
    "threshold-zero": (lambda gov, key: gov.propose_change_threshold(key, 0), InvalidInputError),
    "empty-schema": (lambda gov, key: gov.propose_approve_schema(key, ""), InvalidInputError),
}


@pytest.mark.parametrize("case", BAD_PROPOSALS)
def test_bad_input_is_refused_before_anything_is_sent(shared: Consortium, case: str) -> None:
    propose, error_class = BAD_PROPOSALS[case]
    gov = governance(shared)
    admin = shared.admins["EM"]
    nonce = shared.backend.get_nonce(admin.address)
    count = gov.proposal_count()
    with pytest.raises(error_class):
        propose(gov, admin)
    assert shared.backend.get_nonce(admin.address) == nonce
    assert gov.proposal_count() == count


def test_contract_refuses_an_office_code_that_is_not_st3_shaped(shared: Consortium) -> None:
    """Bypassing the Python checks, the registry itself refuses the code."""
    gov = governance(shared)
    count = gov.proposal_count()
    data = gov.registry.encode_call(
        "propose", 0, b"e1", shared.outsider.address, "Bad", 0, b"\0" * 32
    )
    with pytest.raises(ContractRevertError) as error:
        gov._send(shared.admins["EM"], data, 500_000)
    assert expect_revert(error, "OfficeRegistryInvalidCode") == (b"e1",)
    assert gov.proposal_count() == count
