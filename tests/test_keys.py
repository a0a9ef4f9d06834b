"""Office keystores, signing, and X.509 office certificates."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import pickle
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import load_pem_x509_certificate
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_keys import keys as eth_keys

from ipchain import keys
from ipchain.errors import (
    CertificateError,
    InvalidInputError,
    KeystoreError,
    SignatureError,
    WrongPasswordError,
)
from ipchain.keys import (
    FAST_KDF_ITERATIONS,
    Keystore,
    OfficeKey,
    certificate_fingerprint_sha256,
    create_consortium_ca,
    issue_office_certificate,
    password_from_env_or_prompt,
    recover_message_signer,
    recover_typed_data_signer,
    verify_office_certificate,
    verify_typed_data_signature,
)

PRIVATE_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ADDRESS = Account.from_key(PRIVATE_KEY).address
PASSWORD = "correct horse battery staple"


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", kdf_iterations=FAST_KDF_ITERATIONS)


# --- keystores -------------------------------------------------------------------------------


def test_created_key_loads_back_with_its_password(keystore: Keystore) -> None:
    assert keystore.create("em-signer", PASSWORD, PRIVATE_KEY) == ADDRESS
    random_address = keystore.create("au-signer", PASSWORD)

    assert keystore.names() == ["au-signer", "em-signer"]
    assert keystore.load("em-signer", PASSWORD).address == ADDRESS
    assert keystore.load("au-signer", PASSWORD).address == random_address
    assert keystore.address_of("em-signer") == ADDRESS
    assert random_address != ADDRESS


def test_keyfile_is_a_standard_v3_keyfile_encrypted_with_scrypt(keystore: Keystore) -> None:
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)
    keyfile = json.loads(keystore.path_of("em-signer").read_text())

    assert keyfile["version"] == 3
    assert keyfile["crypto"]["kdf"] == "scrypt"
    assert keyfile["crypto"]["kdfparams"]["n"] == FAST_KDF_ITERATIONS
    # Other Ethereum tools can open it: eth_account decrypts it independently of ipchain.
    assert Account.decrypt(keyfile, PASSWORD) == PRIVATE_KEY


def test_keystores_are_slow_to_brute_force_unless_asked_otherwise(tmp_path: Path) -> None:
    assert Keystore(tmp_path).kdf_iterations == keys.STANDARD_KDF_ITERATIONS == 2**18


def test_wrong_password_names_the_file_but_not_the_password(keystore: Keystore) -> None:
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)

    with pytest.raises(WrongPasswordError) as raised:
        keystore.load("em-signer", "hunter2-wrong")

    message = str(raised.value)
    assert str(keystore.path_of("em-signer")) in message
    assert "hunter2" not in message and PASSWORD not in message
    assert raised.value.code == "wrong-password"


def test_missing_and_corrupt_keystores_are_keystore_errors(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match="does not exist"):
        keystore.load("nobody", PASSWORD)
    with pytest.raises(KeystoreError, match="does not exist"):
        keystore.address_of("nobody")

    keystore.directory.mkdir(parents=True, exist_ok=True)
    (keystore.directory / "garbage.json").write_text("{not json")
    with pytest.raises(KeystoreError, match="not JSON"):
        keystore.load("garbage", PASSWORD)

    (keystore.directory / "v4.json").write_text('{"version": 4}')
    with pytest.raises(KeystoreError, match="version 3"):
        keystore.load("v4", PASSWORD)

    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)
    keyfile = json.loads(keystore.path_of("em-signer").read_text())
    del keyfile["crypto"]["ciphertext"]
    (keystore.directory / "truncated.json").write_text(json.dumps(keyfile))
    with pytest.raises(KeystoreError, match="corrupt"):
        keystore.load("truncated", PASSWORD)


def test_keyfile_demanding_huge_scrypt_memory_is_refused_before_decrypting(
    keystore: Keystore,
) -> None:
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)
    keyfile = json.loads(keystore.path_of("em-signer").read_text())
    keyfile["crypto"]["kdfparams"]["n"] = 2**30
    (keystore.directory / "bomb.json").write_text(json.dumps(keyfile))

    with pytest.raises(KeystoreError, match="unreasonable KDF cost"):
        keystore.load("bomb", PASSWORD)


def test_keyfile_naming_another_account_is_refused(keystore: Keystore) -> None:
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)
    keyfile = json.loads(keystore.path_of("em-signer").read_text())
    keyfile["address"] = "11" * 20
    (keystore.directory / "swapped.json").write_text(json.dumps(keyfile))

    with pytest.raises(KeystoreError, match="another account"):
        keystore.load("swapped", PASSWORD)


def test_create_never_overwrites_and_refuses_bad_input(keystore: Keystore) -> None:
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)

    with pytest.raises(KeystoreError, match="already exists"):
        keystore.create("em-signer", PASSWORD)
    assert keystore.load("em-signer", PASSWORD).address == ADDRESS
    with pytest.raises(KeystoreError, match="empty password"):
        keystore.create("other", "")
    for bad_name in ["../escape", "a/b", "", ".hidden", "x" * 65]:
        with pytest.raises(InvalidInputError, match="keystore name"):
            keystore.create(bad_name, PASSWORD)
    too_large = b"\xff" * 32  # above the secp256k1 group order
    with pytest.raises(KeystoreError) as raised:
        keystore.create("too-large", PASSWORD, too_large)
    assert "ff" * 8 not in str(raised.value)


def test_keyfiles_are_private_to_their_owner(keystore: Keystore) -> None:
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)

    assert stat.S_IMODE(keystore.path_of("em-signer").stat().st_mode) == 0o600
    assert stat.S_IMODE(keystore.directory.stat().st_mode) == 0o700
    # The write goes through a temporary file that must not linger.
    assert [path.name for path in keystore.directory.iterdir()] == ["em-signer.json"]


def test_key_material_never_appears_in_repr_str_logs_or_errors(
    keystore: Keystore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keystore.create("em-signer", PASSWORD, PRIVATE_KEY)
    key = keystore.load("em-signer", PASSWORD)
    key.sign_message(b"hello")
    with pytest.raises(WrongPasswordError) as raised:
        keystore.load("em-signer", "wrong")

    secrets_as_text = [PRIVATE_KEY.hex(), PRIVATE_KEY.hex().upper(), PASSWORD]
    shown = [repr(key), str(key), f"{key}", caplog.text, str(raised.value), repr(raised.value)]
    for text in shown:
        for secret in secrets_as_text:
            assert secret not in text
    assert ADDRESS in repr(key)
    assert ADDRESS in caplog.text  # the logs do say which account was unlocked
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


def test_signed_transaction_comes_from_the_office_account() -> None:
    key = OfficeKey.from_private_key(PRIVATE_KEY)
    transaction = {
        "to": "0x" + "33" * 20,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 1,
        "nonce": 7,
        "chainId": 1337,
        "data": b"",
    }

    raw = key.sign_transaction(transaction)

    assert Account.recover_transaction(raw) == ADDRESS
    with pytest.raises(InvalidInputError, match="cannot sign"):
        key.sign_transaction({"to": "0x" + "33" * 20})


# --- EIP-712 and EIP-191 ---------------------------------------------------------------------

DOMAIN = {
    "name": "ipchain AttestationRegistry",
    "version": "1",
    "chainId": 1337,
    "verifyingContract": "0x" + "ab" * 20,
}
TYPES = {
    "Attestation": [
        {"name": "schema", "type": "bytes32"},
        {"name": "subject", "type": "address"},
        {"name": "claimHash", "type": "bytes32"},
        {"name": "expiresAt", "type": "uint64"},
    ]
}
MESSAGE = {
    "schema": b"\x01" * 32,
    "subject": "0x" + "cd" * 20,
    "claimHash": hashlib.sha256(b"claim").digest(),
    "expiresAt": 1_900_000_000,
}


def _eip712_digest_by_hand() -> bytes:
    """The digest a Solidity verifier computes, written out from the EIP-712 text."""
    domain_type = keccak(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    domain_separator = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                domain_type,
                keccak(DOMAIN["name"].encode()),  # type: ignore[union-attr]
                keccak(b"1"),
                1337,
                DOMAIN["verifyingContract"],
            ],
        )
    )
    struct_type = keccak(
        b"Attestation(bytes32 schema,address subject,bytes32 claimHash,uint64 expiresAt)"
    )
    struct_hash = keccak(
        abi_encode(
            ["bytes32", "bytes32", "address", "bytes32", "uint64"],
            [struct_type, *MESSAGE.values()],
        )
    )
    return keccak(b"\x19\x01" + domain_separator + struct_hash)


def test_typed_data_signature_is_what_a_solidity_verifier_recovers() -> None:
    key = OfficeKey.from_private_key(PRIVATE_KEY)

    signature = key.sign_typed_data(DOMAIN, TYPES, MESSAGE)

    assert len(signature) == 65
    # v is 27/28 on the wire; eth_keys wants the bare recovery id 0/1.
    raw_signature = eth_keys.Signature(signature[:64] + bytes([signature[64] - 27]))
    signer = raw_signature.recover_public_key_from_msg_hash(_eip712_digest_by_hand())
    assert signer.to_checksum_address() == ADDRESS
    assert recover_typed_data_signer(DOMAIN, TYPES, MESSAGE, signature) == ADDRESS
    verify_typed_data_signature(DOMAIN, TYPES, MESSAGE, signature, ADDRESS.lower())


def test_explicit_eip712_domain_type_gives_the_same_signature() -> None:
    key = OfficeKey.from_private_key(PRIVATE_KEY)
    with_domain_type = {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        **TYPES,
    }
    assert key.sign_typed_data(DOMAIN, with_domain_type, MESSAGE) == key.sign_typed_data(
        DOMAIN, TYPES, MESSAGE
    )


def test_altered_message_or_domain_does_not_verify() -> None:
    signature = OfficeKey.from_private_key(PRIVATE_KEY).sign_typed_data(DOMAIN, TYPES, MESSAGE)

    altered_message = {**MESSAGE, "expiresAt": 1_900_000_001}
    other_chain = {**DOMAIN, "chainId": 1}
    for domain, message in [(DOMAIN, altered_message), (other_chain, MESSAGE)]:
        assert recover_typed_data_signer(domain, TYPES, message, signature) != ADDRESS
        with pytest.raises(SignatureError, match=f"not {ADDRESS}"):
            verify_typed_data_signature(domain, TYPES, message, signature, ADDRESS)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 10, b"\x00" * 65, b"\xff" * 65])
def test_malformed_signatures_are_signature_errors(signature: bytes) -> None:
    with pytest.raises(SignatureError):
        recover_typed_data_signer(DOMAIN, TYPES, MESSAGE, signature)


def test_malformed_typed_data_is_invalid_input() -> None:
    key = OfficeKey.from_private_key(PRIVATE_KEY)
    with pytest.raises(InvalidInputError, match="EIP-712"):
        key.sign_typed_data(DOMAIN, TYPES, {"schema": b"\x01" * 32})


def test_personal_sign_round_trip() -> None:
    key = OfficeKey.from_private_key(PRIVATE_KEY)
    signature = key.sign_message(b"ipchain login 2024-01-01T00:00:00Z")

    assert recover_message_signer(b"ipchain login 2024-01-01T00:00:00Z", signature) == ADDRESS
    assert recover_message_signer(b"ipchain login 2024-01-02T00:00:00Z", signature) != ADDRESS


# --- passwords -------------------------------------------------------------------------------


def test_password_comes_from_the_environment_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPCHAIN_KEYSTORE_PASSWORD", "from-env")
    monkeypatch.setattr(keys.getpass, "getpass", _fail_prompt)
    assert password_from_env_or_prompt("em-signer") == "from-env"


def test_password_is_asked_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPCHAIN_KEYSTORE_PASSWORD", raising=False)
    monkeypatch.setattr(keys.sys, "stdin", _Terminal())
    monkeypatch.setattr(keys.getpass, "getpass", lambda prompt: "typed")
    assert password_from_env_or_prompt("em-signer") == "typed"


def test_without_terminal_or_variable_the_error_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MY_PASSWORD", raising=False)
    monkeypatch.setattr(keys.sys, "stdin", io.StringIO())
    monkeypatch.setattr(keys.getpass, "getpass", _fail_prompt)
    with pytest.raises(KeystoreError, match="set MY_PASSWORD"):
        password_from_env_or_prompt("em-signer", env_var="MY_PASSWORD")


def _fail_prompt(prompt: str) -> str:
    raise AssertionError("must not prompt")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- X.509 -----------------------------------------------------------------------------------


def now() -> dt.datetime:
    # Evaluated per call, not at import: in a long test run the module may be imported minutes
    # before these tests run, beyond the certificates' clock-skew allowance.
    return dt.datetime.now(dt.UTC)


Consortium = tuple[bytes, ec.EllipticCurvePrivateKey]


@pytest.fixture(scope="module")
def consortium() -> Consortium:
    return create_consortium_ca("ipchain consortium CA", valid_days=3650)


def test_issued_office_certificate_verifies_and_names_the_office(
    consortium: Consortium,
) -> None:
    ca_pem, ca_key = consortium
    cert_pem, office_key = issue_office_certificate(
        ca_pem, ca_key, "EM", "European Union Intellectual Property Office", 365
    )

    info = verify_office_certificate(cert_pem, ca_pem, now())

    assert info.office_code == "EM"
    assert info.office_name == "European Union Intellectual Property Office"
    der = load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    assert info.fingerprint_sha256 == hashlib.sha256(der).digest()
    assert certificate_fingerprint_sha256(cert_pem) == info.fingerprint_sha256
    assert certificate_fingerprint_sha256(cert_pem.decode()) == info.fingerprint_sha256
    assert "ipchain consortium CA" in info.issuer
    assert load_pem_x509_certificate(cert_pem).public_key() == office_key.public_key()


def test_certificate_outside_its_validity_is_refused(consortium: Consortium) -> None:
    ca_pem, ca_key = consortium
    cert_pem, _ = issue_office_certificate(ca_pem, ca_key, "AU", "IP Australia", 30)
    future_pem, _ = issue_office_certificate(
        ca_pem, ca_key, "AU", "IP Australia", 30, not_before=now() + dt.timedelta(days=10)
    )

    with pytest.raises(CertificateError, match="expired"):
        verify_office_certificate(cert_pem, ca_pem, now() + dt.timedelta(days=31))
    with pytest.raises(CertificateError, match="not valid before"):
        verify_office_certificate(future_pem, ca_pem, now())
    verify_office_certificate(future_pem, ca_pem, now() + dt.timedelta(days=11))


def test_certificate_from_another_ca_is_refused_even_with_the_same_name(
    consortium: Consortium,
) -> None:
    ca_pem, _ = consortium
    impostor_pem, impostor_key = create_consortium_ca("ipchain consortium CA", valid_days=3650)
    forged_pem, _ = issue_office_certificate(impostor_pem, impostor_key, "EM", "EUIPO", 365)

    with pytest.raises(CertificateError, match="not issued by"):
        verify_office_certificate(forged_pem, ca_pem, now())
    assert issubclass(CertificateError, InvalidInputError)
    assert CertificateError.code == "invalid-certificate"


def test_roles_cannot_be_swapped(consortium: Consortium) -> None:
    ca_pem, ca_key = consortium
    cert_pem, _ = issue_office_certificate(ca_pem, ca_key, "RU", "Rospatent", 365)

    with pytest.raises(CertificateError, match="not a CA"):
        verify_office_certificate(cert_pem, cert_pem, now())
    with pytest.raises(CertificateError, match="not an office certificate"):
        verify_office_certificate(ca_pem, ca_pem, now())


@pytest.mark.parametrize(
    "bad",
    [b"", b"not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"],
)
def test_malformed_pem_is_refused(consortium: Consortium, bad: bytes | str) -> None:
    ca_pem, _ = consortium
    with pytest.raises(CertificateError, match=r"not a PEM X\.509 certificate"):
        verify_office_certificate(bad, ca_pem, now())
    with pytest.raises(CertificateError):
        certificate_fingerprint_sha256(bad)


def test_issuing_checks_its_inputs(consortium: Consortium) -> None:
    ca_pem, ca_key = consortium
    _, other_ca_key = create_consortium_ca("other", valid_days=1)
    with pytest.raises(CertificateError, match="CA key does not belong"):
        issue_office_certificate(ca_pem, other_ca_key, "EM", "EUIPO", 365)
    with pytest.raises(InvalidInputError, match=r"ST\.3"):
        issue_office_certificate(ca_pem, ca_key, "EUIPO", "EUIPO", 365)
    with pytest.raises(InvalidInputError):
        verify_office_certificate(ca_pem, ca_pem, dt.datetime(2030, 1, 1))  # naive: ambiguous


def test_certificate_key_is_encrypted_at_rest(keystore: Keystore, consortium: Consortium) -> None:
    ca_pem, ca_key = consortium
    _, office_key = issue_office_certificate(ca_pem, ca_key, "MT", "Malta IPO", 365)

    path = keystore.save_certificate_key("mt-tls", office_key, PASSWORD)

    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keystore.load_certificate_key("mt-tls", PASSWORD)
    assert loaded.private_numbers() == office_key.private_numbers()
    with pytest.raises(WrongPasswordError, match=r"mt-tls\.key\.pem"):
        keystore.load_certificate_key("mt-tls", "wrong")
    with pytest.raises(KeystoreError, match="already exists"):
        keystore.save_certificate_key("mt-tls", office_key, PASSWORD)
    assert keystore.names() == []  # certificate keys are not signing keystores
