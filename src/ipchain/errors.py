"""The one typed hierarchy of ipchain's errors.

Every error a caller can act on derives from :class:`IpchainError`; the CLI prints its message
as one line and exits non-zero, the API maps each class to a stable problem ``code``. Messages
never contain secrets (passwords, private keys, tokens).
"""

from __future__ import annotations


class IpchainError(Exception):
    """Base of every ipchain error. ``code`` is stable and used in API problem responses."""

    code = "ipchain-error"


# --- input -----------------------------------------------------------------------------------


class InvalidInputError(IpchainError, ValueError):
    """Input that can never succeed as given (malformed document, bad field, bad key)."""

    code = "invalid-input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CanonicalizationError(InvalidInputError):
    """A document cannot be put in RFC 8785 canonical form (NaN, non-string keys, ...)."""

    code = "not-canonicalizable"


class UnknownOfficeError(InvalidInputError):
    """An office code that is not ST.3-shaped or not a consortium member."""

    code = "unknown-office"


class UnknownEventCodeError(InvalidInputError):
    """An event code missing from the ST.61/ST.87 catalogue."""

    code = "unknown-event-code"


class InvalidRecordKeyError(InvalidInputError):
    """A record key that is not ``{office}/{TM|DS}/{number}``."""

    code = "invalid-record-key"


class StateTransitionError(InvalidInputError):
    """An event that makes no sense for the record's current state (e.g. renewing a filing)."""

    code = "invalid-state-transition"


# --- keys ------------------------------------------------------------------------------------


class KeystoreError(IpchainError):
    """A keystore that is missing, unreadable or not for the expected account."""

    code = "keystore-error"


class WrongPasswordError(KeystoreError):
    """The keystore password does not decrypt the key."""

    code = "wrong-password"


class SignatureError(IpchainError):
    """A signature that does not verify or was made by the wrong account."""

    code = "invalid-signature"


# --- chain -----------------------------------------------------------------------------------


class ChainError(IpchainError):
    """Any failure talking to the chain."""

    code = "chain-error"


class ChainUnavailableError(ChainError):
    """The chain node does not answer (JSON-RPC URL down, embedded data directory locked)."""

    code = "chain-unavailable"


class ChainMismatchError(ChainError):
    """The chain is not the expected one (chain id or genesis differs, contracts missing)."""

    code = "chain-mismatch"


class TransactionRejectedError(ChainError):
    """The node refused a transaction before executing it (nonce, gas, balance)."""

    code = "transaction-rejected"


class ContractRevertError(ChainError):
    """A contract call or transaction reverted. ``error_name`` is the Solidity custom error
    (e.g. ``RegisterStaleHead``) and ``args`` its decoded arguments, when known."""

    code = "contract-revert"

    def __init__(
        self, message: str, *, error_name: str | None = None, args: tuple[object, ...] = ()
    ) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.error_args = args


class ReceiptTimeoutError(ChainError):
    """A transaction was sent but no receipt arrived in time; it may still be mined."""

    code = "receipt-timeout"


# --- storage ---------------------------------------------------------------------------------


class NotFoundError(IpchainError):
    """A record, event, submission or office that does not exist."""

    code = "not-found"


class ConflictError(IpchainError):
    """A request that conflicts with stored state (e.g. an idempotency key reused with
    another body)."""

    code = "conflict"


class AuthenticationError(IpchainError):
    """A missing or invalid credential."""

    code = "unauthenticated"


class AuthorizationError(IpchainError):
    """A valid credential that may not do this (e.g. another office's records)."""

    code = "forbidden"


# --- verification ----------------------------------------------------------------------------


class VerificationError(IpchainError):
    """Data that does not match what is anchored on the chain."""

    code = "verification-failed"


class BundleFormatError(InvalidInputError):
    """A proof bundle that is truncated, malformed or of an unknown format version."""

    code = "invalid-bundle"


class CertificateError(InvalidInputError):
    """An X.509 certificate that is malformed, not issued by the expected CA, not valid at the
    time asked about, or not an office certificate."""

    code = "invalid-certificate"


# --- submissions -----------------------------------------------------------------------------


class ForeignRecordError(AuthorizationError):
    """An event for a record of another office than the one the credential acts for."""

    code = "foreign-record"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IdempotencyKeyReusedError(ConflictError):
    """An ``Idempotency-Key`` sent again with a different request body."""

    code = "idempotency-key-reused"

    def __init__(self, message: str, *, field: str | None = "Idempotency-Key") -> None:
        super().__init__(message)
        self.field = field


class MalformedBodyError(InvalidInputError):
    """A request body that is not JSON at all (syntax, encoding, duplicate keys)."""

    code = "malformed-json"


class UnsupportedMediaTypeError(InvalidInputError):
    """A request body in a media type the endpoint does not take."""

    code = "unsupported-media-type"


class PayloadTooLargeError(InvalidInputError):
    """A request body larger than the API accepts."""

    code = "payload-too-large"


# --- governance and attestations -------------------------------------------------------------


class UnauthorizedOfficeError(AuthorizationError):
    """A write for an office that may not write now: not a member, suspended or removed, or
    whose signer key was revoked (what the contracts answer with ``RegisterUnauthorizedOffice``
    and ``AttestationUnauthorizedOffice``)."""

    code = "unauthorized-office"


class UnknownSchemaError(InvalidInputError):
    """An attestation schema the consortium has not approved."""

    code = "unknown-schema"
