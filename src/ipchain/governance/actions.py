"""Governance and attestation writes a node makes for an office: propose, vote, execute,
attest, revoke — what the API's office-authenticated endpoints and the ``ipchain propose |
vote | attest | revoke`` commands do.

A request acts for **one** office (the API token's, or ``--as`` on the command line) and the
node signs with that office's keys from its keystore: the **admin** key proposes, votes and
executes; the **signer** key attests and revokes. Which office may do what is the contracts'
to decide, and this module lets them: it only refuses up front what can never succeed as
given (bad input: an action that does not exist, an office code that is not ST.3-shaped, a
claim that does not fit its schema, an unknown schema, a certificate not from the consortium
CA or expired) — nothing is sent then. Every transaction is first run as a call
(``eth_call``) so that a refusal by the contract (a suspended office, a double vote, an
expired proposal) comes back as its custom error without a failed transaction on the chain.

Attestations are signed by the office's signer key as EIP-712 messages and relayed by its
admin key (``attestBySig``): the signer stays the attester, and the node never sends two
transactions at once from the signer key the submitter anchors register events with.
Revocations have no relayed form and are sent by the signer key itself.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from eth_utils import is_address, to_checksum_address

from ipchain.attestations import (
    OFFICE_CERTIFICATE_SCHEMA,
    STANDARD_SCHEMAS,
    Attestation,
    Attestations,
    AttestationSchema,
    build_request,
    office_certificate_claim,
)
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import ContractInterface, Deployment, revert_error
from ipchain.contracts.office_registry import (
    MAX_THRESHOLD_BPS,
    Governance,
    ProposalAction,
    ProposalView,
)
from ipchain.encoding import ZERO_HASH, JsonValue, canonical_bytes, office_code_bytes2
from ipchain.errors import (
    AuthorizationError,
    CertificateError,
    ContractRevertError,
    InvalidInputError,
    KeystoreError,
    UnauthorizedOfficeError,
    UnknownSchemaError,
)
from ipchain.governance.dev_setup import consortium_ca_certificate
from ipchain.governance.queries import GovernanceQueries
from ipchain.keys import (
    Keystore,
    OfficeKey,
    PemOrCertificate,
    admin_key_name,
    signer_key_name,
    verify_office_certificate,
)

_T = TypeVar("_T")

MAX_PROPOSAL_NAME_CHARS: Final = 4096
"""Longest office name or schema definition a proposal carries: the name is stored on chain
by every node forever, and the longest schema ipchain defines is under 300 characters."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Control characters (C0, DEL, C1): never part of an office name or a schema definition, and
PostgreSQL's text cannot hold NUL."""

RELAY_WINDOW_SECONDS: Final = 600
"""How long a signed attestation may wait for its relay (the EIP-712 deadline)."""

_OFFICE_ACTIONS: Final = frozenset(
    {
        ProposalAction.ADMIT_OFFICE,
        ProposalAction.SUSPEND_OFFICE,
        ProposalAction.REINSTATE_OFFICE,
        ProposalAction.REMOVE_OFFICE,
        ProposalAction.ADD_SIGNER,
        ProposalAction.REVOKE_SIGNER,
        ProposalAction.REPLACE_ADMIN,
        ProposalAction.READMIT_OFFICE,
        ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE,
    }
)
_ACCOUNT_ACTIONS: Final = frozenset(
    {
        ProposalAction.ADMIT_OFFICE,
        ProposalAction.ADD_SIGNER,
        ProposalAction.REVOKE_SIGNER,
        ProposalAction.REPLACE_ADMIN,
        ProposalAction.READMIT_OFFICE,
    }
)
_NAME_ACTIONS: Final = frozenset(
    {ProposalAction.ADMIT_OFFICE, ProposalAction.READMIT_OFFICE, ProposalAction.APPROVE_SCHEMA}
)
_PROFILE_ACTIONS: Final = frozenset({ProposalAction.ADMIT_OFFICE, ProposalAction.READMIT_OFFICE})


def action_names() -> list[str]:
    """The actions a proposal may take, as the API and CLI write them."""
    return [action.name.lower().replace("_", "-") for action in ProposalAction]


def parse_action(text: str) -> ProposalAction:
    """``admit-office`` (or ``ADMIT_OFFICE``, ``admit_office``) as a :class:`ProposalAction`."""
    normal = text.strip().upper().replace("-", "_") if isinstance(text, str) else ""
    try:
        return ProposalAction[normal]
    except KeyError:
        raise InvalidInputError(
            f"action {text!r:.40} is not one of {', '.join(action_names())}", field="action"
        ) from None


@dataclass(frozen=True, slots=True)
class ProposalRequest:
    """A checked proposal: the action and the arguments it uses."""

    action: ProposalAction
    """What it does."""
    office: str | None = None
    """Office it concerns (office actions only)."""
    account: str | None = None
    """New admin (admission, re-admission, admin replacement) or signer key (signer
    actions)."""
    name: str = ""
    """Office name ((re-)admission) or schema definition (schema approval)."""
    value: int = 0
    """New threshold in basis points (threshold change), or the Unix time from which an
    office's attestations are revoked."""
    data_hash: bytes = ZERO_HASH
    """Profile document hash of an office to (re-)admit, or the uid of an attestation to
    revoke."""

    @classmethod
    def build(
        cls,
        action: str | ProposalAction,
        *,
        office: str | None = None,
        account: str | None = None,
        name: str | None = None,
        value: int | None = None,
        profile_hash: str | bytes | None = None,
        uid: str | bytes | None = None,
    ) -> ProposalRequest:
        """Check the arguments an action needs (and refuse those it does not take):
        ``office`` for office actions, ``account`` for (re-)admissions, admin replacements and
        signer actions, ``name`` for (re-)admissions and schemas, ``value`` for threshold
        changes (basis points) and office-wide revocations (Unix time), ``profile_hash`` for
        (re-)admissions and ``uid`` for the revocation of one attestation."""
        kind = action if isinstance(action, ProposalAction) else parse_action(action)
        label = kind.name.lower().replace("_", "-")

        def refuse(field: str, why: str) -> InvalidInputError:
            return InvalidInputError(f"{label}: {field} {why}", field=field)

        if kind in _OFFICE_ACTIONS:
            if office is None:
                raise refuse("office", "is required")
            office_code_bytes2(office)  # UnknownOfficeError unless two upper-case letters
        elif office is not None:
            raise refuse("office", "is not taken")
        checked_account = None
        if kind in _ACCOUNT_ACTIONS:
            if account is None:
                raise refuse("account", "is required")
            if not isinstance(account, str) or not is_address(account):
                raise refuse("account", f"{account!r:.50} is not an account address")
            checked_account = to_checksum_address(account)
            if int(checked_account, 16) == 0:
                raise refuse("account", "must not be the zero address")
        elif account is not None:
            raise refuse("account", "is not taken")
        if kind in _NAME_ACTIONS:
            if not isinstance(name, str) or not name.strip():
                what = (
                    "a definition" if kind is ProposalAction.APPROVE_SCHEMA else "the office name"
                )
                raise refuse("name", f"({what}) is required")
            if len(name) > MAX_PROPOSAL_NAME_CHARS:
                raise refuse("name", f"is longer than {MAX_PROPOSAL_NAME_CHARS} characters")
            control = _CONTROL.search(name)
            if control is not None:
                raise refuse("name", f"holds a control character (U+{ord(control.group()):04X})")
        elif name:
            raise refuse("name", "is not taken")
        if kind is ProposalAction.CHANGE_THRESHOLD:
            if not isinstance(value, int) or isinstance(value, bool):
                raise refuse("value", "(the threshold in basis points) is required")
            if not 0 < value < MAX_THRESHOLD_BPS:
                raise refuse("value", f"must be 1 … {MAX_THRESHOLD_BPS - 1} basis points")
        elif kind is ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE:
            if not isinstance(value, int) or isinstance(value, bool):
                raise refuse("value", "(the Unix time attestations are revoked from) is required")
            if not 0 <= value < 2**64:
                raise refuse("value", "must be a Unix time in seconds")
        elif value:
            raise refuse("value", "is not taken")
        digest = ZERO_HASH
        if profile_hash is not None:
            if kind not in _PROFILE_ACTIONS:
                raise refuse("profile_hash", "is not taken")
            digest = _hash32(profile_hash, "profile_hash")
        if kind is ProposalAction.REVOKE_ATTESTATION:
            if uid is None:
                raise refuse("uid", "(of the attestation to revoke) is required")
            digest = _hash32(uid, "uid")
            if digest == ZERO_HASH:
                raise refuse("uid", "must not be zero")
        elif uid is not None:
            raise refuse("uid", "is not taken")
        return cls(kind, office, checked_account, name or "", value or 0, digest)

    def call_arguments(self) -> tuple[Any, ...]:
        """``propose``'s ABI arguments."""
        office = office_code_bytes2(self.office) if self.office is not None else b"\0\0"
        account = self.account or "0x" + "00" * 20
        return (int(self.action), office, account, self.name, self.value, self.data_hash)


def _hash32(value: str | bytes, field: str) -> bytes:
    if isinstance(value, bytes) and len(value) == 32:
        return value
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise InvalidInputError(f"{field} must be 0x and 64 hex digits", field=field)


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """What a vote did."""

    proposal: ProposalView
    """The proposal after the vote."""
    executed: bool
    """Whether this vote made it pass (its action took effect in the same transaction)."""


@dataclass(frozen=True, slots=True)
class IssuedAttestation:
    """An attestation the node just made, with the claim it vouches for."""

    attestation: Attestation
    """As the registry recorded it."""
    schema: AttestationSchema
    """Its schema."""
    claim: dict[str, JsonValue]
    """The claim in normal form (its RFC 8785 SHA-256 is the on-chain claim hash)."""


class GovernanceActions:
    """An office's governance and attestation writes through one node."""

    def __init__(
        self,
        backend: ChainBackend,
        deployment: Deployment,
        keystore: Keystore,
        load_key: Callable[[str], OfficeKey],
        data_dir: Path,
        queries: GovernanceQueries | None = None,
        *,
        signer_keys: Mapping[str, OfficeKey] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """Writes on ``backend`` to the consortium of ``deployment`` with the keys of
        ``keystore``, decrypted by ``load_key(name)``; ``data_dir`` holds the consortium CA
        certificate (if any). ``queries`` (the node's index) adds schema names, keeps claim
        documents and lets :meth:`check_can_write` answer; ``signer_keys`` are already
        decrypted signer keys by office (else the keystore's); ``on_change`` is called after a
        proposal executes."""
        self.backend = backend
        self.keystore = keystore
        self._load_key = load_key
        self._data_dir = data_dir
        self.queries = queries
        self.governance = Governance(backend, deployment)
        self.attestations = Attestations(backend, deployment)
        self._signer_keys = dict(signer_keys or {})
        self._on_change = on_change
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ------------------------------------------------------------------ keys and time

    def admin_key(self, office: str) -> OfficeKey:
        """The office's admin key; :class:`AuthorizationError` if the node holds none."""
        return self._key(admin_key_name(office), office, "admin")

    def signer_key(self, office: str) -> OfficeKey:
        """The office's signer key; :class:`AuthorizationError` if the node holds none."""
        if office in self._signer_keys:
            return self._signer_keys[office]
        return self._key(signer_key_name(office), office, "signer")

    def _key(self, name: str, office: str, role: str) -> OfficeKey:
        office_code_bytes2(office)
        if name not in self.keystore.names():
            raise AuthorizationError(f"this node holds no {role} key of office {office}")
        return self._load_key(name)

    def chain_time(self) -> int:
        """The latest block's Unix time: what "now" means on the chain."""
        backend = self.backend
        return backend.get_block(backend.block_number()).timestamp

    @contextmanager
    def _office_lock(self, office: str) -> Iterator[None]:
        # One write at a time per office: its keys' nonces (transaction and EIP-712) must not
        # be used twice by concurrent requests.
        with self._locks_guard:
            lock = self._locks.setdefault(office, threading.Lock())
        with lock:
            yield

    def _preflight(
        self, key: OfficeKey, to: str, data: bytes, interfaces: Sequence[ContractInterface]
    ) -> None:
        """Run the transaction as a call: the contract's refusal, without a failed
        transaction on the chain."""
        try:
            self.backend.call(to, data, sender=key.address)
        except ContractRevertError as error:
            raw = error.error_args[0] if error.error_args else None
            raise revert_error(raw if isinstance(raw, bytes) else None, interfaces) from None

    # ------------------------------------------------------------------ governance

    def propose(self, office: str, request: ProposalRequest) -> ProposalView:
        """Propose as ``office`` (its admin key); the proposer's vote counts at once."""
        key = self.admin_key(office)
        registry = self.governance.registry
        with self._office_lock(office):
            self._preflight(
                key,
                self.governance.registry_address,
                registry.encode_call("propose", *request.call_arguments()),
                [registry],
            )
            proposal_id = self._send_proposal(key, request)
        proposal = self.governance.proposal(proposal_id)
        if proposal.executed:
            self._changed()
        return proposal

    def _send_proposal(self, key: OfficeKey, request: ProposalRequest) -> int:
        governance, action, office = self.governance, request.action, request.office or ""
        if action is ProposalAction.ADMIT_OFFICE:
            return governance.propose_admit_office(
                key, office, request.name, request.account or "", request.data_hash
            )
        if action is ProposalAction.READMIT_OFFICE:
            return governance.propose_readmit_office(
                key, office, request.name, request.account or "", request.data_hash
            )
        if action is ProposalAction.REPLACE_ADMIN:
            return governance.propose_replace_admin(key, office, request.account or "")
        if action is ProposalAction.REVOKE_ATTESTATION:
            return governance.propose_revoke_attestation(key, request.data_hash)
        if action is ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE:
            return governance.propose_revoke_attestations_issued_since(key, office, request.value)
        if action is ProposalAction.SUSPEND_OFFICE:
            return governance.propose_suspend_office(key, office)
        if action is ProposalAction.REINSTATE_OFFICE:
            return governance.propose_reinstate_office(key, office)
        if action is ProposalAction.REMOVE_OFFICE:
            return governance.propose_remove_office(key, office)
        if action is ProposalAction.ADD_SIGNER:
            return governance.propose_add_signer(key, office, request.account or "")
        if action is ProposalAction.REVOKE_SIGNER:
            return governance.propose_revoke_signer(key, office, request.account or "")
        if action is ProposalAction.CHANGE_THRESHOLD:
            return governance.propose_change_threshold(key, request.value)
        return governance.propose_approve_schema(key, request.name)

    def vote(self, office: str, proposal_id: int) -> VoteOutcome:
        """Vote for a proposal as ``office`` (its admin key)."""
        executed = self._proposal_write(
            office, "vote", proposal_id, lambda key: self.governance.vote(key, proposal_id)
        )
        if executed:
            self._changed()
        return VoteOutcome(self.governance.proposal(proposal_id), executed)

    def execute(self, office: str, proposal_id: int) -> ProposalView:
        """Apply a proposal that passed without being executed (any office may; ``office``'s
        admin key pays)."""
        self._proposal_write(
            office, "execute", proposal_id, lambda key: self.governance.execute(key, proposal_id)
        )
        self._changed()
        return self.governance.proposal(proposal_id)

    def _proposal_write(
        self, office: str, function: str, proposal_id: int, write: Callable[[OfficeKey], _T]
    ) -> _T:
        """Send ``function(proposal_id)`` to OfficeRegistry with ``office``'s admin key, after a
        call that surfaces a refusal as its custom error without spending a transaction."""
        _check_proposal_id(proposal_id)
        key = self.admin_key(office)
        registry = self.governance.registry
        with self._office_lock(office):
            self._preflight(
                key,
                self.governance.registry_address,
                registry.encode_call(function, proposal_id),
                [registry],
            )
            return write(key)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    # ------------------------------------------------------------------ attestations

    def resolve_schema(self, name_or_uid: str) -> AttestationSchema:
        """An approved schema by name (``ipchain/party-identity/v1``) or uid (``0x…``);
        :class:`UnknownSchemaError` unless the consortium approved it."""
        if not isinstance(name_or_uid, str) or not name_or_uid.strip():
            raise UnknownSchemaError("schema: a schema name or uid is required", field="schema")
        uid: bytes | None = None
        for schema in STANDARD_SCHEMAS:
            if name_or_uid in (schema.name, "0x" + schema.uid.hex()):
                uid = schema.uid
        if uid is None and name_or_uid.startswith("0x"):
            uid = _hash32(name_or_uid.lower(), "schema")
        if uid is None:
            if self.queries is None:
                raise UnknownSchemaError(
                    f"schema {name_or_uid!r:.80} is not a standard schema; give its uid",
                    field="schema",
                )
            uid = self.queries.schema_uid(name_or_uid)
        definition = self.governance.schema_definition(uid)  # the chain decides
        if definition is None:
            raise UnknownSchemaError(
                f"schema {name_or_uid!r:.80} is not approved by the consortium", field="schema"
            )
        try:
            return AttestationSchema.from_definition(definition)
        except InvalidInputError:
            raise UnknownSchemaError(
                f"schema {name_or_uid!r:.80} is approved but is not an ipchain schema "
                "definition: its claims cannot be checked",
                field="schema",
            ) from None

    def attest(
        self,
        office: str,
        schema_name: str,
        claim: Mapping[str, JsonValue] | None,
        *,
        expires_at: int | None = None,
        ref_uid: bytes | None = None,
        certificate: PemOrCertificate | None = None,
    ) -> IssuedAttestation:
        """Attest ``claim`` under an approved schema as ``office``.

        An ``ipchain/office-certificate/v1`` attestation needs the ``certificate`` it binds:
        it must come from the consortium CA, be valid now and name ``office``; the claim may
        then be left out (the office's admin and current signer keys are bound). It expires
        with the certificate unless ``expires_at`` says otherwise."""
        schema = self.resolve_schema(schema_name)
        now = self.chain_time()
        certificate_pem = None
        if schema.uid == OFFICE_CERTIFICATE_SCHEMA.uid:
            claim, default_expiry, certificate_pem = self._certificate_claim(
                office, claim, certificate, now
            )
            if expires_at is None:
                expires_at = default_expiry
        elif certificate is not None:
            raise InvalidInputError(
                f"certificate: {schema.name} attestations do not take one", field="certificate"
            )
        if claim is None:
            raise InvalidInputError(f"claim: a {schema.name} claim is required", field="claim")
        normal = _validated(schema, claim)
        if expires_at is not None and expires_at != 0 and expires_at <= now:
            raise InvalidInputError(
                f"expires_at: {expires_at} is not after the chain's time {now}", field="expires_at"
            )
        request = build_request(schema, normal, expires_at=expires_at or 0, ref_uid=ref_uid)
        signer = self.signer_key(office)
        try:
            relayer = self.admin_key(office)
        except AuthorizationError:
            relayer = signer  # a node holding only the signer key attests directly
        contract = self.attestations.contract
        interfaces = [contract, self.attestations.registry]
        with self._office_lock(office):
            if relayer is signer:
                data = contract.encode_call("attest", *request.as_tuple())
                self._preflight(signer, self.attestations.address, data, interfaces)
                attestation = self.attestations.attest_request(signer, request)
            else:
                signed = self.attestations.sign(
                    signer, request, deadline=now + RELAY_WINDOW_SECONDS
                )
                data = contract.encode_call(
                    "attestBySig",
                    request.as_tuple(),
                    signed.signer,
                    signed.nonce,
                    signed.deadline,
                    signed.signature,
                )
                self._preflight(relayer, self.attestations.address, data, interfaces)
                attestation = self.attestations.relay(relayer, signed)
        if self.queries is not None:
            self.queries.store_claim(attestation.uid, canonical_bytes(normal), certificate_pem)
        return IssuedAttestation(attestation, schema, normal)

    def _certificate_claim(
        self,
        office: str,
        claim: Mapping[str, JsonValue] | None,
        certificate: PemOrCertificate | None,
        now: int,
    ) -> tuple[dict[str, JsonValue], int, str]:
        if certificate is None:
            raise CertificateError(
                "certificate: an office-certificate attestation needs the certificate (PEM) "
                "it binds",
                field="certificate",
            )
        ca = consortium_ca_certificate(self._data_dir)
        if ca is None:
            raise CertificateError(
                "certificate: this node has no consortium CA certificate to check it against",
                field="certificate",
            )
        try:
            checked = verify_office_certificate(
                certificate, ca, dt.datetime.fromtimestamp(now, dt.UTC)
            )
        except CertificateError as error:
            error.field = "certificate"
            raise
        if checked.office_code != office:
            raise CertificateError(
                f"certificate is for office {checked.office_code}, not {office}",
                field="certificate",
            )
        if claim is None:
            info = self.governance.office(office)
            claim = office_certificate_claim(certificate, office, [info.admin, *info.signers])
        normal = _validated(OFFICE_CERTIFICATE_SCHEMA, claim)
        if normal["office_code"] != office or normal["certificate_sha256"] != (
            "0x" + checked.fingerprint_sha256.hex()
        ):
            raise InvalidInputError(
                "claim: does not name this certificate and office",
                field="claim.certificate_sha256",
            )
        pem = certificate if isinstance(certificate, str | bytes) else None
        text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else (pem or "")
        return normal, int(checked.not_valid_after.timestamp()), text

    def revoke(self, office: str, uid: bytes) -> Attestation:
        """Revoke an attestation as ``office`` (its signer key; only the issuer may)."""
        signer = self.signer_key(office)
        contract = self.attestations.contract
        with self._office_lock(office):
            self._preflight(
                signer,
                self.attestations.address,
                contract.encode_call("revoke", uid),
                [contract, self.attestations.registry],
            )
            return self.attestations.revoke(signer, uid)

    # ------------------------------------------------------------------ register writes

    def check_can_write(self, office: str) -> None:
        """Refuse up front a register submission for an office the index knows may not write
        now (not a member, not Active, or the node's signer key of it revoked) with
        :class:`UnauthorizedOfficeError`. The contract decides in the end; this only saves
        accepting events that could never be anchored. An index that has not read the
        consortium yet refuses nothing."""
        queries = self.queries
        if queries is None:
            return
        # Ask whether the index knows any office BEFORE asking for this one: the indexer may
        # commit the consortium between the two reads, and in this order that can only make
        # the check lenient (the contract still decides), never refuse a member.
        knows_consortium = queries.has_offices()
        status = queries.office_status(office)
        if status is None:
            if knows_consortium:
                raise UnauthorizedOfficeError(f"{office} is not a member of the consortium")
            return
        if status != "active":
            raise UnauthorizedOfficeError(f"office {office} is {status}: its keys may not write")
        account = self._signer_address(office)
        if account is not None:
            revoked = queries.signer_revoked_block(account)
            if revoked is not None:
                raise UnauthorizedOfficeError(
                    f"the signer key {account} of office {office} was revoked in block {revoked}"
                )

    def _signer_address(self, office: str) -> str | None:
        if office in self._signer_keys:
            return self._signer_keys[office].address
        try:
            return self.keystore.address_of(signer_key_name(office))
        except KeystoreError:
            return None


def _check_proposal_id(proposal_id: int) -> None:
    if not isinstance(proposal_id, int) or not 0 <= proposal_id < 2**256:
        raise InvalidInputError("proposal id must be a non-negative integer", field="proposal_id")


def _validated(schema: AttestationSchema, claim: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    try:
        return schema.validate_claim(claim)
    except InvalidInputError as error:
        error.field = f"claim.{error.field}" if error.field else "claim"
        raise


__all__ = [
    "RELAY_WINDOW_SECONDS",
    "GovernanceActions",
    "IssuedAttestation",
    "ProposalRequest",
    "VoteOutcome",
    "action_names",
    "parse_action",
]
