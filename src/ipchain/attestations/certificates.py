"""Office legal identity: an office's X.509 certificate (issued by the consortium CA) bound to
its chain accounts by an ``ipchain/office-certificate/v1`` attestation, and checked against
the chain as of a block."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import to_checksum_address

from ipchain.attestations.registry import Attestation, Attestations, AttestationStatus
from ipchain.attestations.schemas import OFFICE_CERTIFICATE_SCHEMA, office_subject
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment, call_function, load_interface
from ipchain.contracts.office_registry import Governance
from ipchain.encoding import JsonValue, document_hash, office_code_bytes2
from ipchain.errors import CertificateError, VerificationError
from ipchain.keys import (
    OfficeCertificate,
    OfficeKey,
    PemOrCertificate,
    certificate_fingerprint_sha256,
    verify_office_certificate,
)


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
    statuses = [
        (attestation, registry.validity_at(attestation.uid, timestamp, block_number=number))
        for attestation in candidates
    ]
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
    verdict = status.value if status is not None else "unknown"
    raise VerificationError(
        f"the binding of {office_code}'s certificate (attestation 0x{latest.uid.hex()}) is "
        f"{verdict} at block {number}"
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
