"""Office legal identity: an X.509 certificate from the consortium CA, bound on-chain to the
office's accounts by an ipchain/office-certificate/v1 attestation, verified at a block."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ipchain.attestations import (
    OFFICE_CERTIFICATE_SCHEMA,
    attest_office_certificate,
    office_certificate_claim,
    verify_office_certificate_binding,
)
from ipchain.errors import CertificateError, UnknownOfficeError, VerificationError
from ipchain.keys import (
    certificate_fingerprint_sha256,
    create_consortium_ca,
    issue_office_certificate,
)
from ipchain.node.setup import fund
from tests.helpers.consortium import Consortium, new_key
from tests.helpers.governance import (
    approve_standard_schemas,
    attestations,
    governance,
    pass_proposal,
)


@cache
def consortium_ca() -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    return create_consortium_ca("ipchain test consortium CA", 3650)


def office_certificate(code: str = "EM", not_before: dt.datetime | None = None) -> bytes:
    ca_pem, ca_key = consortium_ca()
    pem, _key = issue_office_certificate(
        ca_pem, ca_key, code, f"Office {code}", 365, not_before=not_before
    )
    return pem


def office_accounts(consortium: Consortium, code: str) -> list[str]:
    return [consortium.admins[code].address, consortium.signers[code].address]


@pytest.fixture
def bound(consortium: Consortium) -> tuple[Consortium, bytes]:
    """EM's certificate, bound to EM's admin and signer accounts."""
    approve_standard_schemas(consortium)
    cert = office_certificate()
    attest_office_certificate(
        attestations(consortium),
        consortium.signers["EM"],
        cert,
        consortium_ca()[0],
        office_accounts(consortium, "EM"),
    )
    return consortium, cert


def test_valid_binding_verifies_against_the_chain(bound: tuple[Consortium, bytes]) -> None:
    consortium, cert = bound
    binding = verify_office_certificate_binding(
        consortium.backend, consortium.deployment, cert, consortium_ca()[0], "EM"
    )
    assert binding.certificate.office_code == "EM"
    assert binding.certificate.fingerprint_sha256 == certificate_fingerprint_sha256(cert)
    assert set(binding.accounts) == set(office_accounts(consortium, "EM"))
    assert binding.attestation.issuer_office == "EM"
    assert binding.attestation.schema_uid == OFFICE_CERTIFICATE_SCHEMA.uid
    # The attestation lapses with the certificate.
    assert binding.attestation.expires_at == int(binding.certificate.not_valid_after.timestamp())
    claim = office_certificate_claim(cert, "EM", office_accounts(consortium, "EM"))
    assert binding.attestation.claim_hash == OFFICE_CERTIFICATE_SCHEMA.claim_hash(claim)


def test_binding_is_judged_at_the_block_asked_about(bound: tuple[Consortium, bytes]) -> None:
    consortium, cert = bound
    ca_pem = consortium_ca()[0]
    backend, deployment = consortium.backend, consortium.deployment
    bound_at = backend.block_number()
    (attestation,) = attestations(consortium).find(schema=OFFICE_CERTIFICATE_SCHEMA)
    attestations(consortium).revoke(consortium.signers["EM"], attestation.uid)
    with pytest.raises(VerificationError, match="revoked"):
        verify_office_certificate_binding(backend, deployment, cert, ca_pem, "EM")
    assert verify_office_certificate_binding(backend, deployment, cert, ca_pem, "EM", bound_at)
    with pytest.raises(VerificationError, match="no attestation"):
        verify_office_certificate_binding(backend, deployment, cert, ca_pem, "EM", bound_at - 1)


def test_new_signer_key_is_not_covered_until_the_office_attests_again(
    bound: tuple[Consortium, bytes],
) -> None:
    consortium, cert = bound
    ca_pem = consortium_ca()[0]
    gov = governance(consortium)
    admins = consortium.admins
    extra = new_key()
    fund(consortium.backend, [extra.address])
    pass_proposal(gov, gov.propose_add_signer(admins["EM"], "EM", extra.address), [admins["AU"]])
    args = (consortium.backend, consortium.deployment, cert, ca_pem, "EM")
    with pytest.raises(VerificationError, match="no attestation"):
        verify_office_certificate_binding(*args)
    # Explicitly naming the accounts bound earlier still verifies.
    verify_office_certificate_binding(*args, accounts=office_accounts(consortium, "EM"))
    attest_office_certificate(
        attestations(consortium),
        extra,
        cert,
        ca_pem,
        [*gov.signers_of("EM"), admins["EM"].address],
    )
    assert extra.address in verify_office_certificate_binding(*args).accounts


def _not_from_the_ca() -> bytes:
    other_ca, other_key = create_consortium_ca("someone else's CA", 3650)
    return issue_office_certificate(other_ca, other_key, "EM", "Office EM", 365)[0]


BAD_CERTIFICATES: dict[str, tuple[Callable[[], bytes], str]] = {
    "malformed": (
        lambda: b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        "not a PEM",
    ),
    "garbage": (lambda: b"\x00\x01 not a certificate", "not a PEM"),
    "other-ca": (_not_from_the_ca, "was not issued by"),
    "expired": (
        lambda: office_certificate(not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=400)),
        "expired",
    ),
    "not-yet-valid": (
        lambda: office_certificate(not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=2)),
        "not valid before",
    ),
    "other-office": (lambda: office_certificate("AU"), "for office AU"),
    "ca-itself": (lambda: consortium_ca()[0], "not an office certificate"),
}


@pytest.mark.parametrize("case", BAD_CERTIFICATES)
def test_bad_certificate_is_refused_and_nothing_is_written(shared: Consortium, case: str) -> None:
    consortium = shared
    make, message = BAD_CERTIFICATES[case]
    cert = make()
    registry = attestations(consortium)
    signer = consortium.signers["EM"]
    nonce = consortium.backend.get_nonce(signer.address)
    count = registry._call("attestationCount")
    with pytest.raises(CertificateError, match=message):
        attest_office_certificate(
            registry, signer, cert, consortium_ca()[0], office_accounts(consortium, "EM")
        )
    assert consortium.backend.get_nonce(signer.address) == nonce
    assert registry._call("attestationCount") == count
    with pytest.raises(CertificateError, match=message):
        verify_office_certificate_binding(
            consortium.backend, consortium.deployment, cert, consortium_ca()[0], "EM"
        )


def test_office_code_must_be_st3_shaped(shared: Consortium) -> None:
    with pytest.raises(UnknownOfficeError):
        verify_office_certificate_binding(
            shared.backend, shared.deployment, office_certificate(), consortium_ca()[0], "em"
        )


def test_binding_by_another_office_does_not_count(consortium: Consortium) -> None:
    """AU cannot vouch for EM's identity: only the office's own attestation binds."""
    approve_standard_schemas(consortium)
    cert = office_certificate()
    claim = office_certificate_claim(cert, "EM", office_accounts(consortium, "EM"))
    attestations(consortium).attest(consortium.signers["AU"], OFFICE_CERTIFICATE_SCHEMA, claim)
    with pytest.raises(VerificationError, match="no attestation by EM"):
        verify_office_certificate_binding(
            consortium.backend, consortium.deployment, cert, consortium_ca()[0], "EM"
        )
