"""Governance invariants (issue 14): random sequences of proposals, votes, executions, time
passing and key changes by random actors, some of them colluding, run against OfficeRegistry on
anvil and against a small Python model of the rules of docs/governance.md.

The model is written from the documented rules, not from the contract: who may propose and vote
(the admin of an Active office), what each action checks and does, when a vote counts (its
office has stayed Active under the admin key that cast it), when a proposal lapses, and when it
passes (votes that count × 10 000 > active offices × the stricter of its threshold and today's).
Every call's outcome — success, whether it executed the proposal, or the exact custom error —
must be the model's, and after every step the chain's consortium must be the model's. So the
invariants hold whenever the model says they do:

* no proposal executes without votes from more than the threshold of the offices active at
  execution time (checked on every execution, from the model's state at that moment);
* a suspended or removed office's keys can do nothing: its admin cannot propose or vote, its
  signers cannot write (``officeOf`` says so for every key after every step, and random actors
  include them);
* a removed office never comes back without a vote (a Removed office becomes Active only by an
  executed ReadmitOffice);
* a revoked or replaced key is never valid again (never bound to any office, in any role).

Hypothesis's ``RuleBasedStateMachine`` drives it; each example starts from one deployment by
reverting anvil to a snapshot (``evm_snapshot``/``evm_revert``). Block times are set before
every transaction (``evm_setNextBlockTimestamp``), so expiry is exact. The CI profile runs a
few hundred sequences in about three minutes; ``IPCHAIN_INVARIANT_EXAMPLES=2000`` (and
``IPCHAIN_INVARIANT_STEPS``) runs longer by hand.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ipchain.chain.base import Call
from ipchain.chain.rpc import RpcChain
from ipchain.contracts.bindings import (
    ContractInterface,
    FoundingOffice,
    deploy_consortium,
    load_interface,
    revert_error,
    sign_transaction,
)
from ipchain.encoding import ZERO_HASH, event_code_bytes8, office_code_bytes2
from ipchain.errors import ContractRevertError
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from tests.helpers.consortium import new_key

pytestmark = pytest.mark.anvil

FOUNDERS: Final = ("EM", "AU", "RU", "CN", "JP")
NEWCOMERS: Final = ("XA", "XB")
CODES: Final = FOUNDERS + NEWCOMERS
SPARE_KEYS: Final = 6
VOTING_PERIOD: Final = 3600
THRESHOLDS: Final = (2500, 3400, 5000, 6700, 8000)
ZERO_ADDRESS: Final = "0x" + "00" * 20

EXAMPLES: Final = int(os.environ.get("IPCHAIN_INVARIANT_EXAMPLES", "200"))
STEPS: Final = int(os.environ.get("IPCHAIN_INVARIANT_STEPS", "25"))

ACTIVE, SUSPENDED, REMOVED = "active", "suspended", "removed"
ACTIONS: Final = (
    "admit",
    "suspend",
    "reinstate",
    "remove",
    "add-signer",
    "revoke-signer",
    "change-threshold",
    "replace-admin",
    "readmit",
)
_ACTION_NUMBER: Final = {
    "admit": 0,
    "suspend": 1,
    "reinstate": 2,
    "remove": 3,
    "add-signer": 4,
    "revoke-signer": 5,
    "change-threshold": 6,
    "replace-admin": 8,
    "readmit": 9,
}
_STATUS_NUMBER: Final = {1: ACTIVE, 2: SUSPENDED, 3: REMOVED}


# --- the model, from docs/governance.md --------------------------------------------------------


@dataclass
class OfficeState:
    """A member office: its status, its keys, and how often its standing was interrupted (it
    left Active, or its admin key was replaced) — a vote cast before an interruption no longer
    counts."""

    status: str
    admin: str
    signers: set[str]
    interruptions: int = 0


@dataclass
class ProposalState:
    action: str
    office: str | None
    account: str | None
    value: int
    proposer: str
    proposer_interruptions: int
    deadline: int
    threshold: int
    votes: dict[str, int] = field(default_factory=dict)
    """Office → its interruptions when it voted."""
    executed: bool = False


class Outcome:
    """What a call does: ``error`` names the custom error, else it succeeds (and
    ``executed`` says whether a proposal executed in it)."""

    def __init__(self, error: str | None = None, executed: bool = False) -> None:
        self.error = error
        self.executed = executed

    def __repr__(self) -> str:
        return f"Outcome(error={self.error!r}, executed={self.executed})"


class Refused(Exception):
    """The model's refusal of a call, by the custom error it expects."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Rules:
    """The consortium as docs/governance.md describes it."""

    def __init__(self, founders: dict[str, tuple[str, str]], threshold: int) -> None:
        self.offices = {
            code: OfficeState(ACTIVE, admin, {signer}) for code, (admin, signer) in founders.items()
        }
        self.retired: set[str] = set()
        self.threshold = threshold
        self.proposals: list[ProposalState] = []
        self.executions = 0
        self.executed_actions: Counter[str] = Counter()

    # -- who is who

    def active_count(self) -> int:
        return sum(1 for office in self.offices.values() if office.status == ACTIVE)

    def admin_office(self, account: str) -> str | None:
        return next((c for c, o in self.offices.items() if o.admin == account), None)

    def signer_office(self, account: str) -> str | None:
        return next((c for c, o in self.offices.items() if account in o.signers), None)

    def bound_or_retired(self, account: str) -> bool:
        return (
            account in self.retired
            or self.admin_office(account) is not None
            or self.signer_office(account) is not None
        )

    def acting_office(self, account: str) -> str:
        """The office ``account`` is the admin of, if that office is Active."""
        code = self.admin_office(account)
        if code is None or self.offices[code].status != ACTIVE:
            raise Refused("OfficeRegistryNotActiveAdmin")
        return code

    # -- votes

    def vote_counts(self, proposal: ProposalState, code: str) -> bool:
        office = self.offices[code]
        return office.status == ACTIVE and proposal.votes.get(code) == office.interruptions

    def counted(self, proposal: ProposalState) -> int:
        return sum(1 for code in proposal.votes if self.vote_counts(proposal, code))

    def passes(self, proposal: ProposalState) -> bool:
        active = self.active_count()
        threshold = max(proposal.threshold, self.threshold)
        return active > 0 and self.counted(proposal) * 10_000 > active * threshold

    def lapsed(self, proposal: ProposalState) -> bool:
        office = self.offices[proposal.proposer]
        return office.status != ACTIVE or office.interruptions != proposal.proposer_interruptions

    def live(self, proposal_id: int, now: int) -> ProposalState:
        if proposal_id >= len(self.proposals):
            raise Refused("OfficeRegistryUnknownProposal")
        proposal = self.proposals[proposal_id]
        if proposal.executed:
            raise Refused("OfficeRegistryProposalAlreadyExecuted")
        if now > proposal.deadline:
            raise Refused("OfficeRegistryProposalExpired")
        if self.lapsed(proposal):
            raise Refused("OfficeRegistryProposalLapsed")
        return proposal

    # -- actions: their checks (in the documented order) and effects

    def check(self, action: str, code: str | None, account: str | None, value: int) -> None:
        if action == "admit":
            assert code is not None and account is not None
            if code in self.offices:
                raise Refused("OfficeRegistryOfficeExists")
            if self.bound_or_retired(account):
                raise Refused("OfficeRegistryAccountInUse")
            return
        if action == "change-threshold":
            if not 0 < value < 10_000:
                raise Refused("OfficeRegistryInvalidThreshold")
            return
        assert code is not None
        office = self.offices.get(code)
        if office is None:
            raise Refused("OfficeRegistryUnknownOffice")
        status = office.status
        last = status == ACTIVE and self.active_count() <= 1
        if action == "suspend":
            if status != ACTIVE:
                raise Refused("OfficeRegistryInvalidStatus")
            if last:
                raise Refused("OfficeRegistryLastActiveOffice")
        elif action == "reinstate":
            if status != SUSPENDED:
                raise Refused("OfficeRegistryInvalidStatus")
        elif action == "remove":
            if status == REMOVED:
                raise Refused("OfficeRegistryInvalidStatus")
            if last:
                raise Refused("OfficeRegistryLastActiveOffice")
        elif action in ("add-signer", "replace-admin"):
            assert account is not None
            if status == REMOVED:
                raise Refused("OfficeRegistryInvalidStatus")
            if self.bound_or_retired(account):
                raise Refused("OfficeRegistryAccountInUse")
        elif action == "revoke-signer":
            if account not in office.signers:
                raise Refused("OfficeRegistryUnknownSigner")
        elif action == "readmit":
            assert account is not None
            if status != REMOVED:
                raise Refused("OfficeRegistryInvalidStatus")
            if self.bound_or_retired(account):
                raise Refused("OfficeRegistryAccountInUse")

    def apply(self, proposal: ProposalState) -> None:
        """Execute a passing proposal (its checks run again first)."""
        assert self.passes(proposal), "the model executes only what passes"
        self.check(proposal.action, proposal.office, proposal.account, proposal.value)
        proposal.executed = True
        self.executions += 1
        self.executed_actions[proposal.action] += 1
        action, code, account = proposal.action, proposal.office, proposal.account
        if action == "change-threshold":
            self.threshold = proposal.value
            return
        assert code is not None
        if action == "admit":
            assert account is not None
            self.offices[code] = OfficeState(ACTIVE, account, set())
            return
        office = self.offices[code]
        if action == "suspend":
            office.status, office.interruptions = SUSPENDED, office.interruptions + 1
        elif action == "reinstate":
            office.status = ACTIVE
        elif action == "remove":
            if office.status == ACTIVE:
                office.interruptions += 1
            office.status = REMOVED
        elif action == "add-signer":
            assert account is not None
            office.signers.add(account)
        elif action == "revoke-signer":
            assert account is not None
            office.signers.discard(account)
            self.retired.add(account)
        elif action == "replace-admin":
            assert account is not None
            self.retired.add(office.admin)
            office.admin, office.interruptions = account, office.interruptions + 1
        elif action == "readmit":
            assert account is not None
            self.retired |= {office.admin, *office.signers}
            office.admin, office.signers = account, set()
            office.status, office.interruptions = ACTIVE, office.interruptions + 1

    # -- the three governance calls

    def propose(
        self, sender: str, action: str, code: str | None, account: str | None, value: int, now: int
    ) -> Outcome:
        try:
            proposer = self.acting_office(sender)
            self.check(action, code, account, value)
        except Refused as refused:
            return Outcome(refused.error)
        proposal = ProposalState(
            action,
            code,
            account,
            value,
            proposer,
            self.offices[proposer].interruptions,
            now + VOTING_PERIOD,
            self.threshold,
        )
        return self._vote_on(proposal, proposer, new=True)

    def vote(self, sender: str, proposal_id: int, now: int) -> Outcome:
        try:
            voter = self.acting_office(sender)
            proposal = self.live(proposal_id, now)
            if proposal.votes.get(voter) == self.offices[voter].interruptions:
                raise Refused("OfficeRegistryAlreadyVoted")
        except Refused as refused:
            return Outcome(refused.error)
        return self._vote_on(proposal, voter, new=False)

    def execute(self, proposal_id: int, now: int) -> Outcome:
        try:
            proposal = self.live(proposal_id, now)
            if not self.passes(proposal):
                raise Refused("OfficeRegistryThresholdNotReached")
            self.check(proposal.action, proposal.office, proposal.account, proposal.value)
        except Refused as refused:
            return Outcome(refused.error)
        self.apply(proposal)
        return Outcome(executed=True)

    def _vote_on(self, proposal: ProposalState, voter: str, *, new: bool) -> Outcome:
        """Record a vote and execute if it passes — all or nothing, like one transaction."""
        previous = proposal.votes.get(voter)
        proposal.votes[voter] = self.offices[voter].interruptions
        if not self.passes(proposal):
            if new:
                self.proposals.append(proposal)
            return Outcome()
        try:
            self.check(proposal.action, proposal.office, proposal.account, proposal.value)
        except Refused as refused:  # the passing vote reverts with the action's error
            if previous is None:
                del proposal.votes[voter]
            else:
                proposal.votes[voter] = previous
            return Outcome(refused.error)
        if new:
            self.proposals.append(proposal)
        self.apply(proposal)
        return Outcome(executed=True)


# --- the chain -------------------------------------------------------------------------------


@dataclass
class Chain:
    """One deployment on anvil, and a snapshot of it to start each example from."""

    backend: RpcChain
    registry: ContractInterface
    ledger: ContractInterface
    registry_address: str
    ledger_address: str
    keys: list[OfficeKey]
    founders: dict[str, tuple[str, str]]
    snapshot: str = ""
    base_time: int = 0
    base_nonces: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Back to the deployment. Every block from then on is one second after the last
        (``anvil_setBlockTimestampInterval``, which a revert keeps), so the rules know the
        time of every transaction."""
        backend = self.backend
        if self.snapshot:
            assert backend.request("evm_revert", [self.snapshot])
        else:
            backend.request("anvil_setBlockTimestampInterval", [1])
            self.base_nonces = {key.address: backend.get_nonce(key.address) for key in self.keys}
        self.snapshot = str(backend.request("evm_snapshot", []))
        self.base_time = backend.get_block(backend.block_number()).timestamp


class GovernanceMachine(RuleBasedStateMachine):
    """Random governance by random actors, some colluding, checked against :class:`Rules`."""

    chain: ClassVar[Chain]
    sequences: ClassVar[int] = 0
    steps: ClassVar[int] = 0
    """Rules run (Hypothesis's steps), the initial one of each sequence included."""
    calls: ClassVar[int] = 0
    """Calls checked against the rules (transactions and ``eth_call`` writes)."""
    executions: ClassVar[int] = 0
    outcomes: ClassVar[Counter[str]] = Counter()
    """Executed actions and refusals by name, over the run (what the sequences reached)."""

    def __init__(self) -> None:
        super().__init__()
        chain = self.chain
        chain.reset()
        GovernanceMachine.sequences += 1
        self.now = chain.base_time
        self.nonces = dict(chain.base_nonces)
        self.by_address = {key.address: key for key in chain.keys}
        self.rules = Rules(dict(chain.founders), 5000)
        self.colluders: tuple[str, ...] = ()
        self.records = 0

    # -- choosing actors and targets

    def key(self, n: int) -> OfficeKey:
        return self.chain.keys[n % len(self.chain.keys)]

    def actor(self, n: int) -> OfficeKey:
        """Mostly the admin of an Active office (so that things pass), else any key at all:
        a suspended or removed office's, a retired one, a signer, a spare."""
        admins = [o.admin for o in self.rules.offices.values() if o.status == ACTIVE]
        if n % 4 and admins:
            return self.by_address[admins[(n // 4) % len(admins)]]
        return self.key(n // 4)

    def account(self, n: int) -> OfficeKey:
        """Mostly a key bound to nothing yet, else any (bound or retired: refused)."""
        free = [k for k in self.chain.keys if not self.rules.bound_or_retired(k.address)]
        if n % 3 and free:
            return free[(n // 3) % len(free)]
        return self.key(n // 3)

    def live(self) -> list[int]:
        """Proposals that may still pass (not executed, not expired, not lapsed)."""
        return [
            number
            for number, p in enumerate(self.rules.proposals)
            if not p.executed and p.deadline >= self.now + 1 and not self.rules.lapsed(p)
        ]

    def proposal_id(self, n: int) -> int:
        """Mostly a proposal that can still pass, else any id (or one with no proposal)."""
        live = self.live()
        if n % 4 and live:  # the newest, most often: votes gather on it
            return live[-1] if n % 4 < 3 else live[(n // 4) % len(live)]
        return (n // 4) % (len(self.rules.proposals) + 1)

    def target(self, action: str, code: str, n: int) -> str:
        """Mostly an office in the status the action applies to, else ``code`` as drawn."""
        wanted = {"suspend": ACTIVE, "remove": ACTIVE, "reinstate": SUSPENDED, "readmit": REMOVED}
        status = wanted.get(action)
        fitting = sorted(c for c, o in self.rules.offices.items() if o.status == status)
        if status is not None and fitting and n % 3:
            return fitting[n % len(fitting)]
        return code

    def admin_of(self, code: str) -> OfficeKey:
        return self.by_address[self.rules.offices[code].admin]

    # -- calls

    def _send(self, key: OfficeKey, data: bytes, to: str) -> Outcome:
        """One transaction, alone in the next block; its outcome as the chain gives it. A
        revert's custom error is read by calling again on the state of the failed
        transaction's own block (same time, same state: a failed transaction changes nothing
        but its sender's nonce)."""
        backend = self.chain.backend
        self.now += 1
        nonce = self.nonces[key.address]
        self.nonces[key.address] = nonce + 1
        raw = sign_transaction(
            key, chain_id=backend.chain_id, nonce=nonce, to=to, data=data, gas=2_000_000
        )
        (receipt,) = backend.wait_for_receipts(backend.send_raw_transactions([raw]), timeout=60)
        if receipt.status != 1:
            try:
                backend.call(to, data, sender=key.address, block_number=receipt.block_number)
            except ContractRevertError as error:
                revert = error.error_args[0] if error.error_args else None
                interfaces = [self.chain.registry]
                decoded = revert_error(revert if isinstance(revert, bytes) else None, interfaces)
                return Outcome(decoded.error_name or "reverted without a custom error")
            raise AssertionError("a transaction reverted that succeeds as a call")
        events = [self.chain.registry.decode_log(log) for log in receipt.logs]
        executed = any(e is not None and e.event == "ProposalExecuted" for e in events)
        return Outcome(executed=executed)

    def _expect(self, what: str, expected: Outcome, actual: Outcome) -> None:
        GovernanceMachine.calls += 1
        assert (actual.error, actual.executed) == (expected.error, expected.executed), (
            f"{what}: the rules say {expected}, the chain did {actual}"
        )
        if actual.executed:
            GovernanceMachine.executions += 1
        GovernanceMachine.outcomes[actual.error or ("executed" if actual.executed else "ok")] += 1

    def _propose(
        self, key: OfficeKey, action: str, code: str | None, account: str | None, value: int
    ) -> None:
        before = self.rules.executions
        expected = self.rules.propose(key.address, action, code, account, value, self.now + 1)
        data = self.chain.registry.encode_call(
            "propose",
            _ACTION_NUMBER[action],
            office_code_bytes2(code) if code is not None else b"\0\0",
            account or ZERO_ADDRESS,
            f"Office {code}" if action in ("admit", "readmit") else "",
            value,
            ZERO_HASH,
        )
        actual = self._send(key, data, self.chain.registry_address)
        self._expect(f"{key.address} proposes {action} {code} {account} {value}", expected, actual)
        assert self.rules.executions - before == int(expected.executed)

    def _vote(self, key: OfficeKey, proposal_id: int) -> None:
        expected = self.rules.vote(key.address, proposal_id, self.now + 1)
        data = self.chain.registry.encode_call("vote", proposal_id)
        actual = self._send(key, data, self.chain.registry_address)
        self._expect(f"{key.address} votes for {proposal_id}", expected, actual)

    # -- rules

    @initialize(
        colluders=st.sets(st.sampled_from(FOUNDERS), max_size=2),
        shrink=st.lists(st.tuples(st.sampled_from(FOUNDERS), st.booleans()), max_size=4),
    )
    def start(self, colluders: set[str], shrink: list[tuple[str, bool]]) -> None:
        """Choose who colludes; then perhaps suspend or remove a few offices by vote first, so
        that small electorates (down to the last active office) are common."""
        self.colluders = tuple(sorted(colluders))
        for code, remove in shrink:
            self.propose_and_rally(0, "remove" if remove else "suspend", code, 0, 0, 5, 0)

    @rule(
        actor=st.integers(0, 10_000),
        action=st.sampled_from(ACTIONS),
        code=st.sampled_from(CODES),
        account=st.integers(0, 10_000),
        threshold=st.sampled_from(THRESHOLDS),
    )
    def propose(self, actor: int, action: str, code: str, account: int, threshold: int) -> None:
        if action == "change-threshold":
            self._propose(self.actor(actor), action, None, None, threshold)
            return
        code = self.target(action, code, account)
        chosen: str | None = None
        if action in ("admit", "add-signer", "replace-admin", "readmit"):
            chosen = self.account(account).address
        elif action == "revoke-signer":
            office = self.rules.offices.get(code)
            signers = sorted(office.signers) if office is not None else []
            chosen = signers[account % len(signers)] if signers and account % 3 else None
            chosen = chosen or self.key(account).address
        self._propose(self.actor(actor), action, code, chosen, 0)

    @rule(actor=st.integers(0, 10_000), proposal=st.integers(0, 10_000))
    def vote(self, actor: int, proposal: int) -> None:
        self._vote(self.actor(actor), self.proposal_id(proposal))

    @rule(proposal=st.integers(0, 10_000), voters=st.integers(1, 5), start=st.integers(0, 4))
    def rally(self, proposal: int, voters: int, start: int) -> None:
        """Several Active offices' admins, in turn, vote for a proposal that may still pass
        (so that proposals of every kind pass, and the consortium changes)."""
        live = self.live()
        if live:
            self._rally(live[proposal % len(live)], voters, start)

    @rule(
        proposer=st.integers(0, 10_000),
        action=st.sampled_from(ACTIONS),
        code=st.sampled_from(CODES),
        account=st.integers(0, 10_000),
        threshold=st.sampled_from(THRESHOLDS),
        voters=st.integers(0, 5),
        start=st.integers(0, 4),
    )
    def propose_and_rally(
        self,
        proposer: int,
        action: str,
        code: str,
        account: int,
        threshold: int,
        voters: int,
        start: int,
    ) -> None:
        """An Active office's admin proposes anything, and some others vote for it at once."""
        before = len(self.rules.proposals)
        self.propose(proposer * 4 + 1, action, code, account, threshold)
        proposal = self.rules.proposals[before] if len(self.rules.proposals) > before else None
        if proposal is not None and not proposal.executed:
            self._rally(before, voters, start)

    def _rally(self, proposal_id: int, voters: int, start: int) -> None:
        active = sorted(c for c, o in self.rules.offices.items() if o.status == ACTIVE)
        for turn in range(min(voters, len(active))):
            if self.rules.proposals[proposal_id].executed:
                break
            self._vote(self.admin_of(active[(start + turn) % len(active)]), proposal_id)

    @rule(actor=st.integers(0, 10_000), proposal=st.integers(0, 10_000))
    def execute(self, actor: int, proposal: int) -> None:
        """Anyone may execute (any key, bound or not)."""
        proposal_id = self.proposal_id(proposal)
        before = self.rules.executions
        expected = self.rules.execute(proposal_id, self.now + 1)
        data = self.chain.registry.encode_call("execute", proposal_id)
        actual = self._send(self.key(actor), data, self.chain.registry_address)
        self._expect(f"anyone executes {proposal_id}", expected, actual)
        assert self.rules.executions - before == int(expected.executed)

    @rule(victim=st.sampled_from(FOUNDERS), puppet=st.integers(0, 10_000), admit=st.booleans())
    def colluders_strike(self, victim: str, puppet: int, admit: bool) -> None:
        """The colluders' plan: one proposes removing an office or admitting a puppet under a
        key they hold, then they all vote for every proposal of theirs not executed."""
        if not self.colluders:
            return
        leader = self.admin_of(self.colluders[0])
        if admit:
            code = NEWCOMERS[puppet % len(NEWCOMERS)]
            self._propose(leader, "admit", code, self.account(puppet).address, 0)
        else:
            self._propose(leader, "remove", victim, None, 0)
        for proposal_id in self.live():
            if self.rules.proposals[proposal_id].proposer in self.colluders:
                for code in self.colluders:
                    if not self.rules.proposals[proposal_id].executed:
                        self._vote(self.admin_of(code), proposal_id)

    @rule(culprit=st.integers(0, 10_000), remove=st.booleans())
    def majority_sanctions(self, culprit: int, remove: bool) -> None:
        """The offices that do not collude propose and vote to suspend or remove a colluder."""
        if not self.colluders:
            return
        honest = [c for c in FOUNDERS if c not in self.colluders]
        target = self.colluders[culprit % len(self.colluders)]
        before = len(self.rules.proposals)
        self._propose(self.admin_of(honest[0]), "remove" if remove else "suspend", target, None, 0)
        if len(self.rules.proposals) > before:
            for code in honest[1:]:
                self._vote(self.admin_of(code), before)

    @rule(seconds=st.sampled_from((5, 60, 1800, VOTING_PERIOD + 1)))
    def time_passes(self, seconds: int) -> None:
        backend = self.chain.backend
        self.now += seconds
        backend.request("evm_setNextBlockTimestamp", [self.now])
        backend.request("evm_mine", [])

    @rule(actor=st.integers(0, 10_000))
    def write(self, actor: int) -> None:
        """A key tries to anchor a register event for the office it signs for (or EM)."""
        key = self.key(actor)
        code = self.rules.signer_office(key.address)
        may = code is not None and self.rules.offices[code].status == ACTIVE
        self.records += 1
        entry = (
            f"{code or 'EM'}/TM/{self.records}",
            event_code_bytes8("A10"),
            b"\x01" * 32,
            ZERO_HASH,
            b"",
        )
        data = self.chain.ledger.encode_call("recordEvents", [entry])
        refused = None
        try:
            self.chain.backend.call(self.chain.ledger_address, data, sender=key.address)
        except ContractRevertError as error:
            raw = error.error_args[0] if error.error_args else None
            refused = revert_error(raw if isinstance(raw, bytes) else None, [self.chain.ledger])
        GovernanceMachine.calls += 1
        assert (refused is None) == may, f"{key.address} writing for {code}: {refused}"
        assert refused is None or refused.error_name == "RegisterUnauthorizedOffice"

    # -- invariants

    @invariant()
    def consortium_is_the_models(self) -> None:
        """Offices (status, admin, signers), the electorate, the threshold and the proposal
        count are the model's; every key may write exactly when the model says so (a
        suspended or removed office's keys may not, a retired key never again)."""
        chain, rules = self.chain, self.rules
        codes = [code for code in CODES if code in rules.offices]
        encode = chain.registry.encode_call
        reads: list[Any] = [
            Call(chain.registry_address, encode("activeOfficeCount")),
            Call(chain.registry_address, encode("thresholdBps")),
            Call(chain.registry_address, encode("proposalCount")),
        ]
        for code in codes:
            raw = office_code_bytes2(code)
            reads.append(Call(chain.registry_address, encode("office", raw)))
            reads.append(Call(chain.registry_address, encode("signersOf", raw)))
        for key in chain.keys:
            reads.append(Call(chain.registry_address, encode("officeOf", key.address)))
        answers = chain.backend.read_batch(reads)
        assert all(isinstance(answer, bytes) for answer in answers), answers
        decode = chain.registry.decode_result
        (active,) = decode("activeOfficeCount", answers[0])
        (threshold,) = decode("thresholdBps", answers[1])
        (count,) = decode("proposalCount", answers[2])
        assert (active, threshold, count) == (
            rules.active_count(),
            rules.threshold,
            len(rules.proposals),
        )
        position = 3
        for code in codes:
            ((_, _, status, admin, _, _),) = decode("office", answers[position])
            (signers,) = decode("signersOf", answers[position + 1])
            position += 2
            office = rules.offices[code]
            admin = to_checksum_address(admin)
            assert (_STATUS_NUMBER[status], admin) == (office.status, office.admin), code
            assert {to_checksum_address(s) for s in signers} == office.signers, code
        for key, answer in zip(chain.keys, answers[position:], strict=True):
            code, may_write = decode("officeOf", answer)
            signs_for = rules.signer_office(key.address)
            assert (bytes(code).decode() if code != b"\0\0" else None) == signs_for
            assert may_write == (
                signs_for is not None and rules.offices[signs_for].status == ACTIVE
            )
            if key.address in rules.retired:
                assert signs_for is None and rules.admin_office(key.address) is None

    def teardown(self) -> None:
        for action, times in self.rules.executed_actions.items():
            GovernanceMachine.outcomes[f"executed {action}"] += times

    @invariant()
    def only_passing_proposals_executed(self) -> None:
        """The chain executed exactly the proposals the model executed, each of which passed
        (votes that count × 10 000 > active offices × threshold) when it did (Rules.apply)."""
        GovernanceMachine.steps += 1  # invariants run once after each rule
        assert sum(p.executed for p in self.rules.proposals) == self.rules.executions


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(anvil_binary: Any) -> Iterator[Chain]:
    from ipchain.chain.anvil import AnvilNode

    node = AnvilNode.start()
    backend = RpcChain.connect(node.url)
    try:
        deployer = new_key()
        founders = {code: (new_key(), new_key()) for code in FOUNDERS}
        spare = [new_key() for _ in range(SPARE_KEYS)]
        keys = [key for pair in founders.values() for key in pair] + spare
        fund(backend, [deployer.address, *(key.address for key in keys)])
        offices = [
            FoundingOffice(code, f"Office {code}", admin.address, (signer.address,))
            for code, (admin, signer) in founders.items()
        ]
        deployment = deploy_consortium(
            backend, deployer, offices, voting_period_seconds=VOTING_PERIOD
        )
        yield Chain(
            backend=backend,
            registry=load_interface("OfficeRegistry"),
            ledger=load_interface("RegisterLedger"),
            registry_address=deployment.address("OfficeRegistry"),
            ledger_address=deployment.address("RegisterLedger"),
            keys=keys,
            founders={code: (a.address, s.address) for code, (a, s) in founders.items()},
        )
    finally:
        backend.close()
        node.stop()


def test_governance_invariants_hold_for_random_sequences(chain: Chain) -> None:
    GovernanceMachine.chain = chain
    GovernanceMachine.sequences = GovernanceMachine.steps = GovernanceMachine.calls = 0
    GovernanceMachine.executions = 0
    GovernanceMachine.outcomes = Counter()
    started = time.monotonic()
    run_state_machine_as_test(
        GovernanceMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
    print(
        f"\ngovernance invariants: {GovernanceMachine.sequences} sequences, "
        f"{GovernanceMachine.steps} steps, {GovernanceMachine.calls} checked calls, "
        f"{GovernanceMachine.executions} executions, "
        f"{time.monotonic() - started:.0f} s"
    )
    for outcome, times in sorted(GovernanceMachine.outcomes.items()):
        print(f"  {times:6d}  {outcome}")
