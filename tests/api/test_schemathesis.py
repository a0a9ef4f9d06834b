"""Schemathesis against the node's own OpenAPI document, in-process: every operation the
document lists, with generated valid and invalid parameters and bodies (examples, coverage and
fuzzing phases), once without a token and once with an office's token.

Checks: no server error (no 5xx), every status code, content type, header and body as the
document says, and a ``405`` with an exact ``Allow`` for a method a path does not have. The run
is bounded (a fixed seed, a number of examples per operation and a time limit per run) so the
whole module takes well under two minutes on the CI machine.

Schemathesis runs through its engine (what its command line uses) rather than its pytest
plugin, whose lazy-fixture loader does not work with pytest 9.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.engine import Status, events, from_schema

from api.app import create_app
from ipchain.config import Settings
from ipchain.keys import OfficeKey
from ipchain.node.service import NodeService, ServiceOptions
from tests.api.conftest import OFFICE_CODES
from tests.helpers.documents import event_document

MAX_EXAMPLES = 20
"""Generated cases per operation and phase."""

MAX_SECONDS_PER_RUN = 45
"""Each run (anonymous, with a token) stops here whatever is left: the module stays under two
minutes even on a slow machine."""

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
)


@pytest.fixture(scope="module")
def fuzzed_node(
    node_template: Path,
    signer_keys: dict[str, OfficeKey],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NodeService, FastAPI]]:
    """One node (embedded chain, SQLite index) for both runs, with one record in it."""
    directory = tmp_path_factory.mktemp("schemathesis") / "node"
    shutil.copytree(node_template, directory)
    service = NodeService(
        Settings(data_dir=directory),
        ServiceOptions(signer_offices=OFFICE_CODES),
        signer_keys=signer_keys,
    ).start()
    try:
        service.submissions.submit("EM", [event_document("EM/TM/018100001")], None, batch=False)
        yield service, create_app(service)
    finally:
        service.stop()


def _describe(label: str, check: str, failure: Any, interaction: Any) -> str:
    lines = [f"{label}: {check}: {failure.title}", f"  {failure.message.strip()[:400]}"]
    if interaction is not None:
        request = interaction.request
        lines.append(f"  request: {request.method} {request.uri} {(request.body or b'')[:200]!r}")
        if interaction.response is not None:
            response = interaction.response
            lines.append(f"  response: {response.status_code} {response.content[:300]!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("caller", ["anonymous", "office token"])
def test_openapi_document_holds(caller: str, fuzzed_node: tuple[NodeService, FastAPI]) -> None:
    service, app = fuzzed_node
    headers = {}
    if caller == "office token":
        headers["Authorization"] = f"Bearer {service.create_token('EM')}"
    config = schemathesis.Config.from_dict(
        {
            "seed": 20260101,
            "max-time": MAX_SECONDS_PER_RUN,
            "max-stream-events": 1,  # the workshop's event stream: one event is enough
            "request-timeout": 5,
            "headers": headers,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=config)
    started = time.monotonic()
    failures: dict[tuple[str, str, str], str] = {}
    errors: list[str] = []
    requests, stopped = 0, "?"
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            requests += len(recorder.interactions)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (recorder.label, check.name, failure.title)
                    failures.setdefault(
                        key,
                        _describe(*key[:2], failure, recorder.interactions.get(case_id)),
                    )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}"[:500])
        elif isinstance(event, events.FatalError):
            errors.append(f"fatal: {event.exception!r}"[:500])
        elif isinstance(event, events.EngineFinished):
            stopped = event.stop_reason.value
    elapsed = time.monotonic() - started
    print(f"schemathesis ({caller}): {requests} requests in {elapsed:.1f} s ({stopped})")
    assert requests > 100, "schemathesis sent almost no requests"
    assert not errors, "\n".join(errors)
    assert not failures, "\n".join(failures.values())
