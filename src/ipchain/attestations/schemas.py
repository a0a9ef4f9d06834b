"""Attestation schemas: claim field types, subjects, the standard ipchain schemas, and their
approval by vote.

A schema is a small JSON definition; its on-chain form is the RFC 8785 canonical text and its
uid the keccak256 of that text. A claim is checked against its schema and normalised before
it is hashed (SHA-256 over RFC 8785, by :mod:`ipchain.encoding`), so equal claims always hash
equal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from eth_utils import is_address, to_checksum_address

from ipchain.contracts.office_registry import Governance
from ipchain.encoding import (
    JsonValue,
    canonical_bytes,
    document_hash,
    keccak,
    office_code_bytes2,
    parse_json_strict,
)
from ipchain.errors import InvalidInputError
from ipchain.keys import OfficeKey

_OFFICE_CODE = re.compile(r"[A-Z]{2}")
_SHA256_HEX = re.compile(r"0x[0-9a-f]{64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_STRING = 1_000
_SUBJECT_KINDS = ("office", "party", "account")


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
