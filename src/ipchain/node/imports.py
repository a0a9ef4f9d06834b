"""Import jobs (issue 10): an office's register file uploaded to its node's API, then imported
by the node's writer process as ``ipchain import`` would (:mod:`ipchain.register.importing`).

An upload is written to ``DATA_DIR/imports/{id}.upload`` as it streams in (outside the submit
endpoint's 5 MiB body limit: :data:`MAX_UPLOAD_BYTES`), and the job's state to
``{id}.json`` beside it (written whole, then renamed: an API process of any worker reads it).
The writer's import thread takes queued jobs — and jobs left ``running`` by a writer that died,
which resume where they stopped, batch by batch, through their idempotency keys — one at a
time, holding a lock on the job so that two writers never run it together.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any, Final

from ipchain.errors import (
    AuthorizationError,
    ChainUnavailableError,
    ConflictError,
    InvalidInputError,
    IpchainError,
    NotFoundError,
    PayloadTooLargeError,
)
from ipchain.register.importing import ImportFailed, SubmitOutcome, import_records
from ipchain.register.submissions import SubmissionService

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES: Final = 2 * 1024**3
"""Largest register file one upload takes (2 GiB: several million events)."""

_ID_CHARACTERS: Final = frozenset("0123456789abcdef-")


@dataclass(frozen=True, slots=True)
class ImportJob:
    """An import job and how far it got."""

    id: str
    """Job id (UUID)."""
    office: str
    """The office whose register it imports."""
    status: str
    """``queued``, ``running``, ``completed`` or ``failed``."""
    created_at: str
    """When it was uploaded (RFC 3339, UTC)."""
    updated_at: str
    """When its state last changed."""
    file_bytes: int
    """Size of the uploaded file."""
    events_sent: int = 0
    """Events accepted so far."""
    records: int = 0
    """Records imported (when completed)."""
    events: int = 0
    """Events imported (when completed)."""
    batches: int = 0
    """Batches submitted (when completed)."""
    replayed: int = 0
    """Batches accepted before, by an earlier run of the job (when completed)."""
    unverifiable_links: int = 0
    """Links accepted as link-unverifiable (when completed)."""
    seconds: float = 0.0
    """Time from the first batch to the last one anchored (when completed)."""
    error: str | None = None
    """Why it failed (the file line, record and field), when it failed."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ServiceSink:
    """The node's own submission service as an import's sink (the writer process)."""

    def __init__(self, submissions: SubmissionService, stop: threading.Event) -> None:
        self.submissions = submissions
        self.stop = stop

    def submit(self, office: str, documents: list[dict[str, Any]], key: str) -> SubmitOutcome:
        wait = 0.5
        while True:
            try:
                view = self.submissions.submit(office, documents, key)
            except ChainUnavailableError:
                # A storage fault stopped anchoring: the node resumes by itself; so does this.
                if self.stop.wait(wait):
                    raise ImportFailed("the node is stopping; the job resumes with it") from None
                wait = min(wait * 2, 30.0)
                continue
            except (InvalidInputError, AuthorizationError, ConflictError) as error:
                status = 422 if isinstance(error, InvalidInputError) else 403
                status = 409 if isinstance(error, ConflictError) else status
                return SubmitOutcome(
                    status,
                    {
                        "code": error.code,
                        "detail": str(error),
                        "field": getattr(error, "field", None),
                    },
                )
            entries = [{"links": list(entry.links)} for entry in view.entries]
            return SubmitOutcome(200 if view.replayed else 202, {"id": view.id, "entries": entries})

    def status(self, submission_id: str, office: str) -> tuple[str, dict[str, Any]]:
        view = self.submissions.get(office, submission_id)
        detail = {"detail": view.error_message} if view.error_message else {}
        return view.status, {"error": detail}


class ImportJobs:
    """The import jobs of one node, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _state(self, job_id: str) -> Path:
        return self.directory / f"{job_id}.json"

    def upload_path(self, job_id: str) -> Path:
        """Where the job's file is."""
        return self.directory / f"{job_id}.upload"

    def _write(self, job: ImportJob) -> None:
        temporary = self.directory / f".{job.id}.json.tmp"
        temporary.write_text(json.dumps(asdict(job)), "utf-8")
        os.replace(temporary, self._state(job.id))

    # --- the API side ---------------------------------------------------------------------

    def create(self, office: str) -> tuple[ImportJob, IO[bytes]]:
        """A new job's state (not yet visible) and the file its upload is written to."""
        self.directory.mkdir(parents=True, exist_ok=True)
        now = _now()
        job = ImportJob(str(uuid.uuid4()), office, "queued", now, now, 0)
        return job, self.upload_path(job.id).open("xb")

    def queue(self, job: ImportJob, file_bytes: int) -> ImportJob:
        """Make an uploaded job visible, queued for the writer (the upload is fsync'd)."""
        with self.upload_path(job.id).open("rb") as upload:
            os.fsync(upload.fileno())
        queued = replace(job, file_bytes=file_bytes)
        self._write(queued)
        return queued

    def discard(self, job: ImportJob) -> None:
        """Forget an upload that did not complete."""
        self.upload_path(job.id).unlink(missing_ok=True)

    def get(self, office: str, job_id: str) -> ImportJob:
        """A job of ``office``; :class:`NotFoundError` for another office's or none."""
        if not job_id or not set(job_id) <= _ID_CHARACTERS:
            raise NotFoundError(f"no import job {job_id[:40]}")
        try:
            job = ImportJob(**json.loads(self._state(job_id).read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            raise NotFoundError(f"no import job {job_id[:40]}") from None
        if job.office != office:
            raise NotFoundError(f"no import job {job_id} of office {office}")
        return job

    # --- the writer side ------------------------------------------------------------------

    def _waiting(self) -> list[ImportJob]:
        jobs = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                job = ImportJob(**json.loads(path.read_text("utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if job.status in ("queued", "running"):
                jobs.append(job)
        return sorted(jobs, key=lambda job: job.created_at)

    @contextmanager
    def _claimed(self, job: ImportJob) -> Iterator[bool]:
        with (self.directory / f".{job.id}.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def run_waiting(self, submissions: SubmissionService, stop: threading.Event) -> int:
        """Run every queued (or interrupted) job this process can claim; how many ran."""
        ran = 0
        for job in self._waiting():
            if stop.is_set():
                break
            with self._claimed(job) as claimed:
                if claimed:
                    self._run(job, submissions, stop)
                    ran += 1
        return ran

    def _run(self, job: ImportJob, submissions: SubmissionService, stop: threading.Event) -> None:
        job = replace(job, status="running", updated_at=_now(), events_sent=0)
        self._write(job)
        last_written = time.monotonic()

        def progress(events: int) -> None:
            nonlocal job, last_written
            job = replace(job, events_sent=job.events_sent + events)
            if time.monotonic() - last_written > 1.0:
                self._write(replace(job, updated_at=_now()))
                last_written = time.monotonic()

        try:
            summary = import_records(
                self.upload_path(job.id),
                ServiceSink(submissions, stop),
                office=job.office,
                progress=progress,
            )
        except ImportFailed as error:
            if stop.is_set():
                self._write(replace(job, updated_at=_now()))  # still running: resumes later
                return
            logger.warning("import job %s failed: %s", job.id, error)
            self._write(replace(job, status="failed", error=str(error), updated_at=_now()))
            return
        except IpchainError as error:
            self._write(replace(job, status="failed", error=str(error), updated_at=_now()))
            return
        self._write(
            replace(
                job,
                status="completed",
                updated_at=_now(),
                records=summary.records,
                events=summary.events,
                batches=summary.batches,
                replayed=summary.replayed,
                unverifiable_links=summary.unverifiable_links,
                seconds=round(summary.seconds, 3),
            )
        )
        logger.info("import job %s completed: %d events", job.id, summary.events)

    def run_forever(
        self, submissions: SubmissionService, stop: threading.Event, interval: float = 1.0
    ) -> None:
        """The writer's import thread: run waiting jobs until ``stop``."""
        while not stop.is_set():
            try:
                self.run_waiting(submissions, stop)
            except Exception:  # a bug: log it, never kill the writer
                logger.exception("import jobs: a round failed")
            stop.wait(interval)


def check_upload_size(received: int) -> None:
    """Refuse (413) an upload past :data:`MAX_UPLOAD_BYTES`."""
    if received > MAX_UPLOAD_BYTES:
        raise PayloadTooLargeError(
            f"a register file is at most {MAX_UPLOAD_BYTES} bytes", field="body"
        )


__all__ = [
    "MAX_UPLOAD_BYTES",
    "ImportJob",
    "ImportJobs",
    "ServiceSink",
    "check_upload_size",
]
