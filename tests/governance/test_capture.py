"""A minority cannot capture the consortium (issue 14), at contract level on both backends.

The review's scenario, step by step: CN and JP, two of five offices, propose removing EM and
admitting a puppet office, and vote for each other's proposals; the honest majority (EM, AU,
RU) suspends CN and JP. Before the fix the electorate dropped to three, the colluders' two
votes passed, and anyone could execute. Now votes count only while their office stays Active
in the term it voted in, a proposal lapses when its proposer leaves Active, and the threshold
is the stricter of the one at proposal time and the current one: each variant is refused with
its exact custom error, and nothing changes.
"""

from __future__ import annotations

import pytest

from ipchain.chain.base import ChainBackend
from ipchain.contracts.office_registry import Governance, OfficeStatus, ProposalState
from ipchain.errors import ContractRevertError
from tests.helpers.consortium import Consortium, deploy_test_consortium
from tests.helpers.governance import expect_revert, funded_key, pass_proposal

FIVE = ("EM", "AU", "RU", "CN", "JP")


@pytest.fixture
def five(module_backend: ChainBackend) -> Consortium:
    """EM, AU, RU (honest) and CN, JP (colluding), all Active; threshold more than half."""
    return deploy_test_consortium(module_backend, FIVE)


def honest_pass(gov: Governance, c: Consortium, proposal_id: int) -> None:
    """AU and RU vote for a proposal of EM's: three honest votes pass anything."""
    pass_proposal(gov, proposal_id, [c.admins["AU"], c.admins["RU"]])


def collude(gov: Governance, c: Consortium) -> tuple[int, int]:
    """CN proposes removing EM and admitting XA under a puppet admin; JP votes for both."""
    puppet = funded_key(c.backend)
    remove_em = gov.propose_remove_office(c.admins["CN"], "EM")
    admit_xa = gov.propose_admit_office(c.admins["CN"], "XA", "Puppet office", puppet.address)
    for proposal_id in (remove_em, admit_xa):
        assert not gov.vote(c.admins["JP"], proposal_id)  # 2 of 5: not enough
        assert gov.proposal(proposal_id).votes == 2
    return remove_em, admit_xa


def assert_nothing_captured(gov: Governance) -> None:
    assert gov.office("EM").status is OfficeStatus.ACTIVE
    assert [o.code for o in gov.offices()] == list(FIVE)  # no XA


@pytest.mark.parametrize("measure", ["suspend", "remove"])
def test_the_reviewed_capture_fails_when_the_majority_suspends_or_removes_the_colluders(
    five: Consortium, measure: str
) -> None:
    c = five
    gov = Governance(c.backend, c.deployment)
    remove_em, admit_xa = collude(gov, c)

    for colluder in ("CN", "JP"):
        if measure == "suspend":
            honest_pass(gov, c, gov.propose_suspend_office(c.admins["EM"], colluder))
        else:
            honest_pass(gov, c, gov.propose_remove_office(c.admins["EM"], colluder))
    assert gov.active_office_count() == 3  # 2 of 3 would have passed before the fix

    for proposal_id in (remove_em, admit_xa):
        proposal = gov.proposal(proposal_id)
        assert (proposal.votes, proposal.state) == (0, ProposalState.LAPSED)
        assert gov.voters(proposal_id) == ()
        with pytest.raises(ContractRevertError) as error:
            gov.execute(c.outsider, proposal_id)  # anyone may execute: it must still fail
        assert expect_revert(error, "OfficeRegistryProposalLapsed") == (proposal_id, b"CN")
        with pytest.raises(ContractRevertError) as error:
            gov.vote(c.admins["AU"], proposal_id)  # nor can it be revived by a vote
        assert expect_revert(error, "OfficeRegistryProposalLapsed") == (proposal_id, b"CN")
    assert_nothing_captured(gov)


def test_a_suspended_voters_vote_stops_counting_even_when_the_proposer_stays(
    five: Consortium,
) -> None:
    """Only JP is suspended: CN's proposal is alive, but JP's vote no longer counts."""
    c = five
    gov = Governance(c.backend, c.deployment)
    remove_em, _ = collude(gov, c)
    honest_pass(gov, c, gov.propose_suspend_office(c.admins["EM"], "JP"))
    assert gov.active_office_count() == 4
    assert (gov.proposal(remove_em).votes, gov.voters(remove_em)) == (1, ("CN",))
    assert not gov.has_voted(remove_em, "JP")
    with pytest.raises(ContractRevertError) as error:
        gov.execute(c.outsider, remove_em)
    assert expect_revert(error, "OfficeRegistryThresholdNotReached") == (remove_em, 1)
    assert_nothing_captured(gov)


def test_reinstatement_does_not_bring_back_votes_cast_before_the_suspension(
    five: Consortium,
) -> None:
    c = five
    gov = Governance(c.backend, c.deployment)
    remove_em, _ = collude(gov, c)
    honest_pass(gov, c, gov.propose_suspend_office(c.admins["EM"], "JP"))
    honest_pass(gov, c, gov.propose_reinstate_office(c.admins["EM"], "JP"))
    assert gov.office("JP").status is OfficeStatus.ACTIVE
    assert gov.proposal(remove_em).votes == 1  # JP's vote belonged to its earlier term
    assert not gov.has_voted(remove_em, "JP")
    # JP may vote again, as a member deciding anew: one vote per office still.
    assert not gov.vote(c.admins["JP"], remove_em)
    assert gov.voters(remove_em) == ("CN", "JP")
    with pytest.raises(ContractRevertError) as error:
        gov.vote(c.admins["JP"], remove_em)
    assert expect_revert(error, "OfficeRegistryAlreadyVoted") == (remove_em, b"JP")
    assert_nothing_captured(gov)


def test_lowering_the_threshold_does_not_pass_proposals_made_under_the_higher_one(
    five: Consortium,
) -> None:
    """The honest majority lowers the threshold to 30 %: 2 of 5 would now pass, but not for
    proposals made while more than half was needed."""
    c = five
    gov = Governance(c.backend, c.deployment)
    remove_em, admit_xa = collude(gov, c)
    honest_pass(gov, c, gov.propose_change_threshold(c.admins["EM"], 3000))
    assert gov.threshold_bps() == 3000
    for proposal_id in (remove_em, admit_xa):
        assert gov.proposal(proposal_id).threshold_bps == 5000
        with pytest.raises(ContractRevertError) as error:
            gov.execute(c.outsider, proposal_id)
        assert expect_revert(error, "OfficeRegistryThresholdNotReached") == (proposal_id, 2)
    assert_nothing_captured(gov)
    # A proposal made under the new threshold passes with two votes of five.
    later = gov.propose_approve_schema(c.admins["CN"], '{"after":"the change"}')
    assert gov.proposal(later).threshold_bps == 3000
    assert gov.vote(c.admins["JP"], later)


def test_raising_the_threshold_applies_to_open_proposals(five: Consortium) -> None:
    c = five
    gov = Governance(c.backend, c.deployment)
    open_id = gov.propose_approve_schema(c.admins["EM"], '{"raised":"mid-vote"}')
    assert not gov.vote(c.admins["AU"], open_id)
    # 3 of 5 raise the threshold to 70 %: the open proposal now needs 4 votes, not 3.
    honest_pass(gov, c, gov.propose_change_threshold(c.admins["EM"], 7000))
    assert not gov.vote(c.admins["RU"], open_id)
    assert gov.proposal(open_id).state is ProposalState.OPEN
    assert gov.vote(c.admins["CN"], open_id)


def test_colluders_admission_proposals_lapse_once_they_are_removed(five: Consortium) -> None:
    """The puppets' admission needs its proposer Active: removing CN and JP kills all three
    admissions, which would otherwise have let the puppets reinstate them."""
    c = five
    gov = Governance(c.backend, c.deployment)
    puppets = {code: funded_key(c.backend) for code in ("XA", "XB", "XC")}
    admissions = [
        gov.propose_admit_office(c.admins["JP"], code, f"Puppet {code}", key.address)
        for code, key in puppets.items()
    ]
    for proposal_id in admissions:
        assert not gov.vote(c.admins["CN"], proposal_id)
    for colluder in ("CN", "JP"):
        honest_pass(gov, c, gov.propose_remove_office(c.admins["EM"], colluder))
    for proposal_id in admissions:
        with pytest.raises(ContractRevertError) as error:
            gov.execute(c.outsider, proposal_id)
        assert expect_revert(error, "OfficeRegistryProposalLapsed") == (proposal_id, b"JP")
    assert_nothing_captured(gov)


def test_the_last_active_office_cannot_leave_and_no_quorum_without_active_offices(
    consortium: Consortium,
) -> None:
    """EM, AU, RU: suspending down to one office works; the last one can neither propose nor
    execute its own suspension or removal, so the electorate never reaches zero."""
    c = consortium
    gov = Governance(c.backend, c.deployment)
    admins = c.admins
    pass_proposal(gov, gov.propose_suspend_office(admins["EM"], "RU"), [admins["AU"]])
    assert gov.active_office_count() == 2
    suspend_self = gov.propose_suspend_office(admins["EM"], "EM")  # 1 of 2: open
    assert gov.vote(admins["AU"], gov.propose_suspend_office(admins["EM"], "AU"))
    assert gov.active_office_count() == 1
    with pytest.raises(ContractRevertError) as error:
        gov.execute(c.outsider, suspend_self)  # EM's vote is 1 of 1 now, but EM is the last
    assert expect_revert(error, "OfficeRegistryLastActiveOffice") == (b"EM",)
    for propose in (gov.propose_suspend_office, gov.propose_remove_office):
        with pytest.raises(ContractRevertError) as error:
            propose(admins["EM"], "EM")
        assert expect_revert(error, "OfficeRegistryLastActiveOffice") == (b"EM",)
    assert gov.active_office_count() == 1
    # The last office still governs: its own vote passes the reinstatement of the others.
    reinstate = gov.propose_reinstate_office(admins["EM"], "AU")
    assert gov.proposal(reinstate).executed
    assert gov.office("AU").status is OfficeStatus.ACTIVE
