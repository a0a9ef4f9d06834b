"""AttestationRegistry bindings: attest, revoke, validity now and at a block, and EIP-712
delegated attestations signed by an office and relayed by anyone (and cancelled by burning
the signer's nonce).

Validity is the contract's rule (``validityAt``): an attestation holds at a time when it was
issued by then, is not revoked (by its issuer or by a consortium vote) and not expired then,
its issuer is Active then, and its issuer was not removed since it was issued."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import eth_abi
from eth_utils import to_checksum_address

from ipchain.attestations.schemas import AttestationSchema
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import (
    ContractInterface,
    Deployment,
    call_function,
    load_interface,
    send_and_confirm,
)
from ipchain.encoding import ZERO_HASH, JsonValue, office_code_bytes2
from ipchain.errors import ContractRevertError, InvalidInputError, NotFoundError, VerificationError
from ipchain.keys import OfficeKey

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
_CANCEL_GAS = 100_000

MAX_SIGNATURE_LIFETIME: Final = 30 * 24 * 3600
"""A delegated attestation is refused while its deadline is more than this many seconds after
the relaying block (the contract's ``MAX_SIGNATURE_LIFETIME``)."""

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
    ISSUER_REMOVED = "issuer-removed"
    """Its issuing office was removed since it was issued (for good, even if re-admitted)."""
    ISSUER_SUSPENDED = "issuer-suspended"
    """Its issuing office was not Active then (it holds again once the office is reinstated)."""


_VALIDITY: Final = {
    # AttestationRegistry's Validity enum; 0 (Unknown) means there is no such attestation.
    1: AttestationStatus.VALID,
    2: AttestationStatus.NOT_YET_ISSUED,
    3: AttestationStatus.REVOKED,
    4: AttestationStatus.EXPIRED,
    5: AttestationStatus.ISSUER_REMOVED,
    6: AttestationStatus.ISSUER_SUSPENDED,
}


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
    """Unix time from which it is revoked (by its issuer, or by a consortium vote on it or on
    its issuer's attestations), None if not revoked."""

    def status_at(self, timestamp: int) -> AttestationStatus:
        """Whether the record alone held at Unix time ``timestamp``: issued, not revoked, not
        expired. The issuer's status history is the contract's to add
        (:meth:`Attestations.status_at`, ``validityAt``)."""
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

    def cancel_nonce(self, key: OfficeKey, nonce: int | None = None) -> int:
        """Burn signer ``key``'s next nonce (``nonce``, or the current one when None), so that
        a delegated attestation it signed with it can never be relayed; returns the nonce
        burnt. Only a current signer key of a member office may
        (``AttestationNotSigner``)."""
        burnt = self.nonce_of(key.address) if nonce is None else nonce
        self._send(key, self.contract.encode_call("cancelNonce", burnt), _CANCEL_GAS)
        return burnt

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

    def validity_at(
        self, uid: bytes, timestamp: int, *, block_number: int | None = None
    ) -> AttestationStatus | None:
        """The contract's ``validityAt(uid, timestamp)``, asked of the state of a block (the
        latest when None); None when there is no such attestation in that state."""
        (raw,) = self._call("validityAt", uid, timestamp, block_number=block_number)
        return _VALIDITY.get(int(raw))

    def status_at(self, uid: bytes, *, block_number: int | None = None) -> AttestationStatus:
        """Whether it held at a block (the latest when None): the contract's rule
        (``validityAt``) asked of that block's state, at that block's time. Reading the state
        of the block, not only comparing times, matters because consecutive blocks may share a
        timestamp."""
        number = self.backend.block_number() if block_number is None else block_number
        timestamp = self.backend.get_block(number).timestamp
        status = self.validity_at(uid, timestamp, block_number=number)
        if status is None:
            self.get(uid)  # NotFoundError if it never existed, rather than "not yet"
            return AttestationStatus.NOT_YET_ISSUED
        return status

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
        status = self.validity_at(
            uid, self.backend.get_block(number).timestamp, block_number=number
        )
        if status is not AttestationStatus.VALID:
            assert status is not None  # it existed at that block
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
