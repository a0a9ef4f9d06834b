"""The :class:`Verifier`: is this data exactly what the office anchored, in that order, by an
office authorised at the time?

Nothing here trusts ipchain's API or an office's database. Everything is read from a chain node
(any JSON-RPC node, or the embedded chain) and checked against the committed contract
artifacts:

1. The contracts are genuine: the runtime code at the RegisterLedger address is the committed
   artifact with the OfficeRegistry address in its one immutable, and the code at the
   OfficeRegistry address is the committed artifact. A genuine RegisterLedger refuses entries
   from inactive offices and entries that do not extend their record's head, so an event found
   in its logs was written, in that position, by an office active at that block.
2. The claimed events are compared with the anchored ones (:func:`compare`), and each anchored
   event is checked on its own (entry hash recomputed, published document re-hashed).
3. The signer's authorisation is cross-checked with ``OfficeRegistry.officeOf(signer)`` on the
   state just before the block, where the node keeps historical state (a warning otherwise).

A node owns one :class:`Verifier` (its caches are the verifier's own); the CLI makes one per
run. docs/proof-bundle.md describes the algorithm for reimplementers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import ChainBackend, GetBlock
from ipchain.contracts.bindings import Deployment
from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.register import events, records
from ipchain.encoding import (
    JsonValue,
    canonical_bytes,
    canonical_bytes_from_json,
    keccak,
    parse_json_strict,
    record_id,
)
from ipchain.errors import (
    ChainError,
    ChainMismatchError,
    InvalidInputError,
    MalformedBodyError,
    NotFoundError,
)
from ipchain.register.catalog import RecordKey
from ipchain.verification.bundle import (
    FORMAT,
    Bundle,
    BundleContract,
    bundle_from_history,
    bundle_to_json,
    canonical_problem,
    claims_of,
    dump_bundle,
    load_bundle,
)
from ipchain.verification.compare import (
    ClaimedEvent,
    anchored_discrepancies,
    check_hash_chain,
    compare,
    with_discrepancies,
)
from ipchain.verification.findings import Discrepancy, DiscrepancyKind, Finding, Verdict
from ipchain.verification.links import LinkFinding, check_anchored_links
from ipchain.verification.reader import ChainReader
from ipchain.verification.stored import (
    STORED_COLUMNS,
    chain_rows,
    check_record_rows,
    expected_columns,
    stored_claim,
)

# ------------------------------------------------------------------------------ reports


@dataclass(frozen=True, slots=True)
class RecordVerification:
    """Data claimed to be a record's history, checked against the chain."""

    record_key: str
    """The record verified."""
    checks: tuple[Finding, ...]
    """One finding per anchored event, in order, then one per claimed event not on chain."""
    ok: bool
    """True only when every event is verified and there is no problem."""
    head_seq: int
    """Number of events anchored for the record now."""
    head_entry_hash: bytes
    """The record's latest entry hash on chain (zeros when it has none)."""
    problems: tuple[str, ...] = ()
    """Failures that are not about one event (contracts not genuine, chain unreadable)."""
    warnings: tuple[str, ...] = ()
    """Checks that could not be made (e.g. a node without historical state)."""


@dataclass(frozen=True, slots=True)
class DocumentVerification:
    """Whether one document is anchored, and where."""

    record_key: str
    """The record the document belongs to."""
    document_hash: bytes
    """SHA-256 of the document's RFC 8785 bytes."""
    verdict: Verdict
    """VERIFIED when an authorised entry of the record anchors it, else UNANCHORED or
    TAMPERED (anchored, but the entry does not check out)."""
    detail: str
    """Why, in one line."""
    seq: int | None = None
    """The anchoring entry's position in the record's history."""
    entry_hash: bytes | None = None
    """The anchoring entry."""
    office: str | None = None
    """Office that anchored it."""
    signer: str | None = None
    """Signer account of the anchoring transaction."""
    block_number: int | None = None
    """Block it was anchored in."""
    transaction_hash: bytes | None = None
    """Transaction that anchored it."""
    warnings: tuple[str, ...] = ()
    """Checks that could not be made."""


@dataclass(frozen=True, slots=True)
class BundleReport:
    """A proof bundle checked against a chain."""

    record_key: str
    """The bundle's record."""
    chain_id: int
    """Chain checked."""
    registry_address: str
    """The OfficeRegistry the entries were checked against (pinned by the verifier, or taken
    from the bundle: nothing in a v1 bundle proves it is the consortium's)."""
    ledger_address: str
    """The RegisterLedger the entries were checked against."""
    checks: tuple[Finding, ...]
    """One finding per event of the bundle, plus one per anchored event the bundle lacks."""
    ok: bool
    """True only when the bundle is proven: every check passed and there is no problem."""
    bundle_seq: int
    """Number of events in the bundle."""
    head_seq: int
    """Number of events anchored for the record now."""
    problems: tuple[str, ...] = ()
    """Failures that are not about one event (contracts, record id, head)."""
    warnings: tuple[str, ...] = ()
    """Checks that could not be made (e.g. no historical state on the node)."""

    @property
    def newer_events(self) -> int:
        """Events anchored after the bundle was made."""
        return max(self.head_seq - self.bundle_seq, 0)


@dataclass(frozen=True, slots=True)
class StoredRecordVerification:
    """A record's history as an office node stores it, checked against the chain."""

    record_key: str
    """The record."""
    ok: bool
    """True only when every stored event is exactly what is anchored, none is missing, and
    every anchored event checks out."""
    chain_id: int
    """Chain checked against."""
    head_seq: int
    """Events anchored for the record."""
    head_entry_hash: bytes
    """The record's head entry hash on chain (zeros when none is anchored)."""
    stored_events: int
    """Events the node stores for the record."""
    events: tuple[Finding, ...]
    """One finding per anchored event, in order, then one per stored event not on chain."""
    discrepancies: tuple[Discrepancy, ...]
    """Every difference found (also those about the record as a whole)."""
    problems: tuple[str, ...]
    """Failures of the contracts."""
    warnings: tuple[str, ...]
    """Checks that could not be made (e.g. a node without historical state)."""
    checked_at: str
    """When (RFC 3339, UTC)."""
    links: tuple[LinkFinding, ...] = ()
    """Each link the record's anchored events carry, judged against the chain as of its
    event (separate from ``ok``, which is about the stored data's integrity)."""


# ------------------------------------------------------------------------------ the verifier

_BLOCK_TIMES_KEPT = 65_536


class Verifier:
    """Checks register data against one chain node.

    ``deployment`` names the consortium's contracts: records, documents and stored histories
    are read from them, and bundles naming other contracts fail. Without it (an auditor with a
    bundle and nothing else), a bundle's own contract addresses are checked for genuine code.
    ``session_factory`` is the node's index database, for :meth:`verify_stored_record`.
    """

    def __init__(
        self,
        backend: ChainBackend,
        deployment: Deployment | None = None,
        *,
        session_factory: sessionmaker[Session] | None = None,
    ) -> None:
        self.backend = backend
        self.deployment = deployment
        self.session_factory = session_factory
        self._readers: dict[tuple[str, str], ChainReader] = {}
        self._block_times: dict[int, tuple[bytes, int]] = {}

    def reader(self, registry: str | None = None, ledger: str | None = None) -> ChainReader:
        """The reader of one pair of contracts (the deployment's by default), kept for the
        verifier's life with its caches."""
        if registry is None or ledger is None:
            deployment = self._deployment()
            registry = deployment.address("OfficeRegistry")
            ledger = deployment.address("RegisterLedger")
        reader = self._readers.get((registry, ledger))
        if reader is None:
            reader = self._readers[(registry, ledger)] = ChainReader(self.backend, registry, ledger)
        return reader

    def _deployment(self) -> Deployment:
        if self.deployment is None:
            raise InvalidInputError("no consortium deployment given: name its contracts")
        return self.deployment

    # ------------------------------------------------------------------ documents

    def verify_record(
        self, record_key: str, documents: Sequence[Mapping[str, Any] | bytes]
    ) -> RecordVerification:
        """Check documents claimed to be a record's history, in order, against the history
        anchored on chain. Raises :class:`InvalidInputError` for a document that is not JSON
        and :class:`ChainError` when the chain cannot be read."""
        claims = [
            ClaimedEvent(
                record_key=record_key,
                position=position,
                document=document,
                document_hash=hashlib.sha256(document).digest(),
            )
            for position, document in enumerate(map(_canonical, documents), start=1)
        ]
        reader = self.reader()
        problems = reader.contract_problems()
        history = reader.history(record_key)
        findings, warnings = self._judge(reader, compare(claims, history), history)
        return RecordVerification(
            record_key=record_key,
            checks=tuple(findings),
            ok=not problems and not any(finding.failed for finding in findings),
            head_seq=len(history),
            head_entry_hash=history[-1].entry_hash if history else bytes(32),
            problems=tuple(problems),
            warnings=tuple(warnings),
        )

    def verify_document(
        self, document: Mapping[str, Any] | bytes, *, record_key: str | None = None
    ) -> DocumentVerification:
        """Whether a register event document is anchored: re-hash it, then find the event of
        its record (``record_key``, or the document's own ``record_key`` member) anchoring it."""
        canonical = _canonical(document)
        if record_key is None:
            parsed = parse_json_strict(document) if isinstance(document, bytes) else document
            key = parsed.get("record_key") if isinstance(parsed, Mapping) else None
            if not isinstance(key, str):
                raise InvalidInputError(
                    "the document has no record_key member: give the record key",
                    field="record_key",
                )
            record_key = key
        digest = hashlib.sha256(canonical).digest()
        reader = self.reader()
        problems = reader.contract_problems()
        history = reader.history(record_key)
        anchoring = [event for event in history if event.document_hash == digest]
        if not anchoring:
            return DocumentVerification(
                record_key=record_key,
                document_hash=digest,
                verdict=Verdict.UNANCHORED,
                detail=f"no entry of {record_key} ({len(history)} anchored) anchors this document",
            )
        event = anchoring[0]
        signers, warnings = reader.signer_discrepancies([event])
        issues = problems + [
            item.detail
            for item in (*anchored_discrepancies(event), *signers.get(event.entry_hash, ()))
        ]
        return DocumentVerification(
            record_key=record_key,
            document_hash=digest,
            verdict=Verdict.TAMPERED if issues else Verdict.VERIFIED,
            detail="; ".join(issues) or f"anchored as event {event.seq} of {record_key}",
            seq=event.seq,
            entry_hash=event.entry_hash,
            office=event.office,
            signer=event.signer,
            block_number=event.block_number,
            transaction_hash=event.transaction_hash,
            warnings=tuple(warnings),
        )

    # ------------------------------------------------------------------ bundles

    def build_bundle(
        self, record_key: str, *, documents: Mapping[bytes, bytes] | None = None
    ) -> Bundle:
        """The proof bundle of a record's whole history as anchored now, from the chain alone;
        :class:`NotFoundError` for a record with no anchored event."""
        reader = self.reader()
        history = reader.history(record_key)
        registry_code, ledger_code = reader.codes()
        contracts = (
            BundleContract(reader.registry_address, keccak(registry_code)),
            BundleContract(reader.ledger_address, keccak(ledger_code)),
        )
        return bundle_from_history(
            self.backend.chain_id, contracts, record_key, history, documents or {}
        )

    def proof_bundle(self, record_key: str) -> tuple[str, bytes]:
        """The normalised record key and the proof bundle file of its anchored history."""
        key = normalised_key(record_key)
        return key, dump_bundle(self.build_bundle(key))

    def verify_bundle(self, bundle: Bundle, *, require_head: bool = False) -> BundleReport:
        """Check a proof bundle against the chain, trusting nothing but the node.

        ``require_head`` makes events anchored after the bundle was made a failure (by default
        they are reported missing, for information). Raises :class:`ChainMismatchError` when
        the node is another chain than the bundle's and :class:`ChainError` when it cannot be
        read; every other discrepancy is in the report (``ok`` False).
        """
        return self.verify_bundles([bundle], require_head=require_head)[0]

    def verify_bundles(
        self, bundles: Sequence[Bundle], *, require_head: bool = False
    ) -> list[BundleReport]:
        """Check many bundles, reading each group of them (same contracts) in a few batches."""
        for bundle in bundles:
            if bundle.chain_id != self.backend.chain_id:
                raise ChainMismatchError(
                    f"the bundle is for chain id {bundle.chain_id}, "
                    f"the node is chain id {self.backend.chain_id}"
                )
        reports: list[BundleReport | None] = [None] * len(bundles)
        groups: dict[tuple[str, str], list[int]] = {}
        for index, bundle in enumerate(bundles):
            groups.setdefault((bundle.registry.address, bundle.ledger.address), []).append(index)
        for (registry, ledger), indexes in groups.items():
            reader = self.reader(registry, ledger)
            group = [bundles[index] for index in indexes]
            for index, report in zip(
                indexes, self._check_group(reader, group, require_head), strict=True
            ):
                reports[index] = report
        return [report for report in reports if report is not None]

    def _check_group(
        self, reader: ChainReader, bundles: Sequence[Bundle], require_head: bool
    ) -> list[BundleReport]:
        contract_problems = reader.contract_problems()
        if contract_problems:
            return [self._unproven(reader, bundle, contract_problems) for bundle in bundles]
        heads = reader.heads([bundle.record_key for bundle in bundles])
        wanted: dict[int, set[bytes]] = {}
        for bundle in bundles:
            for entry in bundle.entries:
                wanted.setdefault(entry.block_number, set()).add(record_id(bundle.record_key))
        found = reader.block_events(wanted)
        return [
            self._check_bundle(reader, bundle, head, found, require_head)
            for bundle, head in zip(bundles, heads, strict=True)
        ]

    def _check_bundle(
        self,
        reader: ChainReader,
        bundle: Bundle,
        head: tuple[bytes, int],
        found: Mapping[int, Sequence[AnchoredEvent]],
        require_head: bool,
    ) -> BundleReport:
        problems = self._bundle_problems(reader, bundle)
        anchored = sorted(
            {
                event.entry_hash: event
                for entry in bundle.entries
                for event in found.get(entry.block_number, ())
                if event.record_key == bundle.record_key
            }.values(),
            key=lambda event: event.seq,
        )
        # Events after the bundle's last one were anchored after it was made (they may share
        # its last block): they are reported apart, failing only when the head is required.
        claimed = {entry.entry_hash for entry in bundle.entries}
        seqs = {entry.seq for entry in bundle.entries}
        last = max((e.seq for e in anchored if e.entry_hash in claimed or e.seq in seqs), default=0)
        anchored = [event for event in anchored if event.seq <= last]
        if [event.seq for event in anchored] != list(range(1, last + 1)):
            # The bundle's blocks do not hold the whole history up to its last event (an event
            # left out, or named in another block): read the history itself.
            anchored = reader.history(bundle.record_key)[:last]
        head_hash, head_seq = head
        if head_seq < last or (head_seq == last and last and head_hash != anchored[-1].entry_hash):
            problems.append(f"the record's head on chain (event {head_seq}) contradicts it")
        findings, warnings = self._judge(reader, compare(claims_of(bundle), anchored), anchored)
        findings = [_note(_canonical_form(finding, bundle), bundle) for finding in findings]
        for seq in range(last + 1, head_seq + 1):
            findings.append(
                Finding(
                    record_key=bundle.record_key,
                    seq=seq,
                    entry_hash=head_hash if seq == head_seq else None,
                    event_code=None,
                    position=None,
                    verdict=Verdict.MISSING,
                    discrepancies=(
                        Discrepancy(
                            bundle.record_key,
                            seq,
                            head_hash if seq == head_seq else None,
                            DiscrepancyKind.MISSING,
                            "anchored after the bundle was made",
                        ),
                    ),
                    failed=require_head,
                )
            )
        return BundleReport(
            record_key=bundle.record_key,
            chain_id=bundle.chain_id,
            registry_address=reader.registry_address,
            ledger_address=reader.ledger_address,
            checks=tuple(findings),
            ok=not problems and not any(finding.failed for finding in findings),
            bundle_seq=len(bundle.entries),
            head_seq=head_seq,
            problems=tuple(problems),
            warnings=tuple(warnings),
        )

    def _bundle_problems(self, reader: ChainReader, bundle: Bundle) -> list[str]:
        problems = []
        codes = reader.codes()
        for name, contract, code in (
            ("OfficeRegistry", bundle.registry, codes[0]),
            ("RegisterLedger", bundle.ledger, codes[1]),
        ):
            if code and keccak(code) != contract.code_hash:
                problems.append(f"{name} code hash in the bundle differs from the code on chain")
            expected = None if self.deployment is None else self.deployment.addresses.get(name)
            if expected is not None and expected != contract.address:
                problems.append(
                    f"the bundle's {name} {contract.address} is not the consortium's ({expected})"
                )
        if bundle.record_id != record_id(bundle.record_key):
            problems.append("record_id is not keccak256 of record_key")
        last = bundle.entries[-1]
        if bundle.head_seq != last.seq or bundle.head_entry_hash != last.entry_hash:
            problems.append("the bundle's head is not its last entry")
        return problems

    def _unproven(self, reader: ChainReader, bundle: Bundle, reasons: list[str]) -> BundleReport:
        """The report on a bundle whose contracts are not genuine: nothing they say counts."""
        problems = reasons + [p for p in self._bundle_problems(reader, bundle) if p not in reasons]
        findings = tuple(
            Finding(
                record_key=bundle.record_key,
                seq=entry.seq,
                entry_hash=entry.entry_hash,
                event_code=entry.event_code,
                position=position,
                verdict=Verdict.UNANCHORED,
                discrepancies=(
                    Discrepancy(
                        bundle.record_key,
                        entry.seq,
                        entry.entry_hash,
                        DiscrepancyKind.UNANCHORED,
                        f"not proven: {reasons[0]}",
                    ),
                ),
            )
            for position, entry in enumerate(bundle.entries, start=1)
        )
        return BundleReport(
            record_key=bundle.record_key,
            chain_id=bundle.chain_id,
            registry_address=reader.registry_address,
            ledger_address=reader.ledger_address,
            checks=findings,
            ok=False,
            bundle_seq=len(bundle.entries),
            head_seq=0,
            problems=tuple(problems),
        )

    def _judge(
        self, reader: ChainReader, findings: list[Finding], anchored: Sequence[AnchoredEvent]
    ) -> tuple[list[Finding], list[str]]:
        """Findings with each anchored event's own checks added (entry hash, published
        document, signer authorised at its block), and the warnings of checks not made."""
        signers, warnings = reader.signer_discrepancies(anchored)
        own = {event.entry_hash: anchored_discrepancies(event) for event in anchored}
        judged = []
        for finding in findings:
            if finding.verdict is not Verdict.UNANCHORED and finding.entry_hash in own:
                key = finding.entry_hash
                finding = with_discrepancies(finding, [*own[key], *signers.get(key, ())])
            judged.append(finding)
        return judged, warnings

    # ------------------------------------------------------------------ a node's database

    def verify_stored_record(self, record_key: str) -> StoredRecordVerification:
        """Check the node's stored events of ``record_key`` against the chain (the audit of
        one record); :class:`NotFoundError` when neither the node nor the chain knows it."""
        if self.session_factory is None:
            raise InvalidInputError("this verifier has no index database")
        key = normalised_key(record_key)
        with self.session_factory() as session:
            rows = session.execute(
                select(*STORED_COLUMNS).where(events.c.record_key == key).order_by(events.c.seq)
            ).all()
            record_row = session.execute(
                select(records.c.head_entry_hash, records.c.event_count).where(
                    records.c.record_key == key
                )
            ).first()
        reader = self.reader()
        problems = reader.contract_problems()
        history = reader.history(key)
        if not rows and not history and record_row is None:
            raise NotFoundError(f"no record {key}, neither stored nor anchored")
        claims = [stored_claim(row) for row in rows]
        times = self._block_times_of(history)
        columns = expected_columns(times)
        findings, warnings = self._judge(
            reader, compare(claims, history, expected_columns=columns), history
        )
        broken: list[Discrepancy] = []
        check_hash_chain(chain_rows(rows), broken.append)
        findings = _attach(findings, broken)
        whole: list[Discrepancy] = []
        heads = {key: (history[-1].seq, history[-1].entry_hash)} if history else {}
        check_record_rows([] if record_row is None else [(key, *record_row)], heads, whole.append)
        found = [item for finding in findings for item in finding.discrepancies] + whole
        return StoredRecordVerification(
            record_key=key,
            ok=not found and not problems,
            chain_id=self.backend.chain_id,
            head_seq=len(history),
            head_entry_hash=history[-1].entry_hash if history else bytes(32),
            stored_events=len(rows),
            events=tuple(findings),
            discrepancies=tuple(found),
            problems=tuple(problems),
            warnings=tuple(warnings),
            checked_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            links=check_anchored_links(reader, history, times),
        )

    def _block_times_of(self, history: Iterable[AnchoredEvent]) -> dict[int, int]:
        """Block number → time for the events' blocks (read once per verifier)."""
        wanted = sorted(
            {
                event.block_number
                for event in history
                if self._block_times.get(event.block_number, (b"",))[0] != event.block_hash
            }
        )
        for number, block in zip(
            wanted, self.backend.read_batch([GetBlock(n) for n in wanted]), strict=True
        ):
            if isinstance(block, ChainError):
                raise block
            if len(self._block_times) >= _BLOCK_TIMES_KEPT:
                self._block_times.clear()
            self._block_times[number] = (block.hash, block.timestamp)
        times = {}
        for event in history:
            block_hash, timestamp = self._block_times[event.block_number]
            if block_hash != event.block_hash:
                raise ChainError(f"block {event.block_number} changed while it was read")
            times[event.block_number] = timestamp
        return times

    # ------------------------------------------------------------------ what anyone sends

    def verify_upload(self, body: bytes) -> DocumentVerification | BundleReport:
        """Verify what someone sent: a proof bundle (a JSON object whose ``format`` is
        ``ipchain-proof-bundle``) against the chain, or else a register event document (is it
        anchored for its ``record_key``?). Bad input raises :class:`InvalidInputError`."""
        if not body.strip():
            raise MalformedBodyError("the request body is empty", field="body")
        try:
            parsed = parse_json_strict(body)
        except InvalidInputError as error:
            raise MalformedBodyError(f"body: {error}", field="body") from None
        if not isinstance(parsed, dict):
            raise InvalidInputError(
                "body: must be a JSON object (a proof bundle or a register event document)",
                field="body",
            )
        if "format" in parsed:
            bundle = load_bundle(body)
            try:
                return self.verify_bundle(bundle)
            except ChainMismatchError as error:
                raise InvalidInputError(str(error), field="chain_id") from None
        record_key = parsed.get("record_key")
        if not isinstance(record_key, str):
            raise InvalidInputError(
                "record_key: a register event document names its record (or send a proof "
                f"bundle, format {FORMAT!r})",
                field="record_key",
            )
        return self.verify_document(parsed, record_key=normalised_key(record_key))


# ------------------------------------------------------------------------------ helpers


def normalised_key(record_key: str) -> str:
    """The record key in its normal form; :class:`InvalidInputError` naming ``record_key``."""
    try:
        return str(RecordKey.parse(record_key))
    except InvalidInputError as error:
        error.field = "record_key"
        raise


def _canonical(document: Mapping[str, Any] | JsonValue | bytes) -> bytes:
    if isinstance(document, bytes | str):
        return canonical_bytes_from_json(document)
    return canonical_bytes(document)


def _note(finding: Finding, bundle: Bundle) -> Finding:
    """What is worth saying about a verified bundle event's document."""
    if finding.verdict is not Verdict.VERIFIED or finding.position is None:
        return finding
    entry = bundle.entries[finding.position - 1]
    note = "the chain holds only this event's document hash" if entry.document is None else ""
    if not note:
        return finding
    return Finding(
        record_key=finding.record_key,
        seq=finding.seq,
        entry_hash=finding.entry_hash,
        event_code=finding.event_code,
        position=finding.position,
        verdict=finding.verdict,
        failed=False,
        note=note,
    )


def _canonical_form(finding: Finding, bundle: Bundle) -> Finding:
    """A finding on a bundle entry whose document is not in canonical form, failed."""
    if finding.position is None:
        return finding
    document = bundle.entries[finding.position - 1].document
    problem = None if document is None else canonical_problem(document)
    if problem is None:
        return finding
    kind = DiscrepancyKind.DOCUMENT_TAMPERED
    extra = Discrepancy(finding.record_key, finding.seq, finding.entry_hash, kind, problem)
    return with_discrepancies(finding, [extra])


def _attach(findings: list[Finding], extra: Sequence[Discrepancy]) -> list[Finding]:
    """Findings with discrepancies about their events (by entry hash, then seq) added."""
    by_hash: dict[bytes, list[Discrepancy]] = {}
    for item in extra:
        by_hash.setdefault(item.entry_hash or b"", []).append(item)
    attached = []
    for finding in findings:
        more = by_hash.pop(finding.entry_hash or b"", [])
        attached.append(with_discrepancies(finding, more))
    for items in by_hash.values():  # about no event found: shown on their own
        for item in items:
            attached.append(
                Finding(
                    record_key=item.record_key,
                    seq=item.seq,
                    entry_hash=item.entry_hash,
                    event_code=None,
                    position=None,
                    verdict=Verdict.OUT_OF_ORDER,
                    discrepancies=(item,),
                )
            )
    return attached


# ------------------------------------------------------------------------------ entry points


def verify_record(
    backend: ChainBackend,
    deployment: Deployment,
    record_key: str,
    documents: Sequence[Mapping[str, Any] | bytes],
) -> RecordVerification:
    """:meth:`Verifier.verify_record` with a one-off verifier."""
    return Verifier(backend, deployment).verify_record(record_key, documents)


def verify_document(
    backend: ChainBackend,
    deployment: Deployment,
    document: Mapping[str, Any] | bytes,
    *,
    record_key: str | None = None,
) -> DocumentVerification:
    """:meth:`Verifier.verify_document` with a one-off verifier."""
    return Verifier(backend, deployment).verify_document(document, record_key=record_key)


def verify_bundle(
    bundle: Bundle,
    backend: ChainBackend,
    *,
    require_head: bool = False,
    expected: Deployment | None = None,
) -> BundleReport:
    """:meth:`Verifier.verify_bundle` with a one-off verifier; ``expected`` pins the
    consortium's contract addresses."""
    return Verifier(backend, expected).verify_bundle(bundle, require_head=require_head)


def build_bundle(
    backend: ChainBackend,
    deployment: Deployment,
    record_key: str,
    *,
    documents: Mapping[bytes, bytes] | None = None,
) -> dict[str, Any]:
    """:meth:`Verifier.build_bundle` with a one-off verifier, in the bundle's JSON form."""
    bundle = Verifier(backend, deployment).build_bundle(record_key, documents=documents)
    return bundle_to_json(bundle)
