"""``ipchain import FILE`` over HTTP: the node's API as the import's :class:`Sink`
(:mod:`ipchain.register.importing` has the file formats, batching and resumption).

Each batch is ``POST /api/v1/offices/{office}/events`` with its idempotency key. A batch the
node cannot take now (``503``: anchoring stopped, ``429``, no answer while a process restarts)
is retried with a growing wait, for up to ten minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final, Protocol

from ipchain.register.importing import (
    ImportFailed,
    ImportSummary,
    SubmitOutcome,
    import_records,
)

_RETRY_LIMIT_SECONDS: Final = 600.0
"""How long one batch is retried while the node cannot take it (503, 429, no answer)."""


class HttpSession(Protocol):
    """What the sink needs of an HTTP client (``requests.Session``, FastAPI's
    ``TestClient``)."""

    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Any: ...

    def get(self, url: str, *, headers: dict[str, str]) -> Any: ...


class HttpSink:
    """The node's API at ``base_url`` (``…/api/v1``), as the office of ``token``."""

    def __init__(self, session: HttpSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    def submit(self, office: str, documents: list[dict[str, Any]], key: str) -> SubmitOutcome:
        url = f"{self.base_url}/offices/{office}/events"
        deadline = time.monotonic() + _RETRY_LIMIT_SECONDS
        wait = 0.5
        while True:
            try:
                answer = self.session.post(
                    url, json={"events": documents}, headers=self.headers | {"Idempotency-Key": key}
                )
            except OSError as error:  # a process restarting: its supervisor brings it back
                if time.monotonic() > deadline:
                    raise ImportFailed(f"the node does not answer at {url}: {error}") from None
            else:
                if answer.status_code not in (429, 502, 503, 504) or time.monotonic() > deadline:
                    return SubmitOutcome(answer.status_code, _json(answer))
                retry = answer.headers.get("Retry-After", "")
                wait = float(retry) if retry.isdigit() else wait
            time.sleep(min(wait, 30.0))
            wait = min(wait * 2, 30.0)

    def status(self, submission_id: str, office: str) -> tuple[str, dict[str, Any]]:
        answer = self.session.get(
            f"{self.base_url}/submissions/{submission_id}", headers=self.headers
        )
        body = _json(answer)
        return (str(body.get("status")) if answer.status_code == 200 else "unknown"), body


def _json(answer: Any) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {"detail": answer.text[:300]}
    return body if isinstance(body, dict) else {"detail": str(body)[:300]}


def import_file(
    path: Path, session: HttpSession, base_url: str, token: str, **options: Any
) -> ImportSummary:
    """Import ``path`` through the API at ``base_url`` with ``token``
    (:func:`~ipchain.register.importing.import_records`'s options)."""
    return import_records(path, HttpSink(session, base_url, token), **options)


__all__ = ["HttpSink", "import_file"]
