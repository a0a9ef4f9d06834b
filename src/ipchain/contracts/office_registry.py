"""The OfficeRegistry binding: consortium governance — proposals, votes, offices and their keys.

Two kinds of office key take part (see docs/governance.md):

* the **admin** key of an Active office proposes and votes — one vote per office;
* **signer** keys write register events and attestations; governance adds and revokes them.

A proposal executes in the transaction of the vote that makes it pass (votes × 10 000 >
active offices × threshold in basis points; 5 000 means "more than half"), or later through
:meth:`Governance.execute` when the electorate shrank. Only votes of offices that are Active
and have kept their admin key since they voted count, and a proposal whose proposer left
Active or replaced its admin key has lapsed; the threshold is the stricter of the one when the
proposal was made and the current one. It expires after the registry's voting period.
Arguments are checked here before anything is signed, so bad
input (an office code that is not ST.3-shaped, a malformed account) fails with
:class:`~ipchain.errors.InvalidInputError` and writes nothing; what only the chain can decide
fails with :class:`~ipchain.errors.ContractRevertError` naming the contract's custom error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from eth_utils import is_address, to_checksum_address

from ipchain.chain.base import ChainBackend, Receipt
from ipchain.contracts.bindings import (
    ContractInterface,
    Deployment,
    call_function,
    load_interface,
    send_and_confirm,
)
from ipchain.encoding import ZERO_HASH, office_code_bytes2
from ipchain.errors import InvalidInputError
from ipchain.keys import OfficeKey

MAX_THRESHOLD_BPS = 10_000
"""The threshold is in basis points of the active offices; it must stay below this."""

MIN_VOTING_PERIOD = 3_600
"""Shortest voting period OfficeRegistry accepts at deployment (one hour), in seconds."""

MAX_VOTING_PERIOD = 365 * 24 * 3_600
"""Longest voting period OfficeRegistry accepts at deployment (365 days), in seconds."""

# Gas: a proposal stores its arguments (the name/definition string at ~700 gas a byte) and the
# passing vote may store the definition again as an approved schema, re-admit an office (its
# signer keys retired one by one) or revoke attestations in AttestationRegistry; every vote
# counts the votes of the offices that still count. Measured on anvil with headroom; explicit
# gas saves an estimation round trip (DESIGN §8).
_GAS_BASE = 700_000
_GAS_PER_NAME_BYTE = 1_600


class ProposalAction(IntEnum):
    """What a proposal does when it executes (OfficeRegistry's ``Action``)."""

    ADMIT_OFFICE = 0
    SUSPEND_OFFICE = 1
    REINSTATE_OFFICE = 2
    REMOVE_OFFICE = 3
    ADD_SIGNER = 4
    REVOKE_SIGNER = 5
    CHANGE_THRESHOLD = 6
    APPROVE_SCHEMA = 7
    REPLACE_ADMIN = 8
    READMIT_OFFICE = 9
    REVOKE_ATTESTATION = 10
    REVOKE_ATTESTATIONS_ISSUED_SINCE = 11


class OfficeStatus(IntEnum):
    """An office's place in the consortium (OfficeRegistry's ``OfficeStatus``)."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REMOVED = 3


class ProposalState(StrEnum):
    """Where a proposal stands at the latest block."""

    OPEN = "open"
    EXECUTED = "executed"
    EXPIRED = "expired"
    LAPSED = "lapsed"
    """Not executed, and its proposer left Active or replaced its admin key since: it can no
    longer pass."""


@dataclass(frozen=True, slots=True)
class OfficeInfo:
    """One member office as the OfficeRegistry holds it."""

    code: str
    """WIPO ST.3 code, e.g. ``EM``."""
    name: str
    """Office name."""
    status: OfficeStatus
    """Active, Suspended or Removed."""
    admin: str
    """Admin account: proposes and votes."""
    signers: tuple[str, ...]
    """Current (non-revoked) signer accounts: write register events and attestations."""
    profile_hash: bytes
    """SHA-256 of the office's profile document, or zeros."""
    status_changed_at: int
    """Unix time of admission or of the last status change."""


@dataclass(frozen=True, slots=True)
class StatusStep:
    """One step of an office's on-chain status history."""

    status: OfficeStatus
    """The status from then on."""
    changed_at: int
    """Block time of the change."""


@dataclass(frozen=True, slots=True)
class ProposalView:
    """A governance proposal and its votes."""

    proposal_id: int
    """Sequential id, from 0."""
    action: ProposalAction
    """What it does."""
    office: str | None
    """Office it concerns (None for threshold and schema proposals)."""
    account: str | None
    """Account it concerns: the new admin (admission, re-admission, admin replacement) or the
    signer key (None otherwise)."""
    name: str
    """Office name (admission, re-admission) or schema definition (schema approval); empty
    otherwise."""
    value: int
    """New threshold in basis points (threshold change) or the Unix time from which an
    office's attestations are revoked; 0 otherwise."""
    data_hash: bytes
    """Profile hash of an office to (re-)admit, or the uid of an attestation to revoke; zeros
    otherwise."""
    proposer: str
    """ST.3 code of the proposing office."""
    created_at: int
    """Unix time it was made."""
    deadline: int
    """Last Unix time votes are accepted."""
    votes: int
    """Votes that count now (the proposer's included): of offices Active now that have kept
    their admin key since they voted."""
    executed: bool
    """Whether its action took effect."""
    threshold_bps: int
    """The threshold when it was made; the stricter of it and the current one applies."""
    state: ProposalState
    """Open, executed, expired or lapsed, judged at the latest block."""


class Governance:
    """OfficeRegistry on one chain: read the consortium, propose, vote, execute."""

    def __init__(self, backend: ChainBackend, deployment: Deployment) -> None:
        self.backend = backend
        self.deployment = deployment
        self.registry: ContractInterface = load_interface("OfficeRegistry")
        self.registry_address = deployment.address("OfficeRegistry")

    # ----------------------------------------------------------------------- reads

    def _call(self, function: str, *args: Any) -> tuple[Any, ...]:
        return call_function(self.backend, self.registry, self.registry_address, function, *args)

    def office(self, code: str) -> OfficeInfo:
        """One office; ``OfficeRegistryUnknownOffice`` (a ContractRevertError) if never admitted."""
        (raw,) = self._call("office", office_code_bytes2(code))
        raw_code, name, status, admin, profile_hash, changed_at = raw
        return OfficeInfo(
            code=raw_code.decode("ascii"),
            name=name,
            status=OfficeStatus(status),
            admin=to_checksum_address(admin),
            signers=self.signers_of(code),
            profile_hash=bytes(profile_hash),
            status_changed_at=int(changed_at),
        )

    def offices(self) -> list[OfficeInfo]:
        """Every office ever admitted, in order of admission."""
        (codes,) = self._call("officeCodes")
        return [self.office(raw.decode("ascii")) for raw in codes]

    def signers_of(self, code: str) -> tuple[str, ...]:
        """Current signer keys of an office (empty for an unknown code)."""
        (signers,) = self._call("signersOf", office_code_bytes2(code))
        # eth-abi leaves addresses inside arrays and tuples in lower case.
        return tuple(to_checksum_address(signer) for signer in signers)

    def office_of(self, account: str) -> tuple[str | None, bool]:
        """The office a signer key belongs to (None if none) and whether it may write now."""
        code, active = self._call("officeOf", _address(account, "account"))
        return (code.decode("ascii") if code != b"\0\0" else None), bool(active)

    def threshold_bps(self) -> int:
        """Vote threshold in basis points of the active offices."""
        return int(self._call("thresholdBps")[0])

    def voting_period(self) -> int:
        """Seconds a proposal stays open."""
        return int(self._call("votingPeriod")[0])

    def active_office_count(self) -> int:
        """Number of Active offices: the electorate."""
        return int(self._call("activeOfficeCount")[0])

    def proposal_count(self) -> int:
        """Number of proposals ever made."""
        return int(self._call("proposalCount")[0])

    def proposal(self, proposal_id: int) -> ProposalView:
        """One proposal; ``OfficeRegistryUnknownProposal`` if there is no such id."""
        (raw,) = self._call("proposal", proposal_id)
        return _proposal_view(proposal_id, raw, self._latest_timestamp())

    def list_proposals(self, *, offset: int = 0, limit: int = 100) -> list[ProposalView]:
        """Proposals ``offset`` … ``offset + limit - 1``, oldest first."""
        if offset < 0 or limit < 0:
            raise InvalidInputError("offset and limit must not be negative", field="offset")
        (page,) = self._call("proposals", offset, limit)
        now = self._latest_timestamp()
        return [_proposal_view(offset + index, raw, now) for index, raw in enumerate(page)]

    def has_voted(self, proposal_id: int, code: str) -> bool:
        """Whether an office has a vote for a proposal that belongs to its current term (a vote
        cast before the office left Active or replaced its admin key does not count)."""
        return bool(self._call("hasVoted", proposal_id, office_code_bytes2(code))[0])

    def voters(self, proposal_id: int) -> tuple[str, ...]:
        """The offices whose votes for a proposal count now, in order of first vote."""
        (codes,) = self._call("voters", proposal_id)
        return tuple(bytes(code).decode("ascii") for code in codes)

    def status_history(self, code: str) -> list[StatusStep]:
        """An office's status history, oldest first (empty for a code never admitted)."""
        (steps,) = self._call("statusHistory", office_code_bytes2(code))
        return [StatusStep(OfficeStatus(status), int(at)) for status, at in steps]

    def status_at(self, code: str, timestamp: int) -> OfficeStatus:
        """An office's status at Unix time ``timestamp`` (``NONE`` before its admission)."""
        return OfficeStatus(self._call("statusAt", office_code_bytes2(code), timestamp)[0])

    def admission_count(self, code: str) -> int:
        """How many times an office was admitted (1, plus one per re-admission; 0 if never)."""
        return int(self._call("admissionCount", office_code_bytes2(code))[0])

    def removed_at(self, code: str, admission: int) -> int | None:
        """When an office's ``admission``-th membership ended by removal (None if it did not)."""
        return int(self._call("removedAt", office_code_bytes2(code), admission)[0]) or None

    def attestation_registry(self) -> str | None:
        """The AttestationRegistry consortium revocations apply to (None until bound)."""
        (address,) = self._call("attestationRegistry")
        return to_checksum_address(address) if int(address, 16) else None

    def schema_definition(self, schema_uid: bytes) -> str | None:
        """The definition of an approved attestation schema, None if not approved."""
        (definition,) = self._call("schemaDefinition", schema_uid)
        return str(definition) or None

    def _latest_timestamp(self) -> int:
        return self.backend.get_block(self.backend.block_number()).timestamp

    # ----------------------------------------------------------------------- proposals

    def propose_admit_office(
        self,
        admin_key: OfficeKey,
        code: str,
        name: str,
        admin_account: str,
        profile_hash: bytes = ZERO_HASH,
    ) -> int:
        """Propose admitting office ``code`` with its admin account. Signer keys are added
        by further proposals once it is a member."""
        return self._propose_admission(
            admin_key, ProposalAction.ADMIT_OFFICE, code, name, admin_account, profile_hash
        )

    def propose_suspend_office(self, admin_key: OfficeKey, code: str) -> int:
        """Propose suspending an Active office: its keys stop writing, its admin stops voting."""
        return self._propose(admin_key, ProposalAction.SUSPEND_OFFICE, office=code)

    def propose_reinstate_office(self, admin_key: OfficeKey, code: str) -> int:
        """Propose making a Suspended office Active again."""
        return self._propose(admin_key, ProposalAction.REINSTATE_OFFICE, office=code)

    def propose_remove_office(self, admin_key: OfficeKey, code: str) -> int:
        """Propose removing an office for good (it cannot be reinstated; its code stays
        taken so past entries keep one author)."""
        return self._propose(admin_key, ProposalAction.REMOVE_OFFICE, office=code)

    def propose_add_signer(self, admin_key: OfficeKey, code: str, signer: str) -> int:
        """Propose binding a new signer key to an office."""
        return self._propose(
            admin_key, ProposalAction.ADD_SIGNER, office=code, account=_address(signer, "signer")
        )

    def propose_revoke_signer(self, admin_key: OfficeKey, code: str, signer: str) -> int:
        """Propose revoking one of an office's signer keys (retired for good)."""
        return self._propose(
            admin_key,
            ProposalAction.REVOKE_SIGNER,
            office=code,
            account=_address(signer, "signer"),
        )

    def propose_change_threshold(self, admin_key: OfficeKey, threshold_bps: int) -> int:
        """Propose a new vote threshold in basis points (1 … 9 999; 5 000 = more than half)."""
        if not isinstance(threshold_bps, int) or not 0 < threshold_bps < MAX_THRESHOLD_BPS:
            raise InvalidInputError(
                f"threshold must be 1 … {MAX_THRESHOLD_BPS - 1} basis points, got {threshold_bps}",
                field="threshold_bps",
            )
        return self._propose(admin_key, ProposalAction.CHANGE_THRESHOLD, value=threshold_bps)

    def propose_approve_schema(self, admin_key: OfficeKey, definition: str) -> int:
        """Propose approving an attestation schema; its uid is keccak256 of ``definition``."""
        if not definition:
            raise InvalidInputError("a schema definition must not be empty", field="definition")
        return self._propose(admin_key, ProposalAction.APPROVE_SCHEMA, name=definition)

    def propose_replace_admin(self, admin_key: OfficeKey, code: str, new_admin: str) -> int:
        """Propose replacing an Active or Suspended office's admin key; the old key is retired
        for good, and its votes and proposals stop counting."""
        return self._propose(
            admin_key,
            ProposalAction.REPLACE_ADMIN,
            office=code,
            account=_address(new_admin, "new_admin"),
        )

    def propose_readmit_office(
        self,
        admin_key: OfficeKey,
        code: str,
        name: str,
        admin_account: str,
        profile_hash: bytes = ZERO_HASH,
    ) -> int:
        """Propose admitting a removed office again under a new admin account; its former admin
        and signer keys are retired, so it starts with no signer key."""
        return self._propose_admission(
            admin_key, ProposalAction.READMIT_OFFICE, code, name, admin_account, profile_hash
        )

    def _propose_admission(
        self,
        admin_key: OfficeKey,
        action: ProposalAction,
        code: str,
        name: str,
        admin_account: str,
        profile_hash: bytes,
    ) -> int:
        if not name.strip():
            raise InvalidInputError("an office needs a name", field="name")
        if len(profile_hash) != 32:
            raise InvalidInputError("profile_hash must be 32 bytes", field="profile_hash")
        return self._propose(
            admin_key,
            action,
            office=code,
            account=_address(admin_account, "admin_account"),
            name=name,
            data_hash=profile_hash,
        )

    def propose_revoke_attestation(self, admin_key: OfficeKey, uid: bytes) -> int:
        """Propose revoking one attestation, whoever issued it."""
        if not isinstance(uid, bytes) or len(uid) != 32 or uid == ZERO_HASH:
            raise InvalidInputError("uid must be 32 bytes, not zero", field="uid")
        return self._propose(admin_key, ProposalAction.REVOKE_ATTESTATION, data_hash=uid)

    def propose_revoke_attestations_issued_since(
        self, admin_key: OfficeKey, code: str, issued_since: int
    ) -> int:
        """Propose revoking every attestation of office ``code`` issued from Unix time
        ``issued_since`` up to the proposal's execution."""
        if not isinstance(issued_since, int) or not 0 <= issued_since < 2**64:
            raise InvalidInputError("issued_since must be a Unix time", field="issued_since")
        return self._propose(
            admin_key,
            ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE,
            office=code,
            value=issued_since,
        )

    def _propose(
        self,
        admin_key: OfficeKey,
        action: ProposalAction,
        *,
        office: str | None = None,
        account: str | None = None,
        name: str = "",
        value: int = 0,
        data_hash: bytes = ZERO_HASH,
    ) -> int:
        office_bytes = office_code_bytes2(office) if office is not None else b"\0\0"
        account = account or "0x" + "00" * 20
        data = self.registry.encode_call(
            "propose", int(action), office_bytes, account, name, value, data_hash
        )
        receipt = self._send(admin_key, data, _gas_for(name))
        for log in receipt.logs:
            decoded = self.registry.decode_log(log)
            if decoded is not None and decoded.event == "ProposalCreated":
                return int(decoded.args["proposalId"])
        raise AssertionError("propose succeeded without a ProposalCreated event")

    # ----------------------------------------------------------------------- votes

    def vote(self, admin_key: OfficeKey, proposal_id: int) -> bool:
        """Vote for a proposal as the admin of an Active office. Returns whether this vote made
        it pass (its action then took effect in the same transaction)."""
        proposal = self.proposal(proposal_id)
        data = self.registry.encode_call("vote", proposal_id)
        receipt = self._send(admin_key, data, _gas_for(proposal.name))
        return self._executed_in(receipt)

    def execute(self, key: OfficeKey, proposal_id: int) -> None:
        """Apply a proposal that has reached the threshold without being executed (anyone may)."""
        proposal = self.proposal(proposal_id)
        data = self.registry.encode_call("execute", proposal_id)
        self._send(key, data, _gas_for(proposal.name))

    def _send(self, key: OfficeKey, data: bytes, gas: int) -> Receipt:
        return send_and_confirm(
            self.backend,
            key,
            to=self.registry_address,
            data=data,
            gas=gas,
            interfaces=[self.registry],
        )

    def _executed_in(self, receipt: Receipt) -> bool:
        for log in receipt.logs:
            decoded = self.registry.decode_log(log)
            if decoded is not None and decoded.event == "ProposalExecuted":
                return True
        return False


def _gas_for(name: str) -> int:
    return _GAS_BASE + _GAS_PER_NAME_BYTE * len(name.encode("utf-8"))


def _address(value: str, field: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise InvalidInputError(f"{field} {value!r:.50} is not an account address", field=field)
    address = to_checksum_address(value)
    if int(address, 16) == 0:
        raise InvalidInputError(f"{field} must not be the zero address", field=field)
    return address


def _proposal_view(proposal_id: int, raw: tuple[Any, ...], now: int) -> ProposalView:
    (
        action,
        office,
        account,
        name,
        value,
        data_hash,
        proposer,
        created_at,
        deadline,
        votes,
        done,
        threshold_bps,
        lapsed,
    ) = raw
    if done:
        state = ProposalState.EXECUTED
    elif now > int(deadline):
        state = ProposalState.EXPIRED
    elif lapsed:
        state = ProposalState.LAPSED
    else:
        state = ProposalState.OPEN
    return ProposalView(
        proposal_id=proposal_id,
        action=ProposalAction(action),
        office=office.decode("ascii") if office != b"\0\0" else None,
        account=to_checksum_address(account) if int(account, 16) != 0 else None,
        name=name,
        value=int(value),
        data_hash=bytes(data_hash),
        proposer=proposer.decode("ascii"),
        created_at=int(created_at),
        deadline=int(deadline),
        votes=int(votes),
        executed=bool(done),
        threshold_bps=int(threshold_bps),
        state=state,
    )
