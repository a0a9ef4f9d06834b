"""Anchoring register events on RegisterLedger and reading a record's entries back from the chain.

This is the chain half of submission: given events an office has already validated and hashed,
it links each to its record's head, packs many entries per transaction, signs with explicit
gas, pipelines the transactions, and returns what the chain recorded. The durable outbox and
cross-request batching of the API build on :meth:`Ledger.anchor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ipchain.chain.base import ChainBackend, Receipt
from ipchain.contracts.bindings import (
    ContractInterface,
    Deployment,
    call_function,
    explain_failure,
    load_interface,
    sign_transaction,
)
from ipchain.contracts.register_ledger import (
    EVENT_RECORDED_TOPIC,
    AnchoredEvent,
    decode_event_recorded,
    encode_record_events,
)
from ipchain.encoding import ZERO_HASH, entry_hash, event_code_bytes8, keccak, record_id
from ipchain.errors import ChainError, ContractRevertError, InvalidInputError, VerificationError
from ipchain.keys import OfficeKey

# Gas per transaction: a fixed part plus a per-entry part measured on first entries of new
# records (two fresh storage slots, one log with the record key), with headroom. Explicit gas
# avoids an estimation round trip per transaction (DESIGN §8). Measured (docs/benchmarks.md,
# "Besu: gas per entry"): ~72,000 gas per entry with a 700-byte document, ~40 gas per document
# byte for 64 KiB documents (the EIP-7623 calldata floor), so these limits stay above it.
_GAS_PER_TRANSACTION = 60_000
_GAS_PER_ENTRY = 75_000
_GAS_PER_DOCUMENT_BYTE = 40  # calldata (16) + log data (8) + copies and hashing, rounded up

MAX_TRANSACTION_GAS = 16_777_216
"""Highest gas limit a batch is signed with: 2**24, the per-transaction cap of EIP-7825 (Osaka).
Every chain gets batches within it, so the fork needs no change here."""

DEFAULT_BATCH_SIZE = 150
"""Entries per transaction: large enough to amortise signing and block overhead, small enough
that a batch of 700-byte documents (gas limit 15.6 M, ~10.8 M used) stays under
:data:`MAX_TRANSACTION_GAS`. Batches of larger documents are split further by gas."""


@dataclass(frozen=True, slots=True)
class EventToAnchor:
    """One register event ready to anchor: validated and hashed by the caller."""

    record_key: str
    """Normalised record key, ``{office}/{TM|DS}/{number}``."""
    event_code: str
    """ST.61/ST.87 key event code, e.g. ``A10``."""
    document_hash: bytes
    """SHA-256 of the event document's RFC 8785 bytes."""
    document: bytes = b""
    """The canonical document bytes, published with the entry; empty anchors the hash alone."""


def _entry_gas(entry: tuple[str, bytes, bytes, bytes, bytes]) -> int:
    return _GAS_PER_ENTRY + _GAS_PER_DOCUMENT_BYTE * (len(entry[4]) + len(entry[0]))


def _transaction_gas(entries: Sequence[tuple[str, bytes, bytes, bytes, bytes]]) -> int:
    return _GAS_PER_TRANSACTION + sum(_entry_gas(entry) for entry in entries)


def _batches(
    entries: Sequence[tuple[str, bytes, bytes, bytes, bytes]], batch_size: int
) -> list[range]:
    """Consecutive index ranges of at most ``batch_size`` entries whose transaction gas stays
    within :data:`MAX_TRANSACTION_GAS`; an entry that cannot fit even alone is refused."""
    if batch_size < 1:
        raise InvalidInputError("batch_size must be at least 1", field="batch_size")
    batches: list[range] = []
    start, gas = 0, _GAS_PER_TRANSACTION
    for index, entry in enumerate(entries):
        needed = _entry_gas(entry)
        if _GAS_PER_TRANSACTION + needed > MAX_TRANSACTION_GAS:
            raise InvalidInputError(
                f"entry {index} ({entry[0]}) alone needs {_GAS_PER_TRANSACTION + needed:,} gas, "
                f"over the {MAX_TRANSACTION_GAS:,} per-transaction cap",
                field="document",
            )
        if index > start and (index - start >= batch_size or gas + needed > MAX_TRANSACTION_GAS):
            batches.append(range(start, index))
            start, gas = index, _GAS_PER_TRANSACTION
        gas += needed
    if start < len(entries):
        batches.append(range(start, len(entries)))
    return batches


class Ledger:
    """RegisterLedger and OfficeRegistry on one chain."""

    def __init__(self, backend: ChainBackend, deployment: Deployment) -> None:
        self.backend = backend
        self.deployment = deployment
        self.registry: ContractInterface = load_interface("OfficeRegistry")
        self.ledger: ContractInterface = load_interface("RegisterLedger")
        self.registry_address = deployment.address("OfficeRegistry")
        self.ledger_address = deployment.address("RegisterLedger")
        self._recorded_topic = EVENT_RECORDED_TOPIC
        self._record_events_selector = self.ledger.encode_call("recordEvents", [])[:4]

    # ----------------------------------------------------------------------- reads

    def office_of(self, signer: str) -> tuple[str | None, bool]:
        """The office a signer key belongs to (None if none) and whether it may write now."""
        code, active = call_function(
            self.backend, self.registry, self.registry_address, "officeOf", signer
        )
        return (code.decode("ascii") if code != b"\0\0" else None), bool(active)

    def head_of(self, record_key: str) -> tuple[bytes, int]:
        """A record's head entry hash and sequence number (zeros for an empty record)."""
        head, seq = call_function(
            self.backend, self.ledger, self.ledger_address, "headOf", record_id(record_key)
        )
        return bytes(head), int(seq)

    def record_entries(self, record_key: str) -> list[AnchoredEvent]:
        """A record's whole history, read from the chain itself, oldest first.

        Walks the hash chain back from the head: each entry's block comes from the contract's
        ``entryOf``, its log from that one block. The cost is one call and one single-block log
        query per event, whatever the chain's length (DESIGN §8: no whole-chain log scans).
        """
        head, _ = self.head_of(record_key)
        identifier = record_id(record_key)
        entries: list[AnchoredEvent] = []
        cursor = head
        while cursor != ZERO_HASH:
            entry = self.entry_by_hash(cursor, identifier)
            entries.append(entry)
            cursor = entry.prev_entry_hash
        entries.reverse()
        return entries

    def entry_by_hash(self, anchored_hash: bytes, identifier: bytes | None = None) -> AnchoredEvent:
        """The anchored entry with this entry hash, read from its block's log."""
        ((seq, block_number, _office),) = call_function(
            self.backend, self.ledger, self.ledger_address, "entryOf", anchored_hash
        )
        if int(seq) == 0:
            raise VerificationError(f"entry 0x{anchored_hash.hex()} is not anchored")
        topics: list[bytes | None] = [self._recorded_topic]
        if identifier is not None:
            topics.append(identifier)
        for log in self.backend.get_logs(
            address=self.ledger_address,
            from_block=int(block_number),
            to_block=int(block_number),
            topics=topics,
        ):
            event = decode_event_recorded(log)
            if event.entry_hash == anchored_hash:
                return event
        raise ChainError(f"log of entry 0x{anchored_hash.hex()} missing in block {block_number}")

    # ----------------------------------------------------------------------- writes

    def anchor(
        self,
        key: OfficeKey,
        events: Sequence[EventToAnchor],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 300.0,
        known_heads: Mapping[str, tuple[bytes, int]] | None = None,
    ) -> list[AnchoredEvent]:
        """Anchor events in order, at most ``batch_size`` entries per transaction (fewer when
        their gas would pass :data:`MAX_TRANSACTION_GAS`).

        Events of one record are linked in the order given, starting from the record's head on
        chain. All transactions are signed with consecutive nonces and sent together; the result
        lists the anchored entries in input order. If a transaction reverts, the decoded custom
        error is raised (entries of earlier transactions stay anchored: the caller learns which
        from the chain, e.g. with :meth:`head_of`).

        ``known_heads`` maps record keys to their (head entry hash, seq) when the caller already
        knows them (e.g. from its index), sparing one chain call per record; the contract still
        enforces them, so a wrong one only makes the transaction revert.
        """
        if not events:
            return []
        if batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1", field="batch_size")
        office, active = self.office_of(key.address)
        if office is None or not active:
            # The contract would refuse the first transaction with exactly this error; saying
            # so before signing anything keeps the nonce sequence clean.
            raise ContractRevertError(
                f"RegisterUnauthorizedOffice({key.address})",
                error_name="RegisterUnauthorizedOffice",
                args=(key.address,),
            )
        entries = self._link(events, office, known_heads or {})
        batches = _batches([entry for entry, _ in entries], batch_size)
        transactions: list[tuple[bytes, bytes]] = []  # (calldata, raw)
        nonce = self.backend.get_nonce(key.address)
        for batch in batches:
            chunk = entries[batch.start : batch.stop]
            calldata = encode_record_events(self._record_events_selector, [e for e, _ in chunk])
            raw = sign_transaction(
                key,
                chain_id=self.backend.chain_id,
                nonce=nonce,
                to=self.ledger_address,
                data=calldata,
                gas=_transaction_gas([entry for entry, _ in chunk]),
            )
            transactions.append((calldata, raw))
            nonce += 1
        hashes = self.backend.send_raw_transactions([raw for _, raw in transactions])
        receipts = self.backend.wait_for_receipts(hashes, timeout=timeout)
        for (calldata, _), receipt in zip(transactions, receipts, strict=True):
            if receipt.status != 1:
                raise explain_failure(
                    self.backend,
                    receipt,
                    [self.ledger, self.registry],
                    to=self.ledger_address,
                    data=calldata,
                    sender=key.address,
                )
        anchored = self._entries_from_receipts(receipts)
        expected = [expected_hash for _, expected_hash in entries]
        if [entry.entry_hash for entry in anchored] != expected:
            raise ChainError("the chain recorded other entries than were sent")
        return anchored

    def _link(
        self,
        events: Sequence[EventToAnchor],
        office_code: str,
        known_heads: Mapping[str, tuple[bytes, int]],
    ) -> list[tuple[tuple[str, bytes, bytes, bytes, bytes], bytes]]:
        """Contract entries with their expected entry hashes, each linked to its record's
        previous entry (on chain, or earlier in this list)."""
        return [
            (linked.contract_entry(), linked.entry_hash)
            for linked in self.link(events, office_code, known_heads)
        ]

    def _entries_from_receipts(self, receipts: Sequence[Receipt]) -> list[AnchoredEvent]:
        return [
            decode_event_recorded(log)
            for receipt in receipts
            for log in receipt.logs
            if log.address == self.ledger_address and log.topics[0] == self._recorded_topic
        ]

    # ----------------------------------------------------------------------- staged writes
    # The steps of :meth:`anchor` one by one, for a caller that must record what it is about to
    # send before sending it (the submitter's outbox) and handle each transaction's outcome.

    def link(
        self,
        events: Sequence[EventToAnchor],
        office_code: str,
        known_heads: Mapping[str, tuple[bytes, int]] | None = None,
    ) -> list[LinkedEntry]:
        """Link each event to its record's previous entry: the head in ``known_heads``, else
        the head on chain, or an event earlier in ``events``. Computes the entry hashes the
        contract will, so they can be stored before anything is sent."""
        heads: dict[str, tuple[bytes, int]] = dict(known_heads or {})
        linked = []
        for event in events:
            if event.record_key not in heads:
                heads[event.record_key] = self.head_of(event.record_key)
            previous, seq = heads[event.record_key]
            expected = entry_hash(
                record_id(event.record_key),
                seq + 1,
                event_code_bytes8(event.event_code),
                event.document_hash,
                previous,
                office_code,
            )
            heads[event.record_key] = (expected, seq + 1)
            linked.append(
                LinkedEntry(event=event, seq=seq + 1, prev_entry_hash=previous, entry_hash=expected)
            )
        return linked

    def sign_batches(
        self,
        key: OfficeKey,
        linked: Sequence[LinkedEntry],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        nonce: int | None = None,
    ) -> list[SignedBatch]:
        """``recordEvents`` transactions of at most ``batch_size`` entries each (fewer when their
        gas would pass :data:`MAX_TRANSACTION_GAS`), signed with consecutive nonces (from the
        account's next nonce unless given), not sent."""
        every_entry = [entry.contract_entry() for entry in linked]
        ranges = _batches(every_entry, batch_size)
        next_nonce = self.backend.get_nonce(key.address) if nonce is None else nonce
        batches = []
        for batch in ranges:
            chunk = tuple(linked[batch.start : batch.stop])
            contract_entries = every_entry[batch.start : batch.stop]
            calldata = encode_record_events(self._record_events_selector, contract_entries)
            raw = sign_transaction(
                key,
                chain_id=self.backend.chain_id,
                nonce=next_nonce,
                to=self.ledger_address,
                data=calldata,
                gas=_transaction_gas(contract_entries),
            )
            batches.append(
                SignedBatch(
                    entries=chunk,
                    calldata=calldata,
                    raw_transaction=raw,
                    transaction_hash=keccak(raw),  # EIP-2718: hash of the envelope
                    sender=key.address,
                )
            )
            next_nonce += 1
        return batches

    def batch_outcome(self, batch: SignedBatch, receipt: Receipt) -> list[AnchoredEvent]:
        """The entries a mined batch anchored, in order; raises the decoded
        :class:`~ipchain.errors.ContractRevertError` when it reverted."""
        if receipt.status != 1:
            raise self.explain_revert(batch, receipt)
        anchored = self._entries_from_receipts([receipt])
        if [entry.entry_hash for entry in anchored] != [e.entry_hash for e in batch.entries]:
            raise ChainError(
                f"transaction 0x{receipt.transaction_hash.hex()} recorded other entries than "
                "were sent"
            )
        return anchored

    def explain_revert(self, batch: SignedBatch, receipt: Receipt) -> ContractRevertError:
        """Why a mined batch reverted (the contract's custom error, decoded)."""
        return explain_failure(
            self.backend,
            receipt,
            [self.ledger, self.registry],
            to=self.ledger_address,
            data=batch.calldata,
            sender=batch.sender,
        )

    def entries_from_receipt(self, receipt: Receipt) -> list[AnchoredEvent]:
        """The register entries a mined transaction anchored (none when it reverted)."""
        return self._entries_from_receipts([receipt])


@dataclass(frozen=True, slots=True)
class LinkedEntry:
    """An event linked to its record's previous entry, with the entry hash the contract will
    compute for it: known before the transaction is sent."""

    event: EventToAnchor
    """The event."""
    seq: int
    """Position it will take in the record's history, from 1."""
    prev_entry_hash: bytes
    """Head it links to (zeros for a record's first event)."""
    entry_hash: bytes
    """Entry hash it will have once anchored."""

    def contract_entry(self) -> tuple[str, bytes, bytes, bytes, bytes]:
        """The ``RegisterLedger.Entry`` tuple."""
        event = self.event
        code = event_code_bytes8(event.event_code)
        return (event.record_key, code, event.document_hash, self.prev_entry_hash, event.document)


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """One signed ``recordEvents`` transaction, not yet sent."""

    entries: tuple[LinkedEntry, ...]
    """Its entries, in order."""
    calldata: bytes
    """ABI-encoded call."""
    raw_transaction: bytes
    """Signed transaction bytes to send."""
    transaction_hash: bytes
    """Hash the transaction will have on chain."""
    sender: str
    """Signer account."""
