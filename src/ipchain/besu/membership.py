"""Admitting and suspending an office on a running network, in the order that keeps QBFT safe.

Three things follow an office's membership: its keys in OfficeRegistry (the on-chain vote),
its validator in QBFT's validator set (``qbft_proposeValidatorVote`` at each validator), and
its nodes in every node's allowlists (files, then ``perm_reloadPermissionsFromFile``). Each
office runs the same command on its own machine; the command does what that office can do now,
in order, stops where it must wait for the others, and says who must run what.

* **Suspension/removal**: on-chain vote → vote the validator out → reload the allowlists. Cutting
  a validator off before it leaves the set would leave it counting towards the quorum
  (⌈2n/3⌉) while unable to take part: with four validators, one more outage would halt the
  chain.
* **Admission/reinstatement**: on-chain vote → reload the allowlists (the newcomer's node
  connects and syncs) → vote the validator in, only once its node is a peer. Voting it in
  first would raise the quorum with a validator that cannot yet take part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ipchain.besu.allowlists import allowlists_from_registry, fund_accounts, write_node_allowlists
from ipchain.besu.network import OfficeNodeSpec
from ipchain.besu.node_rpc import NodeRpc
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment
from ipchain.contracts.office_registry import (
    Governance,
    OfficeStatus,
    ProposalAction,
    ProposalState,
    ProposalView,
)
from ipchain.errors import ContractRevertError, InvalidInputError
from ipchain.keys import OfficeKey

NEWCOMER_FUNDING_WEI = 1_000 * 10**18


@dataclass
class Membership:
    """One office's view of a membership change: its chain connection, admin key and node."""

    offices: Sequence[OfficeNodeSpec]
    """The network spec."""
    spec_path: Path
    """Where the spec is (for the commands printed)."""
    acting: str
    """ST.3 code of the office running the command."""
    backend: ChainBackend
    """This office's chain connection (its validator's JSON-RPC)."""
    deployment: Deployment
    """The consortium's contracts."""
    admin_key: Callable[[], OfficeKey]
    """Loads this office's admin key (scrypt: only when a vote is cast)."""
    node_dir: Path
    """This office's validator folder."""
    node: NodeRpc
    """This office's validator, with an operator token (QBFT, PERM, ADMIN)."""
    lines: list[str] = field(default_factory=list)

    @property
    def governance(self) -> Governance:
        return Governance(self.backend, self.deployment)

    def say(self, line: str) -> None:
        self.lines.append(line)

    # ------------------------------------------------------------------ the registry

    def status(self, code: str) -> OfficeStatus:
        try:
            return self.governance.office(code).status
        except ContractRevertError:
            return OfficeStatus.NONE

    def _open_proposal(
        self, action: ProposalAction, code: str, account: str | None = None
    ) -> ProposalView | None:
        governance = self.governance
        count = governance.proposal_count()
        start = max(0, count - 500)
        for proposal in reversed(governance.list_proposals(offset=start, limit=count - start)):
            if (
                proposal.state is ProposalState.OPEN
                and proposal.action is action
                and proposal.office == code
                and (account is None or (proposal.account or "").lower() == account.lower())
            ):
                return proposal
        return None

    def _vote_on(
        self, action: ProposalAction, target: OfficeNodeSpec, what: str, account: str = ""
    ) -> bool:
        """Propose or vote for ``action``; True once it has taken effect."""
        governance = self.governance
        proposal = self._open_proposal(action, target.code, account or None)
        if proposal is None:
            key = self.admin_key()
            name = target.name or target.code
            propose: dict[ProposalAction, Callable[[], int]] = {
                ProposalAction.ADMIT_OFFICE: lambda: governance.propose_admit_office(
                    key, target.code, name, target.admin_address
                ),
                ProposalAction.READMIT_OFFICE: lambda: governance.propose_readmit_office(
                    key, target.code, name, target.admin_address
                ),
                ProposalAction.REINSTATE_OFFICE: lambda: governance.propose_reinstate_office(
                    key, target.code
                ),
                ProposalAction.SUSPEND_OFFICE: lambda: governance.propose_suspend_office(
                    key, target.code
                ),
                ProposalAction.REMOVE_OFFICE: lambda: governance.propose_remove_office(
                    key, target.code
                ),
                ProposalAction.ADD_SIGNER: lambda: governance.propose_add_signer(
                    key, target.code, account
                ),
            }
            proposal_id = propose[action]()
            self.say(f"{self.acting} proposed {what} (proposal {proposal_id})")
        elif governance.has_voted(proposal.proposal_id, self.acting):
            self.say(f"{self.acting} has voted for {what} (proposal {proposal.proposal_id})")
            return False
        else:
            governance.vote(self.admin_key(), proposal.proposal_id)
            self.say(f"{self.acting} voted for {what} (proposal {proposal.proposal_id})")
        return self._open_proposal(action, target.code, account or None) is None

    def _others(self, exclude: str) -> list[str]:
        return [
            office.code
            for office in self.governance.offices()
            if office.status is OfficeStatus.ACTIVE and office.code not in (self.acting, exclude)
        ]

    def _tell_others(self, command: str, target: str) -> None:
        for code in self._others(target):
            self.say(
                f"  {code}: ipchain besu {command} {self.spec_path} --office {target} --as {code} "
                "--node-dir <its validator folder> --data-dir <its ipchain data dir>"
            )

    # ------------------------------------------------------------------ QBFT and allowlists

    def validators(self) -> set[str]:
        return {
            str(v).lower() for v in self.node.call("qbft_getValidatorsByBlockNumber", ["latest"])
        }

    def reload_allowlists(self) -> None:
        allowlists = allowlists_from_registry(self.backend, self.deployment, self.offices)
        (node,) = write_node_allowlists(self.node_dir, allowlists, self.offices)
        self.node.call("perm_reloadPermissionsFromFile")
        self.say(
            f"{node.name}: allowlists rewritten from the registry ({len(allowlists.nodes)} nodes, "
            f"{len(allowlists.accounts)} accounts) and reloaded"
        )

    def _discard_vote(self, validator: str) -> None:
        pending = self.node.call("qbft_getPendingVotes")
        if isinstance(pending, dict) and validator.lower() in {k.lower() for k in pending}:
            self.node.call("qbft_discardValidatorVote", [validator])

    def _is_peer(self, target: OfficeNodeSpec) -> bool:
        public_key = target.node_public_key.lower().removeprefix("0x")
        for peer in self.node.call("admin_peers"):
            identity = str(peer.get("id", "")) + str(peer.get("enode", ""))
            if public_key in identity.lower():
                return True
        return False


def _target(offices: Sequence[OfficeNodeSpec], code: str, acting: str) -> OfficeNodeSpec:
    if code == acting:
        raise InvalidInputError(f"{acting} cannot vote on its own membership", field="office")
    for office in offices:
        if office.code == code:
            return office
    raise InvalidInputError(f"the network spec has no office {code!r:.10}", field="office")


def admit(membership: Membership, code: str) -> list[str]:
    """Admission or reinstatement of ``code``, as far as this office can take it now."""
    m = membership
    target = _target(m.offices, code, m.acting)
    status = m.status(code)
    action = {
        OfficeStatus.NONE: ProposalAction.ADMIT_OFFICE,
        OfficeStatus.SUSPENDED: ProposalAction.REINSTATE_OFFICE,
        OfficeStatus.REMOVED: ProposalAction.READMIT_OFFICE,
    }.get(status)
    if action is not None and not m._vote_on(action, target, f"{action.name.lower()} {code}"):
        m.say(f"step 1/3 waiting: {code} becomes Active when enough offices vote. They run:")
        m._tell_others("admit", code)
        return m.lines
    m.say(f"step 1/3 done: {code} is Active in OfficeRegistry")
    registered = {s.lower() for s in m.governance.signers_of(code)}
    for signer in target.signer_addresses:
        if signer.lower() not in registered and not m._vote_on(
            ProposalAction.ADD_SIGNER, target, f"signer {signer} of {code}", signer
        ):
            m.say(f"  signer {signer} waits for more votes (the others run the same command)")
    needy = [a for a in target.accounts if m.backend.get_balance(a) < NEWCOMER_FUNDING_WEI // 2]
    funded = fund_accounts(m.backend, m.admin_key(), needy, NEWCOMER_FUNDING_WEI) if needy else []
    if funded:
        m.say(f"{m.acting} funded {', '.join(funded)} (genesis balances cannot be added)")
    m.reload_allowlists()
    m.say(f"step 2/3 done at {m.acting}: {code}'s nodes are allowlisted here")
    if target.validator.lower() in m.validators():
        m._discard_vote(target.validator)
        m.say(f"step 3/3 done: {code}'s validator {target.validator} is in the validator set")
        return m.lines
    if not m._is_peer(target):
        m.say(
            f"step 3/3 waiting: {code}'s node is not a peer of this node yet. {code}'s operator "
            f"gets its folder ('ipchain besu generate {m.spec_path} --only {code} --rpc … "
            "--out …' at an office), starts it with ./start.sh and lets it sync; then run this "
            "again. Every other office reloads its allowlists the same way:"
        )
        m._tell_others("admit", code)
        return m.lines
    m.node.call("qbft_proposeValidatorVote", [target.validator, True])
    if target.validator.lower() in m.validators():
        m._discard_vote(target.validator)
        m.say(f"step 3/3 done: {code}'s validator {target.validator} is in the validator set")
        return m.lines
    m.say(
        f"step 3/3 waiting: {m.acting} votes to add validator {target.validator} in the blocks "
        "it proposes; it joins once more than half of the validators have voted. Run this "
        "again in a minute; the others run:"
    )
    m._tell_others("admit", code)
    return m.lines


def suspend(membership: Membership, code: str, *, remove: bool = False) -> list[str]:
    """Suspension (or removal) of ``code``, as far as this office can take it now."""
    m = membership
    target = _target(m.offices, code, m.acting)
    command = "remove" if remove else "suspend"
    status = m.status(code)
    if status is OfficeStatus.NONE:
        raise InvalidInputError(f"{code} is not a member of the consortium", field="office")
    wanted = OfficeStatus.REMOVED if remove else OfficeStatus.SUSPENDED
    if status is not wanted and not (status is OfficeStatus.REMOVED and not remove):
        action = ProposalAction.REMOVE_OFFICE if remove else ProposalAction.SUSPEND_OFFICE
        if not m._vote_on(action, target, f"{command} {code}"):
            m.say(f"step 1/3 waiting: {code} is {command}ed when enough offices vote. They run:")
            m._tell_others(command, code)
            return m.lines
    m.say(f"step 1/3 done: {code} is {m.status(code).name.title()}; its keys can no longer write")
    if target.validator.lower() in m.validators():
        m.node.call("qbft_proposeValidatorVote", [target.validator, False])
        if target.validator.lower() in m.validators():
            m.say(
                f"step 2/3 waiting: {m.acting} votes to remove validator {target.validator} in "
                "the blocks it proposes; it leaves once more than half of the validators have "
                "voted. Until then every office keeps its allowlists. Run this again in a "
                "minute; the others run:"
            )
            m._tell_others(command, code)
            return m.lines
    m._discard_vote(target.validator)
    m.say(f"step 2/3 done: {code}'s validator has left the validator set")
    m.reload_allowlists()
    m.say(f"step 3/3 done at {m.acting}: {code}'s nodes and accounts are off this node's lists")
    return m.lines
