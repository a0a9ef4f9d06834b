"""Onboarding an office's existing register (issue 10): its records read from a file and sent
to the node's submission path in batches, resumably.

The file is JSON Lines (one register event document per line, each record's events in order,
one record after another) or WIPO ST.96 XML (a ``tmk:TrademarkBag`` or ``dgn:DesignBag``:
:mod:`ipchain.register.st96`). It is streamed, never held in memory: a first pass hashes and
counts it, the second hands whole records in batches of about ``batch_events`` events to a
:class:`Sink` — the node's API over HTTP (``ipchain import``) or the node's own submission
service (an import job uploaded to the API) — so every event is validated exactly as a
submission is, link checks included.

**Resumable.** Each batch carries the idempotency key ``import-{file hash}-{batch number}``:
running the same file again after a crash or Ctrl-C is answered, for every batch the node
already accepted, from its record of it (``replayed``); nothing is anchored twice, and sending
resumes at the first batch it has not seen. A changed file is a new import.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from ipchain.errors import InvalidInputError, IpchainError
from ipchain.register.st96 import read_st96

DEFAULT_BATCH_EVENTS: Final = 1_000
"""Events per request: well inside the API's 10,000 events and 5 MiB per request."""


class ImportFailed(IpchainError):
    """The import stopped: the message names the file line, the record and the field."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of the file: its events, and where it starts."""

    record_key: str
    """The record."""
    documents: tuple[dict[str, Any], ...]
    """Its events, in order."""
    line: int
    """Line of its first event (JSON Lines) or of its element (ST.96)."""


@dataclass
class ImportSummary:
    """What an import did."""

    records: int = 0
    """Records sent."""
    events: int = 0
    """Events sent."""
    batches: int = 0
    """Requests made."""
    replayed: int = 0
    """Batches the node had already accepted (a resumed import)."""
    unverifiable_links: int = 0
    """Links accepted as link-unverifiable (their reasons are on the submissions)."""
    seconds: float = 0.0
    """From the first batch sent to the last one anchored."""
    submissions: list[str] = field(default_factory=list)
    """The submission of every batch, in order."""


def _jsonl_records(path: Path) -> Iterator[SourceRecord]:
    """Consecutive lines of one record key make one record."""
    key: str | None = None
    documents: list[dict[str, Any]] = []
    start = 0
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                document = json.loads(raw)
            except (ValueError, RecursionError):
                raise ImportFailed(f"line {number}: not a JSON document") from None
            record_key = document.get("record_key") if isinstance(document, dict) else None
            if not isinstance(record_key, str):
                raise ImportFailed(f"line {number}: not an event document (no record_key)")
            if record_key != key and documents:
                assert key is not None
                yield SourceRecord(key, tuple(documents), start)
                documents = []
            if not documents:
                key, start = record_key, number
            documents.append(document)
    if documents and key is not None:
        yield SourceRecord(key, tuple(documents), start)


def read_records(path: Path) -> Iterator[SourceRecord]:
    """The records of an import file, streamed (ST.96 XML when it starts with ``<``)."""
    with path.open("rb") as probe:
        head = probe.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        try:
            for record in read_st96(str(path)):
                yield SourceRecord(record.record_key, record.documents, record.line)
        except InvalidInputError as error:
            raise ImportFailed(f"{path.name}: {error} ({error.field})") from None
        return
    yield from _jsonl_records(path)


def survey(path: Path) -> tuple[str, int, int]:
    """The file's SHA-256 (hex), its records and its events: the first, counting pass."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    records = events = 0
    for record in read_records(path):
        records += 1
        events += len(record.documents)
    return digest.hexdigest(), records, events


def _batches(path: Path, size: int) -> Iterator[list[SourceRecord]]:
    batch: list[SourceRecord] = []
    events = 0
    for record in read_records(path):
        batch.append(record)
        events += len(record.documents)
        if events >= size:
            yield batch
            batch, events = [], 0
    if batch:
        yield batch


def _where(batch: list[SourceRecord], field_name: str | None) -> str:
    """The file line and record of a problem's ``events[i]…`` field."""
    if field_name and field_name.startswith("events["):
        index = int(field_name[7 : field_name.index("]")])
        for record in batch:
            if index < len(record.documents):
                return f"line {record.line + index} ({record.record_key}), {field_name}"
            index -= len(record.documents)
    return f"record {batch[0].record_key} (line {batch[0].line}) and after, {field_name}"


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What the node answered to one batch."""

    status: int
    """HTTP-style status: 202 accepted, 200 accepted before (replayed), 4xx refused."""
    body: dict[str, Any]
    """The submission (accepted) or the problem (refused: ``code``, ``detail``, ``field``)."""


class Sink(Protocol):
    """Where batches go: the node's submission path, over HTTP or in the node itself."""

    def submit(self, office: str, documents: list[dict[str, Any]], key: str) -> SubmitOutcome:
        """Submit one batch with its idempotency key."""
        ...

    def status(self, submission_id: str, office: str) -> tuple[str, dict[str, Any]]:
        """A submission's status (``pending``, ``anchored``, ``failed``) and its body."""
        ...


def import_records(
    path: Path,
    sink: Sink,
    *,
    office: str | None = None,
    batch_events: int = DEFAULT_BATCH_EVENTS,
    progress: Callable[[int], None] | None = None,
    anchor_timeout: float = 3_600.0,
    digest: str | None = None,
) -> ImportSummary:
    """Import ``path`` into ``sink``; ``progress(events)`` is called as batches are
    accepted; ``digest`` is the file's SHA-256 when :func:`survey` was run already.
    :class:`ImportFailed` (one line, naming the file line, record and field) when the node
    refuses a batch or does not anchor it."""
    if digest is None:
        digest, _, _ = survey(path)
    summary = ImportSummary()
    started = time.monotonic()
    for number, batch in enumerate(_batches(path, batch_events)):
        target = office or batch[0].record_key[:2]
        documents = [document for record in batch for document in record.documents]
        key = f"import-{digest[:32]}-{number}"
        answer = sink.submit(target, documents, key)
        if answer.status == 422 and "link-target-missing" in str(answer.body.get("detail")):
            # A record this file names that is not anchored yet (sent in an earlier batch of
            # it): let what was sent anchor, then try once more.
            _wait_anchored(sink, target, summary.submissions, anchor_timeout)
            answer = sink.submit(target, documents, key)
        if answer.status not in (200, 202):
            problem = answer.body
            raise ImportFailed(
                f"batch {number + 1} refused ({answer.status} {problem.get('code', '')}): "
                f"{_where(batch, problem.get('field'))}: {str(problem.get('detail'))[:300]}"
            )
        summary.submissions.append(str(answer.body["id"]))
        summary.batches += 1
        summary.replayed += answer.status == 200
        summary.records += len(batch)
        summary.events += len(documents)
        summary.unverifiable_links += sum(
            check.get("result") == "link-unverifiable"
            for entry in answer.body.get("entries", [])
            for check in entry.get("links", [])
        )
        if progress is not None:
            progress(len(documents))
    _wait_anchored(sink, office or "", summary.submissions, anchor_timeout)
    summary.seconds = time.monotonic() - started
    return summary


def _wait_anchored(sink: Sink, office: str, submissions: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(submissions)
    while pending:
        status, body = sink.status(pending[0], office)
        if status == "failed":
            error = body.get("error") or {}
            raise ImportFailed(
                f"submission {pending[0]} failed on chain: {error.get('detail', '?')}"
            )
        if status == "anchored":
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise ImportFailed(f"{len(pending)} batches not anchored after {timeout:.0f} s")
        time.sleep(0.2)


__all__ = [
    "DEFAULT_BATCH_EVENTS",
    "ImportFailed",
    "ImportSummary",
    "Sink",
    "SourceRecord",
    "SubmitOutcome",
    "import_records",
    "read_records",
    "survey",
]
