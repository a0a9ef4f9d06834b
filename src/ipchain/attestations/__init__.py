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
anyone relay it (:meth:`Attestations.relay`), or cancel it unrelayed by burning its nonce
(:meth:`Attestations.cancel_nonce`). docs/governance.md gives the exact types and the validity
rule (issuer's status history, consortium revocations).

Modules: :mod:`.schemas` (schemas, claims, subjects), :mod:`.registry` (the contract binding
and EIP-712), :mod:`.certificates` (office certificate binding).
"""

from ipchain.attestations.certificates import (
    CertificateBinding,
    attest_office_certificate,
    office_certificate_claim,
    verify_office_certificate_binding,
)
from ipchain.attestations.registry import (
    ATTEST_TYPES,
    EIP712_DOMAIN_NAME,
    EIP712_DOMAIN_VERSION,
    MAX_SIGNATURE_LIFETIME,
    Attestation,
    AttestationRequest,
    Attestations,
    AttestationStatus,
    SignedAttestation,
    build_request,
    sign_attestation,
    typed_data,
)
from ipchain.attestations.schemas import (
    OFFICE_CERTIFICATE_SCHEMA,
    PARTY_IDENTITY_SCHEMA,
    STANDARD_SCHEMAS,
    AttestationSchema,
    account_subject,
    approve_schemas,
    office_subject,
    party_subject,
)

__all__ = [
    "ATTEST_TYPES",
    "EIP712_DOMAIN_NAME",
    "EIP712_DOMAIN_VERSION",
    "MAX_SIGNATURE_LIFETIME",
    "OFFICE_CERTIFICATE_SCHEMA",
    "PARTY_IDENTITY_SCHEMA",
    "STANDARD_SCHEMAS",
    "Attestation",
    "AttestationRequest",
    "AttestationSchema",
    "AttestationStatus",
    "Attestations",
    "CertificateBinding",
    "SignedAttestation",
    "account_subject",
    "approve_schemas",
    "attest_office_certificate",
    "build_request",
    "office_certificate_claim",
    "office_subject",
    "party_subject",
    "sign_attestation",
    "typed_data",
    "verify_office_certificate_binding",
]
