"""Governance for dev and demo set-ups: the standard attestation schemas approved, a demo
consortium CA kept in the node's data directory, and each founding office's X.509
certificate bound to its chain accounts.

A production consortium runs its CA elsewhere and each office binds its own certificate
(``POST /api/v1/attestations`` or ``ipchain attest``); :func:`set_up_dev_governance` is what
``ipchain init`` does when it deployed the consortium itself, i.e. when one node holds every
founding office's keys. Files in the data directory::

    consortium-ca/ca.pem           the demo CA certificate (public)
    consortium-ca/ca.key.pem       its private key, encrypted with the keystore password
    certificates/{XX}.pem          office XX's certificate (public)
    certificates/{XX}.key.pem      its private key, encrypted with the keystore password
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec

from ipchain.attestations import Attestations, approve_schemas, attest_office_certificate
from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment
from ipchain.contracts.office_registry import Governance
from ipchain.errors import CertificateError
from ipchain.keys import (
    Keystore,
    OfficeKey,
    create_consortium_ca,
    issue_office_certificate,
    verify_office_certificate,
)

DEMO_CA_NAME: Final = "ipchain demo consortium CA"
"""Common name of the CA ``ipchain init`` makes for a dev consortium."""

CA_VALID_DAYS: Final = 3_650
"""Validity of the demo CA certificate."""

OFFICE_CERTIFICATE_DAYS: Final = 365
"""Validity of the office certificates the demo CA issues (their attestations expire with
them)."""

_CA_NAME: Final = "ca"


def ca_directory(data_dir: Path) -> Path:
    """Where a node keeps the demo consortium CA."""
    return data_dir / "consortium-ca"


def certificates_directory(data_dir: Path) -> Path:
    """Where a node keeps its offices' certificates."""
    return data_dir / "certificates"


def ca_certificate_path(data_dir: Path) -> Path:
    """The consortium CA certificate (PEM) a node checks office certificates against."""
    return ca_directory(data_dir) / f"{_CA_NAME}.pem"


def office_certificate_path(data_dir: Path, office: str) -> Path:
    """Office ``office``'s certificate (PEM), when the node holds it."""
    return certificates_directory(data_dir) / f"{office}.pem"


def consortium_ca_certificate(data_dir: Path) -> bytes | None:
    """The consortium CA certificate the node knows, None if it has none."""
    path = ca_certificate_path(data_dir)
    return path.read_bytes() if path.exists() else None


def _write_public(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(content)
    temporary.replace(path)


def load_or_create_demo_ca(
    data_dir: Path, password: str
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """The data directory's demo CA (certificate PEM and key), made on first use."""
    directory = ca_directory(data_dir)
    keystore = Keystore(directory)
    certificate = ca_certificate_path(data_dir)
    if certificate.exists() and (directory / f"{_CA_NAME}.key.pem").exists():
        return certificate.read_bytes(), keystore.load_certificate_key(_CA_NAME, password)
    pem, key = create_consortium_ca(DEMO_CA_NAME, CA_VALID_DAYS)
    # The key first: a CA certificate without its key could never issue anything.
    keystore.save_certificate_key(_CA_NAME, key, password)
    _write_public(certificate, pem)
    return pem, key


def load_or_issue_office_certificate(
    data_dir: Path,
    ca_pem: bytes,
    ca_key: ec.EllipticCurvePrivateKey,
    office: str,
    office_name: str,
    password: str,
) -> bytes:
    """Office ``office``'s certificate from the demo CA: the one in the data directory while
    it is valid and from this CA, else a new one (its key saved encrypted beside it)."""
    path = office_certificate_path(data_dir, office)
    if path.exists():
        try:
            verify_office_certificate(path.read_bytes(), ca_pem, dt.datetime.now(dt.UTC))
            return path.read_bytes()
        except CertificateError:
            pass  # expired, or from an earlier CA: issue a fresh one
    # X.509 limits a common name to 64 characters (ub-common-name); official names can be
    # longer ("Industrial Property Registrations Directorate, Commerce Department").
    name = office_name if len(office_name) <= 64 else office_name[:61].rstrip() + "..."
    pem, key = issue_office_certificate(ca_pem, ca_key, office, name, OFFICE_CERTIFICATE_DAYS)
    keystore = Keystore(certificates_directory(data_dir))
    key_path = certificates_directory(data_dir) / f"{office}.key.pem"
    if key_path.exists():
        key_path.unlink()  # the key of the certificate being replaced
    keystore.save_certificate_key(office, key, password)
    _write_public(path, pem)
    return pem


def set_up_dev_governance(
    backend: ChainBackend,
    deployment: Deployment,
    data_dir: Path,
    password: str,
    offices: Mapping[str, tuple[str, OfficeKey, OfficeKey]],
) -> None:
    """Approve the standard schemas by the founding admins' votes, and bind each founding
    office's demo certificate to its admin and signer accounts.

    ``offices`` maps each ST.3 code to (name, admin key, signer key)."""
    approve_schemas(Governance(backend, deployment), [admin for _, admin, _ in offices.values()])
    ca_pem, ca_key = load_or_create_demo_ca(data_dir, password)
    registry = Attestations(backend, deployment)
    for code, (name, admin, signer) in offices.items():
        certificate = load_or_issue_office_certificate(
            data_dir, ca_pem, ca_key, code, name, password
        )
        attest_office_certificate(
            registry, signer, certificate, ca_pem, [admin.address, signer.address]
        )


__all__ = [
    "CA_VALID_DAYS",
    "DEMO_CA_NAME",
    "OFFICE_CERTIFICATE_DAYS",
    "ca_certificate_path",
    "consortium_ca_certificate",
    "load_or_create_demo_ca",
    "load_or_issue_office_certificate",
    "office_certificate_path",
    "set_up_dev_governance",
]
