"""Office keys: encrypted keystores, transaction and EIP-712 signing, X.509 office identity.

This is the only module that holds private keys. Nothing it returns or raises contains key
material or passwords: :class:`OfficeKey` shows only its address, error messages name the
keystore file, and log lines carry addresses.

Keystores are Ethereum V3 keyfiles (``eth-keyfile``), one ``{name}.json`` per key, readable by
geth, Foundry (``cast wallet``) and web3 tools. The key is encrypted with scrypt at geth's
standard cost (n = 2**18, about a second per unlock on a laptop); ``FAST_KDF_ITERATIONS``
(n = 2**12) is for tests and the workshop demo, whose keys protect nothing.

X.509 identities: a consortium CA certifies each office. An office certificate's subject is::

    CN = <office name>, O = <office name>, organizationIdentifier (2.5.4.97) = <ST.3 code>

``organizationIdentifier`` is X.520's attribute for "an identifier of the organisation other
than its name", which is exactly what the two-letter WIPO ST.3 code is. Keys are ECDSA P-256
with SHA-256 signatures, which every TLS stack and most national PKIs accept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import logging
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keyfile.keyfile import create_keyfile_json, decode_keyfile_json
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError

from ipchain.errors import (
    CertificateError,
    InvalidInputError,
    KeystoreError,
    SignatureError,
    WrongPasswordError,
)

logger = logging.getLogger(__name__)

STANDARD_KDF_ITERATIONS: Final = 2**18
"""scrypt cost ``n`` for real keys (geth's ``StandardScryptN``)."""

FAST_KDF_ITERATIONS: Final = 2**12

_X520_NAME_MAX: Final = 64
"""scrypt cost ``n`` for throw-away keys in tests and demos (geth's ``LightScryptN``)."""

PASSWORD_ENV_VAR: Final = "IPCHAIN_KEYSTORE_PASSWORD"
"""Environment variable read by :func:`password_from_env_or_prompt`."""

# A keyfile names its own KDF cost; a hostile or corrupt one could ask for gigabytes of scrypt
# memory. These bounds sit well above any real wallet's settings.
_MAX_SCRYPT_N: Final = 2**20
_MAX_PBKDF2_ROUNDS: Final = 10_000_000
_KEYSTORE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_OFFICE_CODE = re.compile(r"[A-Z]{2}")
# Certificates start slightly in the past so a peer whose clock lags does not reject them.
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)


# --- signing key -----------------------------------------------------------------------------


class OfficeKey:
    """An unlocked office signing key. Shows and logs only its address."""

    __slots__ = ("_account", "name")

    def __init__(self, account: LocalAccount, name: str | None = None) -> None:
        self._account = account
        self.name = name
        """Keystore name it was loaded from, when it came from one."""

    @classmethod
    def from_private_key(cls, private_key: bytes, name: str | None = None) -> OfficeKey:
        """Wrap raw key bytes (32 bytes), e.g. the demo offices' fixed keys."""
        try:
            account: LocalAccount = Account.from_key(private_key)
        except (ValueError, TypeError) as error:
            raise KeystoreError(f"not a secp256k1 private key ({type(error).__name__})") from None
        return cls(account, name)

    @classmethod
    def generate(cls, name: str | None = None) -> OfficeKey:
        """A fresh random key."""
        return cls.from_private_key(secrets.token_bytes(32), name)

    @property
    def address(self) -> str:
        """Checksummed account address."""
        return str(self._account.address)

    def sign_transaction(self, transaction: Mapping[str, Any]) -> bytes:
        """Sign a transaction dict (web3 field names); return the raw signed transaction."""
        try:
            signed = self._account.sign_transaction(dict(transaction))
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"cannot sign transaction: {error}") from None
        return bytes(signed.raw_transaction)

    def sign_typed_data(
        self, domain: Mapping[str, Any], types: Mapping[str, Any], message: Mapping[str, Any]
    ) -> bytes:
        """EIP-712 signature (65 bytes, r || s || v) of ``message`` under ``domain``.

        ``types`` are the struct types; an ``EIP712Domain`` entry is ignored because the
        domain type follows from the keys of ``domain``.
        """
        signable = _typed_data_message(domain, types, message)
        return bytes(self._account.sign_message(signable).signature)

    def sign_message(self, message: bytes) -> bytes:
        """EIP-191 ``personal_sign`` signature (65 bytes) of ``message``."""
        return bytes(self._account.sign_message(encode_defunct(primitive=message)).signature)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<OfficeKey{label} {self.address}>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would write the key in clear to wherever the pickle goes.
        raise TypeError("an OfficeKey cannot be pickled; load it from its keystore instead")


def _typed_data_message(
    domain: Mapping[str, Any], types: Mapping[str, Any], message: Mapping[str, Any]
) -> Any:
    struct_types = {name: fields for name, fields in types.items() if name != "EIP712Domain"}
    try:
        return encode_typed_data(dict(domain), struct_types, dict(message))
    except (TypeError, ValueError, KeyError) as error:
        raise InvalidInputError(f"not valid EIP-712 typed data: {error}") from None


def recover_typed_data_signer(
    domain: Mapping[str, Any],
    types: Mapping[str, Any],
    message: Mapping[str, Any],
    signature: bytes,
) -> str:
    """The checksummed address that made an EIP-712 ``signature``.

    Any well-formed signature recovers *some* address; compare it with the one you expect
    (or use :func:`verify_typed_data_signature`).
    """
    signable = _typed_data_message(domain, types, message)
    return _recover(signable, signature)


def verify_typed_data_signature(
    domain: Mapping[str, Any],
    types: Mapping[str, Any],
    message: Mapping[str, Any],
    signature: bytes,
    expected_signer: str,
) -> None:
    """Raise :class:`SignatureError` unless ``expected_signer`` made ``signature``."""
    signer = recover_typed_data_signer(domain, types, message, signature)
    if signer != to_checksum_address(expected_signer):
        raise SignatureError(f"signature was made by {signer}, not {expected_signer}")


def recover_message_signer(message: bytes, signature: bytes) -> str:
    """The checksummed address that made an EIP-191 ``personal_sign`` signature."""
    return _recover(encode_defunct(primitive=message), signature)


def _recover(signable: Any, signature: bytes) -> str:
    if len(signature) != 65:
        raise SignatureError(f"a signature is 65 bytes (r, s, v), got {len(signature)}")
    try:
        return str(Account.recover_message(signable, signature=bytes(signature)))
    except (BadSignature, ValidationError, ValueError, TypeError) as error:
        raise SignatureError(f"malformed signature: {error}") from None


# --- keystores -------------------------------------------------------------------------------


def admin_key_name(office: str) -> str:
    """Keystore name of an office's admin (governance) key."""
    return f"{office}-admin"


def signer_key_name(office: str) -> str:
    """Keystore name of an office's signer (register events) key."""
    return f"{office}-signer"


class Keystore:
    """A directory of encrypted office keys, one V3 keyfile ``{name}.json`` per key.

    Files are created with mode 0600 (directory 0700), written to a temporary file and linked
    into place, so a crash never leaves a half-written keyfile and an existing one is never
    overwritten.
    """

    def __init__(self, directory: Path, *, kdf_iterations: int = STANDARD_KDF_ITERATIONS) -> None:
        self.directory = Path(directory)
        self.kdf_iterations = kdf_iterations
        """scrypt cost for keys created here: :data:`STANDARD_KDF_ITERATIONS` unless a test or
        demo asks for :data:`FAST_KDF_ITERATIONS`."""

    def path_of(self, name: str) -> Path:
        """Where the keyfile of ``name`` lives."""
        return self.directory / f"{_check_name(name)}.json"

    def names(self) -> list[str]:
        """Names of the keys in this keystore, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(
            path.stem
            for path in self.directory.glob("*.json")
            if _KEYSTORE_NAME.fullmatch(path.stem)
        )

    def create(
        self,
        name: str,
        password: str,
        private_key: bytes | None = None,
        *,
        kdf_iterations: int | None = None,
    ) -> str:
        """Encrypt ``private_key`` (a fresh random key when None) as ``{name}.json``.

        Returns the account's checksummed address. Refuses an empty password and an existing
        name.
        """
        path = self.path_of(name)
        if not password:
            raise KeystoreError(f"refusing to create keystore {path} with an empty password")
        if path.exists():
            raise KeystoreError(f"keystore {path} already exists")
        raw_key = secrets.token_bytes(32) if private_key is None else bytes(private_key)
        # Validates the key before eth_keyfile sees it: its errors quote the key's value.
        address = OfficeKey.from_private_key(raw_key).address
        keyfile = create_keyfile_json(
            raw_key,
            password.encode("utf-8"),
            kdf="scrypt",
            iterations=kdf_iterations or self.kdf_iterations,
        )
        _write_private_file(path, json.dumps(keyfile, indent=2).encode("utf-8") + b"\n")
        logger.info("created keystore %s for %s", path, address)
        return address

    def load(self, name: str, password: str) -> OfficeKey:
        """Decrypt ``{name}.json``; :class:`WrongPasswordError` if ``password`` does not."""
        path = self.path_of(name)
        keyfile = self._read(path)
        _check_kdf_cost(keyfile, path)
        try:
            private_key = decode_keyfile_json(keyfile, password.encode("utf-8"))
        except ValueError as error:
            if "MAC mismatch" in str(error):
                # The MAC also fails on a damaged ciphertext; a wrong password is far likelier.
                raise WrongPasswordError(f"wrong password for keystore {path}") from None
            raise KeystoreError(f"keystore {path} is corrupt ({type(error).__name__})") from None
        except (KeyError, TypeError, NotImplementedError) as error:
            raise KeystoreError(f"keystore {path} is corrupt ({type(error).__name__})") from None
        key = OfficeKey.from_private_key(private_key, name)
        if "address" in keyfile and self.address_of(name) != key.address:
            raise KeystoreError(f"keystore {path} decrypts to another account than it names")
        logger.info("unlocked keystore %s (%s)", path, key.address)
        return key

    def address_of(self, name: str) -> str:
        """The account address a keyfile names, read without decrypting it."""
        path = self.path_of(name)
        stated = self._read(path).get("address")
        try:
            return to_checksum_address("0x" + str(stated).removeprefix("0x"))
        except (ValueError, TypeError):
            raise KeystoreError(f"keystore {path} names no valid address") from None

    def save_certificate_key(
        self, name: str, key: ec.EllipticCurvePrivateKey, password: str
    ) -> Path:
        """Write an X.509 private key as encrypted PKCS#8 PEM ``{name}.key.pem`` (mode 0600)."""
        path = self.directory / f"{_check_name(name)}.key.pem"
        if not password:
            raise KeystoreError(f"refusing to write {path} with an empty password")
        if path.exists():
            raise KeystoreError(f"key file {path} already exists")
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode("utf-8")),
        )
        _write_private_file(path, pem)
        return path

    def load_certificate_key(self, name: str, password: str) -> ec.EllipticCurvePrivateKey:
        """Read back a key written by :meth:`save_certificate_key`."""
        path = self.directory / f"{_check_name(name)}.key.pem"
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            raise KeystoreError(f"key file {path} does not exist") from None
        except OSError as error:
            raise KeystoreError(f"cannot read key file {path}: {error.strerror}") from None
        try:
            key = serialization.load_pem_private_key(pem, password.encode("utf-8"))
        except ValueError as error:
            if "password" in str(error).lower():
                raise WrongPasswordError(f"wrong password for key file {path}") from None
            raise KeystoreError(f"key file {path} is not a PEM private key") from None
        except TypeError:
            raise KeystoreError(f"key file {path} is not encrypted") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeystoreError(f"key file {path} holds a {type(key).__name__}, not an EC key")
        return key

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeystoreError(f"keystore {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise KeystoreError(f"cannot read keystore {path}: {error}") from None
        try:
            keyfile = json.loads(text)
        except json.JSONDecodeError:
            raise KeystoreError(f"keystore {path} is not JSON") from None
        if not isinstance(keyfile, dict) or keyfile.get("version") != 3:
            raise KeystoreError(f"keystore {path} is not a version 3 keyfile")
        return keyfile


def _check_name(name: str) -> str:
    if not isinstance(name, str) or _KEYSTORE_NAME.fullmatch(name) is None:
        raise InvalidInputError(
            f"keystore name {name!r:.70} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="name",
        )
    return name


def _check_kdf_cost(keyfile: Mapping[str, Any], path: Path) -> None:
    crypto = keyfile.get("crypto") or keyfile.get("Crypto") or {}
    params = crypto.get("kdfparams", {}) if isinstance(crypto, dict) else {}
    try:
        scrypt_n = int(params.get("n", 0))
        pbkdf2_rounds = int(params.get("c", 0))
    except (TypeError, ValueError):
        raise KeystoreError(f"keystore {path} is corrupt (bad KDF parameters)") from None
    if scrypt_n > _MAX_SCRYPT_N or pbkdf2_rounds > _MAX_PBKDF2_ROUNDS:
        raise KeystoreError(f"keystore {path} asks for an unreasonable KDF cost; refusing")


def _write_private_file(path: Path, content: bytes) -> None:
    """Create ``path`` with ``content``, mode 0600, atomically; fail if it exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp creates the file 0600 already; chmod guards against unusual umask handling.
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link, unlike rename, refuses to replace an existing file.
            os.link(temporary, path)
        except FileExistsError:
            raise KeystoreError(f"{path} already exists") from None
        _fsync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry itself durable, not only the file's bytes.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def password_from_env_or_prompt(name: str, env_var: str = PASSWORD_ENV_VAR) -> str:
    """The password for keystore ``name``: from ``env_var`` if set, else asked on the terminal.

    Without a terminal (services, CI) and without the variable, raises :class:`KeystoreError`
    saying which variable to set.
    """
    from_env = os.environ.get(env_var)
    if from_env:
        return from_env
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"Password for keystore {name!r}: ")
    raise KeystoreError(f"no password for keystore {name!r}: set {env_var} (no terminal to ask on)")


# --- X.509 office identity -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfficeCertificate:
    """What a verified office certificate says."""

    office_code: str
    """WIPO ST.3 code from the subject's ``organizationIdentifier``, e.g. ``EM``."""
    office_name: str
    """The subject's organisation name."""
    fingerprint_sha256: bytes
    """SHA-256 of the certificate's DER bytes: the value attested on-chain."""
    serial_number: int
    """Serial number the CA gave it."""
    issuer: str
    """The issuing CA's distinguished name (RFC 4514 string)."""
    not_valid_before: dt.datetime
    """Start of validity (UTC)."""
    not_valid_after: dt.datetime
    """End of validity (UTC)."""


PemOrCertificate = bytes | str | x509.Certificate
"""A certificate as PEM text/bytes or already parsed."""


def create_consortium_ca(
    common_name: str, valid_days: int, *, not_before: dt.datetime | None = None
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """A self-signed consortium CA: its certificate (PEM) and private key.

    The CA may sign office certificates only (path length 0). ``not_before`` defaults to now.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
        ]
    )
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_key_usage("key_cert_sign", "crl_sign"), True),
    ]
    pem = _sign_certificate(name, name, key.public_key(), key, not_before, valid_days, extensions)
    return pem, key


def issue_office_certificate(
    ca_cert: PemOrCertificate,
    ca_key: ec.EllipticCurvePrivateKey,
    office_code: str,
    office_name: str,
    valid_days: int,
    *,
    not_before: dt.datetime | None = None,
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """A new office key pair and its certificate (PEM) signed by the consortium CA.

    The certificate serves both to sign and as a TLS client certificate between nodes.
    """
    if not isinstance(office_code, str) or _OFFICE_CODE.fullmatch(office_code) is None:
        raise InvalidInputError(
            f"office code {office_code!r:.20} is not two upper-case letters (WIPO ST.3)",
            field="office_code",
        )
    if not office_name.strip():
        raise InvalidInputError("office name is empty", field="office_name")
    if len(office_name) > _X520_NAME_MAX:
        # X.520 caps commonName and organizationName at 64 characters; cryptography would
        # raise a bare ValueError deep inside the builder.
        raise InvalidInputError(
            f"office name is {len(office_name)} characters; X.509 names allow {_X520_NAME_MAX}",
            field="office_name",
        )
    ca = _parse_certificate(ca_cert, "CA certificate")
    if ca.public_key() != ca_key.public_key():
        raise CertificateError("the CA key does not belong to the CA certificate")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, office_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, office_name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, office_code),
        ]
    )
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage("digital_signature"), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ]
    pem = _sign_certificate(
        subject, ca.subject, key.public_key(), ca_key, not_before, valid_days, extensions
    )
    return pem, key


def _sign_certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime | None,
    valid_days: int,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> bytes:
    if valid_days < 1:
        raise InvalidInputError("a certificate must be valid for a day or more", field="days")
    start = _utc(not_before) if not_before else dt.datetime.now(dt.UTC) - _CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def certificate_fingerprint_sha256(cert_pem: PemOrCertificate) -> bytes:
    """SHA-256 over the certificate's DER encoding (what ``openssl x509 -fingerprint
    -sha256`` prints, without the colons)."""
    return _parse_certificate(cert_pem, "certificate").fingerprint(hashes.SHA256())


def verify_office_certificate(
    cert_pem: PemOrCertificate, ca_cert_pem: PemOrCertificate, at: dt.datetime
) -> OfficeCertificate:
    """Check that ``cert_pem`` is an office certificate signed by the CA and valid ``at``.

    Raises :class:`CertificateError` saying which check failed.
    """
    moment = _utc(at)
    certificate = _parse_certificate(cert_pem, "certificate")
    ca = _parse_certificate(ca_cert_pem, "CA certificate")
    if not _is_ca(ca):
        raise CertificateError(f"{ca.subject.rfc4514_string()} is not a CA certificate")
    if _is_ca(certificate):
        raise CertificateError("a CA certificate is not an office certificate")
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, InvalidSignature, TypeError):
        raise CertificateError(
            f"certificate of {certificate.subject.rfc4514_string()} was not issued by "
            f"{ca.subject.rfc4514_string()}"
        ) from None
    for checked, label in ((ca, "CA certificate"), (certificate, "certificate")):
        if moment < checked.not_valid_before_utc:
            raise CertificateError(
                f"{label} is not valid before {checked.not_valid_before_utc.isoformat()}"
            )
        if moment > checked.not_valid_after_utc:
            raise CertificateError(f"{label} expired on {checked.not_valid_after_utc.isoformat()}")
    office_code = _single_attribute(certificate, NameOID.ORGANIZATION_IDENTIFIER)
    if office_code is None or _OFFICE_CODE.fullmatch(office_code) is None:
        raise CertificateError(
            "certificate subject carries no ST.3 office code (organizationIdentifier)"
        )
    office_name = _single_attribute(certificate, NameOID.ORGANIZATION_NAME) or ""
    return OfficeCertificate(
        office_code=office_code,
        office_name=office_name,
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()),
        serial_number=certificate.serial_number,
        issuer=ca.subject.rfc4514_string(),
        not_valid_before=certificate.not_valid_before_utc,
        not_valid_after=certificate.not_valid_after_utc,
    )


def _key_usage(*allowed: str) -> x509.KeyUsage:
    flags = (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    )  # fmt: skip
    return x509.KeyUsage(**{flag: flag in allowed for flag in flags})


def _parse_certificate(value: PemOrCertificate, label: str) -> x509.Certificate:
    if isinstance(value, x509.Certificate):
        return value
    pem = value.encode("ascii", "replace") if isinstance(value, str) else bytes(value)
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise CertificateError(f"{label} is not a PEM X.509 certificate") from None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _single_attribute(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    attributes = certificate.subject.get_attributes_for_oid(oid)
    if len(attributes) != 1:
        return None
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        # A naive time is ambiguous by hours; certificate checks must not guess.
        raise InvalidInputError("give a timezone-aware datetime (e.g. datetime.now(UTC))")
    return moment.astimezone(dt.UTC)
