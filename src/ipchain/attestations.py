"""Identity attestations on AttestationRegistry: schemas, claims, EIP-712 relays, certificates.

An attestation says "office X vouches for this claim about this subject". Only the claim's
hash goes on-chain — SHA-256 over the claim document's RFC 8785 bytes, made by
:mod:`ipchain.encoding` — so claims about people (applicants, representatives) stay off the
public chain while anyone holding the document can check it. Each claim follows a schema the
consortium approved by vote; a schema is a small JSON definition (see
:class:`AttestationSchema`) whose keccak256 is its on-chain uid.

The standard schemas:

* ``ipchain/office-certificate/v1`` binds an office's X.509 certificate (its SHA-256
  fingerprint, certified by the consortium CA) to the office's chain accounts;
* ``ipchain/party-identity/v1`` is an office vouching for an applicant's or representative's
  identifier; register event documents name such attestations by uid.

An office may also sign an attestation off-chain (EIP-712, :func:`sign_attestation`) and let
anyone relay it (:meth:`Attestations.relay`). docs/governance.md gives the exact types.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Final

import eth_abi
from eth_utils import is_address, keccak, to_checksum_address

from ipchain.chain.base import ChainBackend
from ipchain.contracts import (
    ContractInterface,
    Deployment,
    call_function,
    load_interface,
    send_and_confirm,
)
from ipchain.encoding import (
    ZERO_HASH,
    JsonValue,
    canonical_bytes,
    document_hash,
    office_code_bytes2,
    parse_json_strict,
)
from ipchain.errors import (
    CertificateError,
    ContractRevertError,
    InvalidInputError,
    NotFoundError,
    VerificationError,
)
from ipchain.governance import Governance
from ipchain.keys import (
    OfficeCertificate,
    OfficeKey,
    PemOrCertificate,
    certificate_fingerprint_sha256,
    verify_office_certificate,
)

EIP712_DOMAIN_NAME: Final = "ipchain AttestationRegistry"
"""EIP-712 domain name of AttestationRegistry."""

EIP712_DOMAIN_VERSION: Final = "1"
"""EIP-712 domain version of AttestationRegistry."""

ATTEST_TYPES: Final = {
    "Attest": [
        {"name": "schema", "type": "bytes32"},
        {"name": "subject", "type": "bytes32"},
        {"name": "claimHash", "type": "bytes32"},
        {"name": "expiresAt", "type": "uint64"},
        {"name": "refUid", "type": "bytes32"},
        {"name": "attester", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
"""EIP-712 struct type a delegated attestation is signed as (``ATTEST_TYPEHASH`` on-chain)."""

# Attesting stores six slots and reads the schema definition from the registry; the margin
# covers long definitions. Explicit gas avoids an estimation round trip (DESIGN §8).
_ATTEST_GAS = 600_000
_REVOKE_GAS = 150_000

_OFFICE_CODE = re.compile(r"[A-Z]{2}")
_SHA256_HEX = re.compile(r"0x[0-9a-f]{64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_STRING = 1_000
_SUBJECT_KINDS = ("office", "party", "account")


# --- schemas ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttestationSchema:
    """A claim schema: which fields a claim has, of which types, and what its subject is.

    Field types: ``string``, ``sha256`` (``0x`` + 64 lower-case hex digits), ``address``,
    ``address[]`` (a set of accounts, written sorted), ``office_code`` (WIPO ST.3),
    ``country_code`` (two upper-case letters), ``date`` (``YYYY-MM-DD``), or ``a|b|c`` (one
    of these words). A trailing ``?`` makes a field optional; no other field is allowed.
    """

    name: str
    """Versioned schema name, e.g. ``ipchain/office-certificate/v1``."""
    description: str
    """What an attestation under this schema asserts."""
    subject_kind: str
    """``office`` (subject = the ST.3 code), ``party`` (keccak256 of an identifier) or
    ``account`` (an address)."""
    subject_field: str
    """The claim field the subject is derived from."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """Field name → type."""

    def __post_init__(self) -> None:
        if self.subject_kind not in _SUBJECT_KINDS:
            raise InvalidInputError(f"subject kind must be one of {_SUBJECT_KINDS}")
        if self.subject_field not in self.fields or self.fields[self.subject_field].endswith("?"):
            raise InvalidInputError("the subject field must be a required claim field")
        for name, kind in self.fields.items():
            _check_type_name(name, kind)

    @cached_property
    def definition(self) -> str:
        """The definition text approved on-chain: RFC 8785 canonical JSON."""
        document = {
            "schema": self.name,
            "description": self.description,
            "subject": {"kind": self.subject_kind, "field": self.subject_field},
            "claim": dict(self.fields),
        }
        return canonical_bytes(document).decode("utf-8")

    @cached_property
    def uid(self) -> bytes:
        """keccak256 of the definition, as OfficeRegistry names the approved schema."""
        return keccak(self.definition.encode("utf-8"))

    @classmethod
    def from_definition(cls, definition: str) -> AttestationSchema:
        """Read a definition back (e.g. one fetched from the chain)."""
        document = parse_json_strict(definition)
        try:
            subject = document["subject"]
            schema = cls(
                name=str(document["schema"]),
                description=str(document["description"]),
                subject_kind=str(subject["kind"]),
                subject_field=str(subject["field"]),
                fields={str(k): str(v) for k, v in dict(document["claim"]).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(f"not an attestation schema definition: {error}") from None
        if schema.definition != definition:
            raise InvalidInputError("schema definition is not in RFC 8785 canonical form")
        return schema

    def validate_claim(self, claim: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """The claim in normal form (checksummed addresses, sorted account sets), or
        :class:`InvalidInputError` naming the first field that does not fit the schema."""
        if not isinstance(claim, Mapping):
            raise InvalidInputError(f"a {self.name} claim must be a JSON object")
        unknown = sorted(set(claim) - set(self.fields))
        if unknown:
            raise InvalidInputError(
                f"{self.name} has no field {unknown[0]!r}", field=str(unknown[0])
            )
        normal: dict[str, JsonValue] = {}
        for name, kind in self.fields.items():
            optional = kind.endswith("?")
            if name not in claim or claim[name] is None:
                if optional:
                    continue
                raise InvalidInputError(f"{self.name} claim lacks {name!r}", field=name)
            normal[name] = _check_value(self.name, name, kind.rstrip("?"), claim[name])
        return normal

    def claim_hash(self, claim: Mapping[str, JsonValue]) -> bytes:
        """SHA-256 of the validated claim's RFC 8785 bytes: the on-chain ``claimHash``."""
        return document_hash(self.validate_claim(claim))

    def subject_of(self, claim: Mapping[str, JsonValue]) -> bytes:
        """The on-chain ``subject`` for a claim, derived from its subject field."""
        value = self.validate_claim(claim)[self.subject_field]
        if self.subject_kind == "office":
            return office_subject(str(value))
        if self.subject_kind == "account":
            return account_subject(str(value))
        return party_subject(str(value))


def office_subject(code: str) -> bytes:
    """Subject of a claim about an office: its ST.3 code as ASCII, left-aligned in 32 bytes
    (readable in any block explorer)."""
    return office_code_bytes2(code).ljust(32, b"\0")


def account_subject(address: str) -> bytes:
    """Subject of a claim about an account: the address right-aligned in 32 bytes."""
    return bytes.fromhex(to_checksum_address(address)[2:]).rjust(32, b"\0")


def party_subject(party_id: str) -> bytes:
    """Subject of a claim about a party: keccak256 of its identifier, so that the identifier
    itself is not on-chain but whoever knows it can find the attestations."""
    return keccak(party_id.encode("utf-8"))


def _check_type_name(name: str, kind: str) -> None:
    base = kind.rstrip("?")
    if base in ("string", "sha256", "address", "address[]", "office_code", "country_code", "date"):
        return
    if re.fullmatch(r"[a-z_]+(\|[a-z_]+)+", base):
        return
    raise InvalidInputError(f"field {name!r} has unknown type {kind!r}")


def _check_value(schema: str, name: str, kind: str, value: JsonValue) -> JsonValue:
    def fail(expected: str) -> InvalidInputError:
        return InvalidInputError(
            f"{schema} field {name!r} must be {expected}, got {value!r:.60}", field=name
        )

    if kind == "address[]":
        if not isinstance(value, list | tuple) or not value:
            raise fail("a non-empty list of account addresses")
        accounts = [_check_value(schema, name, "address", item) for item in value]
        if len(set(accounts)) != len(accounts):
            raise fail("a list of distinct account addresses")
        return sorted(accounts, key=lambda account: str(account).lower())
    if not isinstance(value, str):
        raise fail("a string")
    if kind == "string":
        if not value.strip() or len(value) > _MAX_STRING:
            raise fail(f"non-empty text of at most {_MAX_STRING} characters")
        return value
    if kind == "sha256":
        if _SHA256_HEX.fullmatch(value) is None:
            raise fail("a SHA-256 hash written 0x + 64 lower-case hex digits")
        return value
    if kind == "address":
        if not is_address(value):
            raise fail("an account address")
        return to_checksum_address(value)
    if kind in ("office_code", "country_code"):
        if _OFFICE_CODE.fullmatch(value) is None:
            raise fail("two upper-case letters (WIPO ST.3)")
        return value
    if kind == "date":
        try:
            if _DATE.fullmatch(value) is None:
                raise ValueError(value)
            dt.date.fromisoformat(value)
        except ValueError:
            raise fail("a date YYYY-MM-DD") from None
        return value
    choices = kind.split("|")
    if value not in choices:
        raise fail("one of " + ", ".join(choices))
    return value


OFFICE_CERTIFICATE_SCHEMA: Final = AttestationSchema(
    name="ipchain/office-certificate/v1",
    description=(
        "The office's X.509 certificate, issued by the consortium CA, with this SHA-256 "
        "fingerprint (of its DER bytes) belongs to the office that controls these accounts."
    ),
    subject_kind="office",
    subject_field="office_code",
    fields={"office_code": "office_code", "certificate_sha256": "sha256", "accounts": "address[]"},
)
"""An office binds its legal identity (X.509 certificate) to its chain accounts."""

PARTY_IDENTITY_SCHEMA: Final = AttestationSchema(
    name="ipchain/party-identity/v1",
    description=(
        "The attesting office has checked that the party known by this identifier is the "
        "named applicant or representative."
    ),
    subject_kind="party",
    subject_field="party_id",
    fields={
        "party_id": "string",
        "role": "applicant|representative",
        "name": "string",
        "country_code": "country_code?",
        "office_code": "office_code",
        "checked_on": "date?",
    },
)
"""An office vouches for an applicant's or representative's identifier."""

STANDARD_SCHEMAS: Final = (OFFICE_CERTIFICATE_SCHEMA, PARTY_IDENTITY_SCHEMA)
"""The schemas every ipchain consortium approves at set-up."""


def approve_schemas(
    governance: Governance,
    admins: Sequence[OfficeKey],
    schemas: Sequence[AttestationSchema] = STANDARD_SCHEMAS,
) -> list[int]:
    """Approve schemas by vote of the given office admins (a demo or a set-up script holding
    several offices' admin keys); schemas already approved are skipped. Returns the ids of
    the proposals made. Raises :class:`InvalidInputError` if the admins cannot pass them."""
    if not admins:
        raise InvalidInputError("approving schemas needs at least one office admin key")
    proposer, *voters = admins
    made = []
    for schema in schemas:
        if governance.schema_definition(schema.uid) is not None:
            continue
        proposal_id = governance.propose_approve_schema(proposer, schema.definition)
        made.append(proposal_id)
        passed = governance.proposal(proposal_id).executed
        for voter in voters:
            if passed:
                break
            passed = governance.vote(voter, proposal_id)
        if not passed:
            raise InvalidInputError(
                f"{len(admins)} admin votes do not pass schema {schema.name} "
                f"(proposal {proposal_id} stays open)"
            )
    return made


# --- on-chain values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttestationRequest:
    """What an office asks the registry to record (the contract's ``AttestationRequest``)."""

    schema_uid: bytes
    """Uid of an approved schema."""
    subject: bytes
    """32-byte subject (see :meth:`AttestationSchema.subject_of`)."""
    claim_hash: bytes
    """SHA-256 of the claim's RFC 8785 bytes."""
    expires_at: int = 0
    """Unix time from which it no longer holds; 0 for never."""
    ref_uid: bytes = ZERO_HASH
    """An earlier attestation it builds on, or zeros."""

    def as_tuple(self) -> tuple[bytes, bytes, bytes, int, bytes]:
        """ABI form."""
        return (self.schema_uid, self.subject, self.claim_hash, self.expires_at, self.ref_uid)


def build_request(
    schema: AttestationSchema,
    claim: Mapping[str, JsonValue],
    *,
    expires_at: int = 0,
    ref_uid: bytes | None = None,
) -> AttestationRequest:
    """Validate ``claim`` against ``schema`` and make the request attesting it."""
    if not isinstance(expires_at, int) or not 0 <= expires_at < 2**64:
        raise InvalidInputError("expires_at must be a Unix time (0 for never)", field="expiresAt")
    if ref_uid is not None and len(ref_uid) != 32:
        raise InvalidInputError("ref_uid must be 32 bytes", field="refUid")
    return AttestationRequest(
        schema_uid=schema.uid,
        subject=schema.subject_of(claim),
        claim_hash=schema.claim_hash(claim),
        expires_at=expires_at,
        ref_uid=ref_uid or ZERO_HASH,
    )


class AttestationStatus(StrEnum):
    """Whether an attestation held at some moment."""

    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_ISSUED = "not-yet-issued"


@dataclass(frozen=True, slots=True)
class Attestation:
    """An attestation as the registry holds it."""

    uid: bytes
    """Its uid."""
    schema_uid: bytes
    """Schema it follows."""
    subject: bytes
    """32-byte subject."""
    claim_hash: bytes
    """SHA-256 of the claim document."""
    ref_uid: bytes | None
    """Attestation it builds on, if any."""
    attester: str
    """Signer key that made it."""
    issuer_office: str
    """ST.3 code of the issuing office."""
    issued_at: int
    """Unix time it was recorded."""
    expires_at: int | None
    """Unix time from which it no longer holds, None for never."""
    revoked_at: int | None
    """Unix time its issuer revoked it, None if not revoked."""

    def status_at(self, timestamp: int) -> AttestationStatus:
        """Whether it held at Unix time ``timestamp`` (same rule as ``isValidAt`` on-chain)."""
        if timestamp < self.issued_at:
            return AttestationStatus.NOT_YET_ISSUED
        if self.revoked_at is not None and self.revoked_at <= timestamp:
            return AttestationStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= timestamp:
            return AttestationStatus.EXPIRED
        return AttestationStatus.VALID


@dataclass(frozen=True, slots=True)
class SignedAttestation:
    """A delegated attestation, signed off-chain by an office signer, ready to relay."""

    request: AttestationRequest
    """What is attested."""
    signer: str
    """Office signer key that signed; it becomes the attester."""
    nonce: int
    """The signer's registry nonce the signature is for."""
    deadline: int
    """Last Unix time it may be relayed."""
    signature: bytes
    """65-byte EIP-712 signature."""


def typed_data(
    chain_id: int,
    registry_address: str,
    request: AttestationRequest,
    signer: str,
    nonce: int,
    deadline: int,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The EIP-712 ``(domain, types, message)`` a delegated attestation is signed as."""
    domain = {
        "name": EIP712_DOMAIN_NAME,
        "version": EIP712_DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(registry_address),
    }
    message = {
        "schema": request.schema_uid,
        "subject": request.subject,
        "claimHash": request.claim_hash,
        "expiresAt": request.expires_at,
        "refUid": request.ref_uid,
        "attester": to_checksum_address(signer),
        "nonce": nonce,
        "deadline": deadline,
    }
    return domain, dict(ATTEST_TYPES), message


def sign_attestation(
    key: OfficeKey,
    request: AttestationRequest,
    *,
    chain_id: int,
    registry_address: str,
    nonce: int,
    deadline: int,
) -> SignedAttestation:
    """Sign ``request`` for relaying; works offline (no chain connection needed)."""
    domain, types, message = typed_data(
        chain_id, registry_address, request, key.address, nonce, deadline
    )
    signature = key.sign_typed_data(domain, types, message)
    return SignedAttestation(request, key.address, nonce, deadline, signature)


# --- the registry ----------------------------------------------------------------------------


class Attestations:
    """AttestationRegistry on one chain."""

    def __init__(self, backend: ChainBackend, deployment: Deployment) -> None:
        self.backend = backend
        self.deployment = deployment
        self.contract: ContractInterface = load_interface("AttestationRegistry")
        self.registry: ContractInterface = load_interface("OfficeRegistry")
        self.address = deployment.address("AttestationRegistry")

    def _call(self, function: str, *args: Any, block_number: int | None = None) -> tuple[Any, ...]:
        return call_function(
            self.backend, self.contract, self.address, function, *args, block_number=block_number
        )

    def _send(self, key: OfficeKey, data: bytes, gas: int) -> list[Any]:
        receipt = send_and_confirm(
            self.backend,
            key,
            to=self.address,
            data=data,
            gas=gas,
            interfaces=[self.contract, self.registry],
        )
        return [
            decoded
            for decoded in (self.contract.decode_log(log) for log in receipt.logs)
            if decoded is not None
        ]

    # ----------------------------------------------------------------------- writes

    def attest(
        self,
        key: OfficeKey,
        schema: AttestationSchema,
        claim: Mapping[str, JsonValue],
        *,
        expires_at: int = 0,
        ref_uid: bytes | None = None,
    ) -> Attestation:
        """Attest ``claim`` as the office of signer ``key``; the claim is checked against the
        schema first (:class:`InvalidInputError`, nothing sent)."""
        request = build_request(schema, claim, expires_at=expires_at, ref_uid=ref_uid)
        return self.attest_request(key, request)

    def attest_request(self, key: OfficeKey, request: AttestationRequest) -> Attestation:
        """Attest a prepared request."""
        data = self.contract.encode_call("attest", *request.as_tuple())
        return self._recorded(self._send(key, data, _ATTEST_GAS))

    def relay(self, relayer: OfficeKey, signed: SignedAttestation) -> Attestation:
        """Submit an attestation signed off-chain; ``relayer`` pays the gas, the signer is the
        attester."""
        data = self.contract.encode_call(
            "attestBySig",
            signed.request.as_tuple(),
            to_checksum_address(signed.signer),
            signed.nonce,
            signed.deadline,
            signed.signature,
        )
        return self._recorded(self._send(relayer, data, _ATTEST_GAS))

    def sign(
        self,
        key: OfficeKey,
        request: AttestationRequest,
        *,
        deadline: int,
        nonce: int | None = None,
    ) -> SignedAttestation:
        """Sign ``request`` for relaying to this registry, with the signer's next nonce."""
        return sign_attestation(
            key,
            request,
            chain_id=self.backend.chain_id,
            registry_address=self.address,
            nonce=self.nonce_of(key.address) if nonce is None else nonce,
            deadline=deadline,
        )

    def revoke(self, key: OfficeKey, uid: bytes) -> Attestation:
        """Revoke an attestation of the office of signer ``key``."""
        self._send(key, self.contract.encode_call("revoke", uid), _REVOKE_GAS)
        return self.get(uid)

    def _recorded(self, events: Sequence[Any]) -> Attestation:
        for decoded in events:
            if decoded.event == "Attested":
                return self.get(decoded.args["uid"])
        raise AssertionError("attest succeeded without an Attested event")

    # ----------------------------------------------------------------------- reads

    def get(self, uid: bytes, *, block_number: int | None = None) -> Attestation:
        """One attestation as it stood at a block (the latest when None);
        :class:`NotFoundError` when there was none."""
        try:
            (raw,) = self._call("attestation", uid, block_number=block_number)
        except ContractRevertError as error:
            if error.error_name == "AttestationNotFound":
                raise NotFoundError(f"no attestation 0x{bytes(uid).hex()}") from None
            raise
        schema, subject, claim_hash, ref_uid, attester, office, issued, expires, revoked = raw
        return Attestation(
            uid=bytes(uid),
            schema_uid=bytes(schema),
            subject=bytes(subject),
            claim_hash=bytes(claim_hash),
            ref_uid=bytes(ref_uid) if ref_uid != ZERO_HASH else None,
            attester=to_checksum_address(attester),
            issuer_office=office.decode("ascii"),
            issued_at=int(issued),
            expires_at=int(expires) or None,
            revoked_at=int(revoked) or None,
        )

    def is_valid_at(self, uid: bytes, timestamp: int) -> bool:
        """Whether it held at Unix time ``timestamp``, asked of the contract (``isValidAt``)."""
        return bool(self._call("isValidAt", uid, timestamp)[0])

    def is_valid(self, uid: bytes) -> bool:
        """Whether it exists, is not revoked and has not expired, at the latest block."""
        return bool(self._call("isValid", uid)[0])

    def status_at(self, uid: bytes, *, block_number: int | None = None) -> AttestationStatus:
        """Whether it held at a block (the latest when None): the attestation as the state of
        that block has it, judged at that block's time. Reading the state of the block, not
        only comparing times, matters because consecutive blocks may share a timestamp."""
        number = self.backend.block_number() if block_number is None else block_number
        try:
            attestation = self.get(uid, block_number=number)
        except NotFoundError:
            self.get(uid)  # NotFoundError if it never existed, rather than "not yet"
            return AttestationStatus.NOT_YET_ISSUED
        return attestation.status_at(self.backend.get_block(number).timestamp)

    def verify(
        self,
        uid: bytes,
        schema: AttestationSchema,
        claim: Mapping[str, JsonValue],
        *,
        block_number: int | None = None,
    ) -> Attestation:
        """Check that attestation ``uid`` vouches for exactly ``claim`` under ``schema`` and
        held at a block (the latest when None) — e.g. the party identity a register event
        names. Raises :class:`VerificationError` saying what does not match."""
        number = self.backend.block_number() if block_number is None else block_number
        try:
            attestation = self.get(uid, block_number=number)
        except NotFoundError:
            raise VerificationError(
                f"attestation 0x{bytes(uid).hex()} did not exist at block {number}"
            ) from None
        if attestation.schema_uid != schema.uid:
            raise VerificationError(f"attestation 0x{bytes(uid).hex()} is not a {schema.name}")
        if attestation.claim_hash != schema.claim_hash(claim):
            raise VerificationError(
                f"attestation 0x{bytes(uid).hex()} vouches for another claim than the one given"
            )
        if attestation.subject != schema.subject_of(claim):
            raise VerificationError(f"attestation 0x{bytes(uid).hex()} is about another subject")
        status = attestation.status_at(self.backend.get_block(number).timestamp)
        if status is not AttestationStatus.VALID:
            raise VerificationError(
                f"attestation 0x{bytes(uid).hex()} is {status.value} at block {number}"
            )
        return attestation

    def nonce_of(self, signer: str) -> int:
        """The next nonce a delegated attestation by ``signer`` must use."""
        return int(self._call("nonces", to_checksum_address(signer))[0])

    def find(
        self,
        *,
        schema: AttestationSchema | None = None,
        issuer_office: str | None = None,
        subject: bytes | None = None,
        to_block: int | None = None,
    ) -> list[Attestation]:
        """Attestations made up to ``to_block`` (latest when None), as they stood at that
        block, oldest first, filtered by schema, issuing office and subject. Reads ``Attested``
        logs from the deployment on."""
        topics: list[bytes | None] = [self.contract.event_topic("Attested"), None]
        topics.append(schema.uid if schema is not None else None)
        if issuer_office is not None:
            topics.append(eth_abi.encode(["bytes2"], [office_code_bytes2(issuer_office)]))
        last = self.backend.block_number() if to_block is None else to_block
        logs = self.backend.get_logs(
            address=self.address,
            from_block=self.deployment.block_number,
            to_block=last,
            topics=topics,
        )
        found = []
        for log in logs:
            decoded = self.contract.decode_log(log)
            if decoded is None or (subject is not None and decoded.args["subject"] != subject):
                continue
            found.append(self.get(decoded.args["uid"], block_number=last))
        return found


# --- office certificates ---------------------------------------------------------------------


def office_certificate_claim(
    cert_pem: PemOrCertificate, office_code: str, accounts: Sequence[str]
) -> dict[str, JsonValue]:
    """The ``ipchain/office-certificate/v1`` claim for a certificate and accounts."""
    claim = {
        "office_code": office_code,
        "certificate_sha256": "0x" + certificate_fingerprint_sha256(cert_pem).hex(),
        "accounts": list(accounts),
    }
    return OFFICE_CERTIFICATE_SCHEMA.validate_claim(claim)


def attest_office_certificate(
    attestations: Attestations,
    key: OfficeKey,
    cert_pem: PemOrCertificate,
    ca_pem: PemOrCertificate,
    accounts: Sequence[str],
    *,
    expires_at: int | None = None,
) -> Attestation:
    """Bind the office's certificate to its accounts, as the office of signer ``key``.

    The certificate must be issued by the consortium CA, valid now, and name the office
    ``key`` writes for (:class:`CertificateError` otherwise, nothing sent). The attestation
    expires with the certificate unless ``expires_at`` says otherwise.
    """
    certificate = verify_office_certificate(cert_pem, ca_pem, dt.datetime.now(dt.UTC))
    # Whether the office is active is the contract's to say (AttestationUnauthorizedOffice).
    office, _active = Governance(attestations.backend, attestations.deployment).office_of(
        key.address
    )
    if office != certificate.office_code:
        raise CertificateError(
            f"certificate is for office {certificate.office_code}, key {key.address} writes for "
            f"{office or 'no office'}"
        )
    claim = office_certificate_claim(cert_pem, certificate.office_code, accounts)
    expiry = int(certificate.not_valid_after.timestamp()) if expires_at is None else expires_at
    return attestations.attest(key, OFFICE_CERTIFICATE_SCHEMA, claim, expires_at=expiry)


@dataclass(frozen=True, slots=True)
class CertificateBinding:
    """A verified binding of an office certificate to chain accounts."""

    certificate: OfficeCertificate
    """What the certificate says (office, fingerprint, validity)."""
    accounts: tuple[str, ...]
    """Accounts the attestation binds to it, sorted."""
    attestation: Attestation
    """The on-chain attestation that binds them."""
    block_number: int
    """Block at whose time the binding was checked."""
    checked_at: dt.datetime
    """That block's time (UTC)."""


def verify_office_certificate_binding(
    backend: ChainBackend,
    deployment: Deployment,
    cert_pem: PemOrCertificate,
    ca_pem: PemOrCertificate,
    office_code: str,
    at: int | None = None,
    *,
    accounts: Sequence[str] | None = None,
) -> CertificateBinding:
    """Check an office's legal identity against the chain, as of block ``at`` (latest if None).

    1. The certificate is issued by the consortium CA and valid at the block's time, and names
       ``office_code`` (:class:`CertificateError` otherwise).
    2. An ``ipchain/office-certificate/v1`` attestation by that office binds the certificate's
       fingerprint to ``accounts`` — by default the office's admin and signer keys at that
       block — and held at the block's time (:class:`VerificationError` otherwise).
    """
    office_bytes = office_code_bytes2(office_code)
    number = backend.block_number() if at is None else at
    timestamp = backend.get_block(number).timestamp
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    certificate = verify_office_certificate(cert_pem, ca_pem, moment)
    if certificate.office_code != office_code:
        raise CertificateError(
            f"certificate is for office {certificate.office_code}, not {office_code}"
        )
    if accounts is None:
        accounts = _office_accounts(backend, deployment, office_bytes, number)
    claim = office_certificate_claim(cert_pem, office_code, accounts)
    claim_hash = document_hash(claim)
    registry = Attestations(backend, deployment)
    candidates = [
        attestation
        for attestation in registry.find(
            schema=OFFICE_CERTIFICATE_SCHEMA,
            issuer_office=office_code,
            subject=office_subject(office_code),
            to_block=number,
        )
        if attestation.claim_hash == claim_hash
    ]
    if not candidates:
        raise VerificationError(
            f"no attestation by {office_code} binds certificate "
            f"{certificate.fingerprint_sha256.hex()} to accounts {', '.join(claim['accounts'])}"
        )
    statuses = [(attestation, attestation.status_at(timestamp)) for attestation in candidates]
    for attestation, status in reversed(statuses):
        if status is AttestationStatus.VALID:
            return CertificateBinding(
                certificate=certificate,
                accounts=tuple(claim["accounts"]),
                attestation=attestation,
                block_number=number,
                checked_at=moment,
            )
    latest, status = statuses[-1]
    raise VerificationError(
        f"the binding of {office_code}'s certificate (attestation 0x{latest.uid.hex()}) is "
        f"{status.value} at block {number}"
    )


def _office_accounts(
    backend: ChainBackend, deployment: Deployment, office: bytes, block_number: int
) -> list[str]:
    registry = load_interface("OfficeRegistry")
    address = deployment.address("OfficeRegistry")
    ((_code, _name, _status, admin, _profile, _changed),) = call_function(
        backend, registry, address, "office", office, block_number=block_number
    )
    (signers,) = call_function(
        backend, registry, address, "signersOf", office, block_number=block_number
    )
    return [to_checksum_address(account) for account in (admin, *signers)]
