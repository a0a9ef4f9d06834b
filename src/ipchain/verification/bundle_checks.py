"""The checks behind :func:`ipchain.verification.bundle.verify_bundle`: every field of every entry of a proof
bundle against the chain, the order of the entries, and the record's head.

All reads for a group of bundles (same contracts) go to the node together (see
:class:`~ipchain.verification.reader.ChainReader`): code, heads, block hashes, logs and
signer authorisations in one round trip, plus one more only for entries not found where the
bundle says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from eth_hash.auto import keccak

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment
from ipchain.encoding import ZERO_HASH, entry_hash, event_code_bytes8, record_id
from ipchain.errors import ChainError, ChainMismatchError, IpchainError
from ipchain.verification.reader import (
    BlockHash,
    ChainReader,
    Code,
    RecordedEvent,
    RecordedLogs,
    Request,
    SignerStatus,
    code_problems,
    decode_entry_of,
    decode_head_of,
    entry_of_call,
    head_of_call,
    signer_verdict,
)
from ipchain.verification.records import (
    BundleReport,
    EventCheck,
    EventVerdict,
    canonical_problem,
    longest_increasing,
)

if TYPE_CHECKING:
    from ipchain.verification.bundle import Bundle, BundleEntry


class BundleVerifier:
    """Checks proof bundles against one chain node, reusing its connection and caches.

    ``require_head`` makes events anchored after a bundle was made a failure (by default they
    are reported as missing, for information). ``expected`` pins the consortium's contract
    addresses (from a node's deployment.json): a bundle naming others fails.
    """

    def __init__(
        self,
        backend: ChainBackend,
        *,
        require_head: bool = False,
        expected: Deployment | None = None,
    ) -> None:
        self.backend = backend
        self.require_head = require_head
        self.expected = expected
        self._readers: dict[tuple[str, str], ChainReader] = {}

    def close(self) -> None:
        """Close the verifier's HTTP sessions."""
        for reader in self._readers.values():
            reader.close()

    def verify(self, bundle: Bundle) -> BundleReport:
        """Check one bundle (see :func:`verify_bundle`)."""
        return self.verify_many([bundle])[0]

    def verify_many(self, bundles: Sequence[Bundle]) -> list[BundleReport]:
        """Check many bundles with one batch of reads per contract pair."""
        return self._finish(self._gather(bundles))

    def verify_stream(
        self, bundles: Iterable[Bundle], batch_size: int = 1000
    ) -> Iterator[BundleReport]:
        """Check any number of bundles ``batch_size`` at a time, yielding reports in order.

        Reading the next batch in a thread while checking the current one was measured slower
        here (the GIL: decoding the node's answers competes with the checks), so batches run
        one after the other.
        """
        for batch in _chunks(bundles, batch_size):
            yield from self.verify_many(batch)

    def _gather(self, bundles: Sequence[Bundle]) -> _Gathered:
        """Everything the chain says about these bundles (the reading half of a check)."""
        for bundle in bundles:
            if bundle.chain_id != self.backend.chain_id:
                raise ChainMismatchError(
                    f"the bundle is for chain id {bundle.chain_id}, "
                    f"the node is chain id {self.backend.chain_id}"
                )
        groups: dict[tuple[str, str], list[int]] = {}
        for index, bundle in enumerate(bundles):
            groups.setdefault((bundle.registry.address, bundle.ledger.address), []).append(index)
        gathered = []
        for (registry, ledger), indexes in groups.items():
            reader = self._readers.get((registry, ledger))
            if reader is None:
                reader = self._readers[(registry, ledger)] = ChainReader(
                    self.backend, registry, ledger
                )
            group = [bundles[index] for index in indexes]
            chain, heads = _read_group(reader, group)
            gathered.append((indexes, reader, group, chain, heads))
        return len(bundles), gathered

    def _finish(self, gathered: _Gathered) -> list[BundleReport]:
        """The checking half: compare the bundles with what was read."""
        count, groups = gathered
        reports: list[BundleReport | None] = [None] * count
        for indexes, reader, group, chain, heads in groups:
            for index, bundle, head in zip(indexes, group, heads, strict=True):
                reports[index] = self._evaluate(bundle, head, chain, reader)
        return [report for report in reports if report is not None]

    def _evaluate(
        self, bundle: Bundle, head_answer: Any, chain: _ChainView, reader: ChainReader
    ) -> BundleReport:
        problems = self._bundle_problems(bundle, chain)
        warnings: list[str] = []
        identifier = record_id(bundle.record_key)
        checks: list[EventCheck] = []
        true_seqs: list[tuple[int, int]] = []  # (index in checks, anchored seq)
        for position, entry in enumerate(bundle.entries, start=1):
            check, anchored_seq, warning = _check_entry(entry, position, identifier, chain)
            if warning and warning not in warnings:
                warnings.append(warning)
            if anchored_seq is not None:
                true_seqs.append((len(checks), anchored_seq))
            checks.append(check)
        _check_order(checks, true_seqs)

        anchored = {seq: checks[index].entry_hash for index, seq in true_seqs}
        last = max(anchored, default=0)
        links = {entry.seq - 1: entry.prev_entry_hash for entry in bundle.entries}
        for seq in range(1, last):
            if seq not in anchored:
                checks.append(
                    _missing(seq, links.get(seq), "anchored on chain, absent from the bundle")
                )
        head_seq = 0  # unknown when the contracts are not genuine: nothing they say counts
        if not chain.contract_problems:
            if isinstance(head_answer, ChainError):
                raise head_answer
            head_hash, head_seq = decode_head_of(head_answer)
            if head_seq < last or (head_seq == last and head_hash != anchored.get(last)):
                problems.append(f"the record's head on chain (event {head_seq}) contradicts it")
            for seq in range(last + 1, head_seq + 1):
                checks.append(
                    _missing(
                        seq,
                        head_hash if seq == head_seq else None,
                        "anchored after the bundle was made",
                        failed=self.require_head,
                    )
                )
        if chain.contract_problems:
            checks = [_unproven(check, chain.contract_problems[0]) for check in checks]
        checks.sort(key=lambda check: (check.seq or 0, check.position or 0))
        return BundleReport(
            record_key=bundle.record_key,
            chain_id=bundle.chain_id,
            registry_address=reader.registry_address,
            ledger_address=reader.ledger_address,
            checks=tuple(checks),
            ok=not problems and not any(check.failed for check in checks),
            bundle_seq=len(bundle.entries),
            head_seq=head_seq,
            problems=tuple(problems),
            warnings=tuple(warnings),
        )

    def _bundle_problems(self, bundle: Bundle, chain: _ChainView) -> list[str]:
        problems = list(chain.contract_problems)
        for name, contract, code in (
            ("OfficeRegistry", bundle.registry, chain.registry_code),
            ("RegisterLedger", bundle.ledger, chain.ledger_code),
        ):
            if code and _code_hash(code) != contract.code_hash:
                problems.append(f"{name} code hash in the bundle differs from the code on chain")
            if self.expected is not None and self.expected.addresses.get(name) != contract.address:
                problems.append(
                    f"the bundle's {name} {contract.address} is not the consortium's "
                    f"({self.expected.addresses.get(name)})"
                )
        if bundle.record_id != record_id(bundle.record_key):
            problems.append("record_id is not keccak256 of record_key")
        last = bundle.entries[-1]
        if bundle.head_seq != last.seq or bundle.head_entry_hash != last.entry_hash:
            problems.append("the bundle's head is not its last entry")
        return problems


@lru_cache(maxsize=8)
def _code_hash(code: bytes) -> bytes:
    return keccak(code)


@dataclass(slots=True)
class _ChainView:
    """What the chain says about a group of bundles."""

    registry_code: bytes
    ledger_code: bytes
    contract_problems: list[str]
    block_hashes: dict[int, Any]  # bytes or ChainError
    logs: dict[int, Any]  # {entry hash: RecordedEvent} or ChainError
    signers: dict[tuple[bytes, int], SignerStatus]
    located: dict[bytes, Any]  # entryOf answers (bytes or ChainError) for entries not found


_Gathered = tuple[int, list[tuple[list[int], ChainReader, list["Bundle"], _ChainView, list[Any]]]]
"""What :meth:`BundleVerifier._gather` read: the number of bundles, and per contract pair the
bundles' positions, reader, bundles, chain view and head answers."""


def _chunks(items: Iterable[Bundle], size: int) -> Iterator[list[Bundle]]:
    chunk: list[Bundle] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _read_group(reader: ChainReader, bundles: Sequence[Bundle]) -> tuple[_ChainView, list[Any]]:
    """One round trip for code, heads, block hashes, logs and signers of bundles on the same
    contracts, and one more for entries not found where their bundle says."""
    record_ids: dict[int, set[bytes]] = {}
    signers: set[tuple[bytes, int]] = set()
    for bundle in bundles:
        identifier = record_id(bundle.record_key)
        for entry in bundle.entries:
            record_ids.setdefault(entry.block_number, set()).add(identifier)
            signers.add((bytes.fromhex(entry.signer[2:]), entry.block_number))
    blocks = sorted(record_ids)
    requests: list[Request] = [Code(reader.registry_address), Code(reader.ledger_address)]
    requests += [head_of_call(reader.ledger_address, record_id(b.record_key)) for b in bundles]
    requests += [BlockHash(number) for number in blocks]
    requests += [RecordedLogs(number, tuple(sorted(record_ids[number]))) for number in blocks]
    answers, status = reader.fetch_with_signers(requests, signers)
    registry_code, ledger_code = answers[0], answers[1]
    for code in (registry_code, ledger_code):
        if isinstance(code, ChainError):
            raise code
    heads = answers[2 : 2 + len(bundles)]
    block_answers = answers[2 + len(bundles) :]
    chain = _ChainView(
        registry_code=registry_code,
        ledger_code=ledger_code,
        contract_problems=code_problems(
            reader.registry_address, registry_code, reader.ledger_address, ledger_code
        ),
        block_hashes=dict(zip(blocks, block_answers[: len(blocks)], strict=True)),
        logs={
            number: answer
            if isinstance(answer, ChainError)
            else {event.entry_hash: event for event in answer}
            for number, answer in zip(blocks, block_answers[len(blocks) :], strict=True)
        },
        signers=status,
        located={},
    )
    # Entries not found where the bundle says: ask the ledger where (if anywhere) they are.
    lost = sorted(
        {
            entry.entry_hash
            for bundle in bundles
            for entry in bundle.entries
            if _log_of(chain, entry) is None
        }
    )
    if lost and not chain.contract_problems:
        found = reader.fetch([entry_of_call(reader.ledger_address, h) for h in lost])
        chain.located.update(zip(lost, found, strict=True))
    return chain, heads


def _log_of(chain: _ChainView, entry: BundleEntry) -> RecordedEvent | None:
    logs = chain.logs.get(entry.block_number)
    if logs is None or isinstance(logs, ChainError):
        return None
    found: RecordedEvent | None = logs.get(entry.entry_hash)
    return found


def _check_entry(
    entry: BundleEntry, position: int, identifier: bytes, chain: _ChainView
) -> tuple[EventCheck, int | None, str | None]:
    """One entry against the chain: (check, its anchored seq when found, a warning)."""
    issues: list[str] = []
    notes: list[str] = []
    if entry.document is not None:
        if hashlib.sha256(entry.document).digest() != entry.document_hash:
            issues.append("document does not hash to document_hash")
        else:
            problem = canonical_problem(entry.document)
            if problem:
                issues.append(problem)
    try:
        recomputed = entry_hash(
            identifier,
            entry.seq,
            event_code_bytes8(entry.event_code),
            entry.document_hash,
            entry.prev_entry_hash,
            entry.office,
        )
    except IpchainError:
        recomputed = b""
    if recomputed != entry.entry_hash:
        issues.append("entry hash does not match the entry's fields")
    if entry.seq == 1 and entry.prev_entry_hash != ZERO_HASH:
        issues.append("the first event must link to the zero hash")

    block_hash = chain.block_hashes.get(entry.block_number)
    if isinstance(block_hash, ChainError):
        issues.append(f"block {entry.block_number}: {block_hash}")
    elif block_hash != entry.block_hash:
        issues.append(f"block_hash differs from block {entry.block_number}'s hash on chain")

    warning = None
    log = _log_of(chain, entry)
    if log is None:
        verdict, where = _locate(entry, chain)
        issues.insert(0, where)
    else:
        verdict = EventVerdict.TAMPERED
        issues += _differences(entry, log, block_hash)
        issue, warning = signer_verdict(
            chain.signers.get((log.signer, log.block_number)),
            log.office,
            log.signer,
            log.block_number,
        )
        if issue:
            issues.append(issue)
        if entry.document is None and log.document:
            issues.append("the document published on chain is missing from the bundle")
        elif entry.document is None:
            notes.append("the chain holds only this event's document hash")
        elif not log.document:
            notes.append("document supplied by the bundle; the chain holds its hash")
    if not issues:
        verdict = EventVerdict.VERIFIED
    check = EventCheck(
        seq=log.seq if log is not None else entry.seq,
        entry_hash=entry.entry_hash,
        verdict=verdict,
        detail="; ".join(issues or notes),
        event_code=entry.event_code,
        position=position,
        failed=bool(issues),
    )
    return check, (log.seq if log is not None else None), warning


def _locate(entry: BundleEntry, chain: _ChainView) -> tuple[EventVerdict, str]:
    """Why the entry's log is not in its block: anchored elsewhere (tampered) or nowhere."""
    answer = chain.located.get(entry.entry_hash)
    logs = chain.logs.get(entry.block_number)
    if isinstance(logs, ChainError):
        return EventVerdict.UNANCHORED, f"logs of block {entry.block_number} unreadable: {logs}"
    if answer is None or isinstance(answer, ChainError):
        return EventVerdict.UNANCHORED, f"entry not found in block {entry.block_number}"
    seq, block, _office = decode_entry_of(answer)  # a genuine ledger's answer: well formed
    if seq == 0:
        return EventVerdict.UNANCHORED, "no entry with this entry hash is anchored"
    if block == entry.block_number:
        return EventVerdict.TAMPERED, f"anchored as event {seq} of another record"
    return EventVerdict.TAMPERED, (
        f"anchored as event {seq} in block {block}, not in block {entry.block_number}"
    )


def _differences(entry: BundleEntry, log: RecordedEvent, block_hash: Any) -> list[str]:
    """Fields of the bundle entry that differ from its EventRecorded log (a block hash that
    differs from the block's is reported once, with the block)."""
    pairs = (
        ("seq", entry.seq, log.seq),
        ("event_code", entry.event_code, log.event_code_text),
        ("document_hash", entry.document_hash, log.document_hash),
        ("prev_entry_hash", entry.prev_entry_hash, log.prev_entry_hash),
        ("office", entry.office, log.office),
        ("signer", entry.signer.lower(), "0x" + log.signer.hex()),
        ("block_hash", entry.block_hash, log.block_hash),
        ("transaction_hash", entry.transaction_hash, log.transaction_hash),
        ("log_index", entry.log_index, log.log_index),
    )
    issues = [
        f"{name} differs from the chain"
        for name, ours, theirs in pairs
        if ours != theirs and not (name == "block_hash" and theirs == block_hash)
    ]
    if entry.document is not None and log.document and entry.document != log.document:
        issues.append("document differs from the one published on chain")
    return issues


def _check_order(checks: list[EventCheck], true_seqs: Sequence[tuple[int, int]]) -> None:
    """Mark anchored entries the bundle has out of order (or twice) as out_of_order."""
    in_order = longest_increasing([seq for _, seq in true_seqs])
    seen: set[int] = set()
    for rank, (index, seq) in enumerate(true_seqs):
        check = checks[index]
        if rank in in_order and seq not in seen:
            seen.add(seq)
            continue
        if check.failed:
            continue  # already failing for a stronger reason
        duplicated = sum(1 for _, other in true_seqs if other == seq) > 1
        checks[index] = EventCheck(
            seq=seq,
            entry_hash=check.entry_hash,
            verdict=EventVerdict.OUT_OF_ORDER,
            detail=(
                f"event {seq} appears more than once in the bundle"
                if duplicated
                else f"event {seq} is at position {check.position} of the bundle"
            ),
            event_code=check.event_code,
            position=check.position,
        )


def _missing(seq: int, known_hash: bytes | None, detail: str, *, failed: bool = True) -> EventCheck:
    return EventCheck(
        seq=seq, entry_hash=known_hash, verdict=EventVerdict.MISSING, detail=detail, failed=failed
    )


def _unproven(check: EventCheck, reason: str) -> EventCheck:
    if check.verdict is not EventVerdict.VERIFIED:
        return check
    return EventCheck(
        seq=check.seq,
        entry_hash=check.entry_hash,
        verdict=EventVerdict.UNANCHORED,
        detail=f"not proven: {reason}",
        event_code=check.event_code,
        position=check.position,
    )
