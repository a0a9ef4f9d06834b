"""Proof bundles: a record's anchored history in one self-contained JSON file, and its check.

A bundle holds everything an auditor needs besides a chain node: the documents exactly as
anchored, every entry's fields, where each was anchored (block number and hash, transaction,
log position) and which contracts anchored them.
:meth:`ipchain.verification.Verifier.verify_bundle` checks it against any chain node, never the
API or the database of an office. The format is specified field by field in
docs/proof-bundle.md; :data:`FORMAT_VERSION` changes whenever it changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from eth_utils import is_checksum_address, to_checksum_address

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.encoding import hash_to_hex, is_canonical, parse_json_strict, record_id
from ipchain.errors import (
    BundleFormatError,
    InvalidInputError,
    IpchainError,
    NotFoundError,
    VerificationError,
)
from ipchain.verification.compare import ClaimedEvent

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Bundle",
    "BundleContract",
    "BundleEntry",
    "bundle_from_history",
    "bundle_to_json",
    "canonical_problem",
    "claims_of",
    "dump_bundle",
    "load_bundle",
]

FORMAT: Final = "ipchain-proof-bundle"
"""Value of a bundle's ``format`` member."""

FORMAT_VERSION: Final = 1
"""The bundle format version this module writes and reads."""

_TOP_LEVEL = (
    "format",
    "format_version",
    "chain_id",
    "contracts",
    "record_key",
    "record_id",
    "head",
    "created_at",
    "entries",
)
_ENTRY_FIELDS = (
    "seq",
    "event_code",
    "document",
    "document_hash",
    "prev_entry_hash",
    "entry_hash",
    "office",
    "signer",
    "block_number",
    "block_hash",
    "transaction_hash",
    "log_index",
)
_CONTRACTS = ("OfficeRegistry", "RegisterLedger")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_OFFICE = re.compile(r"[A-Z]{2}")
_MAX_INTEGER = 2**53 - 1


# ------------------------------------------------------------------------------ the format


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One anchored event of the record, as the bundle states it."""

    seq: int
    """Position in the record's history, from 1."""
    event_code: str
    """Key event code (``A10``)."""
    document: bytes | None
    """The document bytes exactly as anchored (RFC 8785 JSON), or None when the bundle does
    not include it."""
    document_hash: bytes
    """SHA-256 of the document bytes."""
    prev_entry_hash: bytes
    """Entry hash of the previous event (zeros for the first)."""
    entry_hash: bytes
    """keccak256 over the entry fields (see docs/proof-bundle.md)."""
    office: str
    """ST.3 code of the office that anchored it."""
    signer: str
    """Checksummed signer account that sent the anchoring transaction."""
    block_number: int
    """Block the event was anchored in."""
    block_hash: bytes
    """Hash of that block."""
    transaction_hash: bytes
    """The anchoring transaction."""
    log_index: int
    """Position of the event's ``EventRecorded`` log in its block."""


@dataclass(frozen=True, slots=True)
class BundleContract:
    """A contract the bundle's entries depend on."""

    address: str
    """Checksummed address."""
    code_hash: bytes
    """keccak256 of its runtime code when the bundle was made."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """A proof bundle, read strictly by :func:`load_bundle`."""

    format_version: int
    """Always :data:`FORMAT_VERSION`."""
    chain_id: int
    """EIP-155 id of the chain the record is anchored on."""
    registry: BundleContract
    """The consortium's OfficeRegistry."""
    ledger: BundleContract
    """The RegisterLedger that anchored the entries."""
    record_key: str
    """The record, ``{office}/{TM|DS}/{number}``."""
    record_id: bytes
    """keccak256 of the record key."""
    entries: tuple[BundleEntry, ...]
    """The record's events, oldest first."""
    head_seq: int
    """Number of events the record had when the bundle was made."""
    head_entry_hash: bytes
    """The record's head entry hash when the bundle was made."""
    created_at: str
    """When the bundle was made (RFC 3339, UTC); informational, nothing proves it."""


def _hex(value: bytes) -> str:
    return hash_to_hex(value)


def bundle_to_json(bundle: Bundle) -> dict[str, Any]:
    """The JSON form of a bundle (the inverse of :func:`load_bundle`)."""
    return {
        "format": FORMAT,
        "format_version": bundle.format_version,
        "chain_id": bundle.chain_id,
        "contracts": {
            name: {"address": contract.address, "code_hash": _hex(contract.code_hash)}
            for name, contract in (
                ("OfficeRegistry", bundle.registry),
                ("RegisterLedger", bundle.ledger),
            )
        },
        "record_key": bundle.record_key,
        "record_id": _hex(bundle.record_id),
        "head": {"seq": bundle.head_seq, "entry_hash": _hex(bundle.head_entry_hash)},
        "created_at": bundle.created_at,
        "entries": [
            {
                "seq": entry.seq,
                "event_code": entry.event_code,
                "document": None if entry.document is None else entry.document.decode("utf-8"),
                "document_hash": _hex(entry.document_hash),
                "prev_entry_hash": _hex(entry.prev_entry_hash),
                "entry_hash": _hex(entry.entry_hash),
                "office": entry.office,
                "signer": entry.signer,
                "block_number": entry.block_number,
                "block_hash": _hex(entry.block_hash),
                "transaction_hash": _hex(entry.transaction_hash),
                "log_index": entry.log_index,
            }
            for entry in bundle.entries
        ],
    }


def dump_bundle(bundle: Bundle | Mapping[str, Any]) -> bytes:
    """A bundle as the UTF-8 JSON file auditors receive."""
    data = bundle_to_json(bundle) if isinstance(bundle, Bundle) else bundle
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class _Reader:
    """Strict access to one JSON object of the bundle; errors name the field's path."""

    def __init__(self, value: object, path: str, fields: Sequence[str]) -> None:
        if not isinstance(value, dict):
            raise BundleFormatError(f"{path or 'bundle'}: expected a JSON object", field=path)
        missing = [name for name in fields if name not in value]
        extra = sorted(set(value) - set(fields))
        prefix = f"{path}." if path else ""
        if missing:
            raise BundleFormatError(
                f"bundle: missing field {prefix}{missing[0]}", field=prefix + missing[0]
            )
        if extra:
            raise BundleFormatError(
                f"bundle: unknown field {prefix}{extra[0]}", field=prefix + extra[0]
            )
        self.value: dict[str, Any] = value
        self.prefix = prefix

    def _fail(self, name: str, expected: str) -> BundleFormatError:
        shown = json.dumps(self.value[name], ensure_ascii=True)
        return BundleFormatError(
            f"bundle: {self.prefix}{name} must be {expected}, got {shown:.60}",
            field=self.prefix + name,
        )

    def integer(self, name: str, minimum: int = 0) -> int:
        value = self.value[name]
        if type(value) is not int or not minimum <= value <= _MAX_INTEGER:
            raise self._fail(name, f"an integer from {minimum} to 2^53-1")
        return value

    def text(self, name: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self.value[name]
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            raise self._fail(name, what or "a string")
        return value

    def hash(self, name: str) -> bytes:
        return bytes.fromhex(self.text(name, _HASH, "0x + 64 lower-case hex digits")[2:])

    def address(self, name: str) -> str:
        value = self.text(name, _ADDRESS, "an address (0x + 40 hex digits)")
        checksummed = _checksummed(value)
        if checksummed is None:
            raise self._fail(name, "an address with a valid EIP-55 checksum")
        return checksummed


@lru_cache(maxsize=4096)
def _checksummed(address: str) -> str | None:
    """The EIP-55 form of an address, or None when its mixed case is not a valid checksum.
    Cached: a bundle names the same few signers again and again, and each check is a keccak."""
    if address != address.lower() and not is_checksum_address(address):
        return None
    return to_checksum_address(address)


def load_bundle(data: bytes | str) -> Bundle:
    """Read a bundle file strictly: malformed JSON, missing or unknown fields, wrong types and
    unknown format versions raise :class:`BundleFormatError` naming the field."""
    try:
        value = parse_json_strict(data)
    except InvalidInputError as error:
        raise BundleFormatError(f"bundle is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise BundleFormatError("bundle: expected a JSON object")
    if value.get("format") != FORMAT:
        raise BundleFormatError(
            f"not an {FORMAT} file (format is {value.get('format')!r:.40})", field="format"
        )
    version = value.get("format_version")
    if version != FORMAT_VERSION or type(version) is not int:
        raise BundleFormatError(
            f"bundle format_version {json.dumps(version):.20} is not supported "
            f"(this verifier reads version {FORMAT_VERSION})",
            field="format_version",
        )
    top = _Reader(value, "", _TOP_LEVEL)
    contracts = _Reader(top.value["contracts"], "contracts", _CONTRACTS)
    registry, ledger = (
        _contract(contracts.value[name], f"contracts.{name}") for name in _CONTRACTS
    )
    head = _Reader(top.value["head"], "head", ("seq", "entry_hash"))
    raw_entries = top.value["entries"]
    if not isinstance(raw_entries, list) or not raw_entries:
        raise BundleFormatError("bundle: entries must be a non-empty list", field="entries")
    return Bundle(
        format_version=FORMAT_VERSION,
        chain_id=top.integer("chain_id", 1),
        registry=registry,
        ledger=ledger,
        record_key=top.text("record_key", re.compile(r"[\x21-\x7e]{7,64}"), "a record key"),
        record_id=top.hash("record_id"),
        entries=tuple(_entry(raw, f"entries[{index}]") for index, raw in enumerate(raw_entries)),
        head_seq=head.integer("seq", 1),
        head_entry_hash=head.hash("entry_hash"),
        created_at=_timestamp(top),
    )


def _contract(value: object, path: str) -> BundleContract:
    reader = _Reader(value, path, ("address", "code_hash"))
    return BundleContract(address=reader.address("address"), code_hash=reader.hash("code_hash"))


def _entry(value: object, path: str) -> BundleEntry:
    reader = _Reader(value, path, _ENTRY_FIELDS)
    event_code = reader.text("event_code", re.compile(r"[\x21-\x7e]{1,8}"), "1-8 ASCII characters")
    document = reader.value["document"]
    if document is not None and not isinstance(document, str):
        raise reader._fail("document", "a string (the anchored JSON text) or null")
    try:
        document_bytes = None if document is None else document.encode("utf-8")
    except UnicodeEncodeError:
        raise reader._fail("document", "Unicode text") from None
    return BundleEntry(
        seq=reader.integer("seq", 1),
        event_code=event_code,
        document=document_bytes,
        document_hash=reader.hash("document_hash"),
        prev_entry_hash=reader.hash("prev_entry_hash"),
        entry_hash=reader.hash("entry_hash"),
        office=reader.text("office", _OFFICE, "an ST.3 office code (two capital letters)"),
        signer=reader.address("signer"),
        block_number=reader.integer("block_number"),
        block_hash=reader.hash("block_hash"),
        transaction_hash=reader.hash("transaction_hash"),
        log_index=reader.integer("log_index"),
    )


def _timestamp(top: _Reader) -> str:
    text = top.text("created_at")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise top._fail("created_at", "an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise top._fail("created_at", "an RFC 3339 time with its offset")
    return text


# ------------------------------------------------------------------------------ building


def bundle_from_history(
    chain_id: int,
    contracts: tuple[BundleContract, BundleContract],
    record_key: str,
    history: Sequence[AnchoredEvent],
    documents: Mapping[bytes, bytes],
) -> Bundle:
    """The proof bundle of a record's anchored history (oldest first), with its contracts
    (OfficeRegistry, RegisterLedger). ``documents`` (document hash → canonical bytes) supplies
    documents anchored by hash alone; a bundle lacking one proves only its hash."""
    if not history:
        raise NotFoundError(f"{record_key} has no anchored event")
    return Bundle(
        format_version=FORMAT_VERSION,
        chain_id=chain_id,
        registry=contracts[0],
        ledger=contracts[1],
        record_key=record_key,
        record_id=record_id(record_key),
        entries=tuple(_bundle_entry(event, documents) for event in history),
        head_seq=history[-1].seq,
        head_entry_hash=history[-1].entry_hash,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _bundle_entry(event: AnchoredEvent, documents: Mapping[bytes, bytes]) -> BundleEntry:
    document = event.document or documents.get(event.document_hash)
    if document is not None:
        try:
            document.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError(f"the document of event {event.seq} is not UTF-8") from None
    return BundleEntry(
        seq=event.seq,
        event_code=event.event_code,
        document=document,
        document_hash=event.document_hash,
        prev_entry_hash=event.prev_entry_hash,
        entry_hash=event.entry_hash,
        office=event.office,
        signer=event.signer,
        block_number=event.block_number,
        block_hash=event.block_hash,
        transaction_hash=event.transaction_hash,
        log_index=event.log_index,
    )


def claims_of(bundle: Bundle) -> list[ClaimedEvent]:
    """What a bundle claims of each event, for :func:`~ipchain.verification.compare.compare`."""
    return [
        ClaimedEvent(
            record_key=bundle.record_key,
            position=position,
            document=entry.document,
            document_hash=entry.document_hash,
            seq=entry.seq,
            entry_hash=entry.entry_hash,
            prev_entry_hash=entry.prev_entry_hash,
            event_code=entry.event_code,
            office=entry.office,
            signer=entry.signer,
            block_number=entry.block_number,
            block_hash=entry.block_hash,
            transaction_hash=entry.transaction_hash,
            log_index=entry.log_index,
        )
        for position, entry in enumerate(bundle.entries, start=1)
    ]


def canonical_problem(document: bytes) -> str | None:
    """Why ``document`` is not RFC 8785 canonical JSON (None when it is): a bundle carries
    documents exactly as anchored, and ipchain anchors only canonical bytes."""
    if is_canonical(document):
        return None
    try:
        parse_json_strict(document)
    except IpchainError as error:
        return f"document is not valid JSON ({error})"
    return "document is not in RFC 8785 canonical form"
