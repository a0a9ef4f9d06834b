"""``ipchain import FILE``: onboard an office's existing register through its node's API.

FILE is JSON Lines (one register event document per line, each record's events in order, one
record after another) or WIPO ST.96 XML (a ``tmk:TrademarkBag`` or ``dgn:DesignBag``: see
:mod:`ipchain.register.st96`). It is streamed, never held in memory: a first pass hashes and
counts it, the second sends whole records in batches of about ``batch_events`` events to
``POST /api/v1/offices/{office}/events`` — so every event is validated exactly as the API
validates it, link checks included — and the node's writer anchors them.

**Resumable.** Each batch carries the idempotency key ``import-{file hash}-{batch number}``:
run the same command again after a crash or Ctrl-C and the batches the node already accepted
are answered from its record of them (``replayed``), nothing is anchored twice, and sending
resumes at the first batch it has not seen. A changed file is a new import.

A batch the node cannot take now (``503``: anchoring stopped, ``429``) is retried with a
growing wait; a refused batch stops the import with one line naming the file line, record and
field. At the end the command waits until every batch is anchored and prints a summary.
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

_RETRY_LIMIT_SECONDS: Final = 600.0
"""How long one batch is retried while the node cannot take it (503, 429, no answer)."""


class ImportFailed(IpchainError):
    """The import stopped: the message names the file line, the record and the field."""


class HttpSession(Protocol):
    """What the importer needs of an HTTP client (``requests.Session`` or FastAPI's
    ``TestClient``)."""

    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Any: ...

    def get(self, url: str, *, headers: dict[str, str]) -> Any: ...


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


def import_file(
    path: Path,
    session: HttpSession,
    base_url: str,
    token: str,
    *,
    office: str | None = None,
    batch_events: int = DEFAULT_BATCH_EVENTS,
    progress: Callable[[int], None] | None = None,
    anchor_timeout: float = 3_600.0,
    digest: str | None = None,
) -> ImportSummary:
    """Import ``path`` through the API at ``base_url`` (``…/api/v1``) with ``token``;
    ``progress(events)`` is called as batches are accepted; ``digest`` is the file's SHA-256
    when :func:`survey` was run already. :class:`ImportFailed` (one line) when the node
    refuses a batch or does not anchor it."""
    if digest is None:
        digest, _, _ = survey(path)
    headers = {"Authorization": f"Bearer {token}"}
    summary = ImportSummary()
    started = time.monotonic()
    for number, batch in enumerate(_batches(path, batch_events)):
        target = office or batch[0].record_key[:2]
        documents = [document for record in batch for document in record.documents]
        key = f"import-{digest[:32]}-{number}"
        answer = _send(session, f"{base_url}/offices/{target}/events", documents, headers, key)
        if answer.status_code == 422 and "link-target-missing" in answer.text:
            # A record of this file filed later in the chain's order: let what was sent
            # anchor, then try once more.
            _wait_anchored(session, base_url, summary.submissions, headers, anchor_timeout)
            answer = _send(session, f"{base_url}/offices/{target}/events", documents, headers, key)
        if answer.status_code not in (200, 202):
            problem = _problem(answer)
            raise ImportFailed(
                f"batch {number + 1} refused ({answer.status_code} {problem.get('code', '')}): "
                f"{_where(batch, problem.get('field'))}: {problem.get('detail', answer.text)[:300]}"
            )
        body = answer.json()
        summary.submissions.append(body["id"])
        summary.batches += 1
        summary.replayed += answer.status_code == 200
        summary.records += len(batch)
        summary.events += len(documents)
        summary.unverifiable_links += sum(
            check.get("result") == "link-unverifiable"
            for entry in body.get("entries", [])
            for check in entry.get("links", [])
        )
        if progress is not None:
            progress(len(documents))
    _wait_anchored(session, base_url, summary.submissions, headers, anchor_timeout)
    summary.seconds = time.monotonic() - started
    return summary


def _problem(answer: Any) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _send(
    session: HttpSession, url: str, documents: list[Any], headers: dict[str, str], key: str
) -> Any:
    deadline = time.monotonic() + _RETRY_LIMIT_SECONDS
    wait = 0.5
    while True:
        try:
            answer = session.post(
                url, json={"events": documents}, headers=headers | {"Idempotency-Key": key}
            )
        except OSError as error:  # the node is restarting: its supervisor brings it back
            if time.monotonic() > deadline:
                raise ImportFailed(f"the node does not answer at {url}: {error}") from None
        else:
            if answer.status_code not in (429, 502, 503, 504):
                return answer
            if time.monotonic() > deadline:
                return answer
            retry = answer.headers.get("Retry-After", "")
            wait = float(retry) if retry.isdigit() else wait
        time.sleep(min(wait, 30.0))
        wait = min(wait * 2, 30.0)


def _wait_anchored(
    session: HttpSession,
    base_url: str,
    submissions: list[str],
    headers: dict[str, str],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(submissions)
    while pending:
        answer = session.get(f"{base_url}/submissions/{pending[0]}", headers=headers)
        status = answer.json().get("status") if answer.status_code == 200 else None
        if status == "failed":
            error = answer.json().get("error") or {}
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
    "SourceRecord",
    "import_file",
    "read_records",
    "survey",
]
