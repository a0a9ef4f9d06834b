"""Every public input bounded (issue 13, "Bad input"): each bad input answers a 4xx problem
(``application/problem+json``) naming the parameter — never a 5xx, never a dropped connection,
nothing written — on SQLite and PostgreSQL where the database matters.

- paging past its caps (``offset`` ≥ 2^63 once gave 500 and dropped the keep-alive connection);
- NUL and other control characters, and bytes that are not UTF-8, in query and path
  parameters (``%00`` once gave 500 on PostgreSQL);
- enumerated filters outside their catalogues, dates that are not ``YYYY-MM-DD``;
- the bearer token checked before the body on every write (401 first);
- a declared charset other than UTF-8 (415);
- a database locked past its busy or lock timeout (503 with ``Retry-After``);
- ``405`` with an ``Allow`` listing every method of the path;
- the server's own refusals (malformed request, oversized headers) as problems;
- the OpenAPI document declaring what the API answers.
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest
import uvicorn
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from api.problems import ProblemH11Protocol
from ipchain.db.submissions import outbox, submissions
from tests.helpers.documents import event_document
from tests.helpers.nodes import RunningNode

JSON = {"Content-Type": "application/json"}
EVENTS = "/api/v1/offices/EM/events"
BIG = 2**63


def written(node: RunningNode) -> tuple[int, int]:
    with node.service.session_factory() as session:
        return (
            int(session.scalar(select(func.count()).select_from(submissions)) or 0),
            int(session.scalar(select(func.count()).select_from(outbox)) or 0),
        )


def assert_problem(response: Any, status: int, field: str | None, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    problem = response.json()
    assert problem["status"] == status
    assert problem.get("field") == field, problem
    assert problem["detail"] and problem["title"] and problem["type"].endswith(problem["code"])
    if code is not None:
        assert problem["code"] == code, problem


# --- paging ---------------------------------------------------------------------------------

PAGING = [
    ("/api/v1/records", f"offset={BIG}", "offset"),
    ("/api/v1/records", "offset=10000001", "offset"),
    ("/api/v1/records", f"limit={BIG}", "limit"),
    ("/api/v1/records", "limit=501", "limit"),
    ("/api/v1/proposals", f"offset={BIG}", "offset"),
    ("/api/v1/proposals", "offset=10000001", "offset"),
    ("/api/v1/attestations", f"offset={BIG}", "offset"),
    ("/api/v1/attestations", "offset=10000001", "offset"),
    ("/api/v1/events", f"limit={BIG}", "limit"),
    (
        "/api/v1/events",
        "cursor=" + base64.urlsafe_b64encode(f"{BIG}:0".encode()).decode().rstrip("="),
        "cursor",
    ),
    (
        "/api/v1/events",
        "cursor=" + base64.urlsafe_b64encode(f"1:{BIG}".encode()).decode().rstrip("="),
        "cursor",
    ),
]


def test_paging_is_capped(node: RunningNode) -> None:
    for path, query, field in PAGING:
        assert_problem(node.client.get(f"{path}?{query}"), 422, field)
    at_cap = node.client.get("/api/v1/records?offset=10000000&limit=500")
    assert at_cap.status_code == 200, at_cap.text
    assert at_cap.json()["items"] == []


# --- control characters and encodings --------------------------------------------------------

QUERY_PARAMETERS = {
    "/api/v1/records": ("text", "status", "office", "fields", "sort", "locarno_class"),
    "/api/v1/events": ("office", "cursor"),
    "/api/v1/proposals": ("state", "action", "office"),
    "/api/v1/attestations": ("subject", "party", "issuer", "schema"),
}
BAD_VALUES = {
    "NUL": "a%00b",
    "NUL alone": "%00",
    "newline": "a%0Ab",
    "escape": "%1B%5B31m",
    "DEL": "a%7F",
    "C1 control": "a%C2%85",
    "not UTF-8": "a%FFb",
    "truncated UTF-8": "a%C3",
}


@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
def test_query_parameters_refuse_control_characters(node: RunningNode, bad: str) -> None:
    value = BAD_VALUES[bad]
    for path, names in QUERY_PARAMETERS.items():
        for name in names:
            response = node.client.get(f"{path}?{name}={value}")
            assert_problem(response, 422, name, "invalid-input")
            assert response.json()["instance"] == path
    # An undeclared parameter is refused the same way: nothing with a NUL goes further.
    assert_problem(node.client.get("/api/v1/offices?colour=%00"), 422, "colour")


def test_path_parameters_refuse_control_characters(node: RunningNode) -> None:
    auth = node.token("EM")
    for path, field in (
        ("/api/v1/submissions/a%00b", "submission_id"),
        ("/api/v1/submissions/0000%0A", "submission_id"),
        ("/api/v1/records/EM/TM/018%00", "number"),
        ("/api/v1/records/E%00/TM/018100001", "office"),
        ("/api/v1/records/EM/T%00/018100001/events", "ip_type"),
        ("/api/v1/records/EM/TM/018%FF/verify", "number"),
        ("/api/v1/offices/E%00", "office"),
        ("/api/v1/proposals/1%00", "proposal_id"),
        ("/api/v1/attestations/0x%00", "uid"),
    ):
        assert_problem(node.client.get(path, headers=auth), 422, field, "invalid-input")
    before = written(node)
    response = node.client.post("/api/v1/offices/E%00/events", json={}, headers=auth)
    assert_problem(response, 422, "office", "invalid-input")
    assert written(node) == before


# --- enumerations and dates ------------------------------------------------------------------


def test_enumerated_filters_name_their_catalogue(node: RunningNode) -> None:
    status = node.client.get("/api/v1/records?status=whatever")
    assert_problem(status, 422, "status")
    assert "'registered'" in status.json()["detail"]
    office = node.client.get("/api/v1/records?office=XX")
    assert_problem(office, 422, "office", "unknown-office")
    assert "EM" in office.json()["detail"] and "/api/v1/offices" in office.json()["detail"]
    assert_problem(node.client.get("/api/v1/events?office=XX"), 422, "office", "unknown-office")
    assert_problem(node.client.get("/api/v1/events?office=EMX"), 422, "office")
    assert_problem(node.client.get("/api/v1/records?type=XX"), 422, "type")
    state = node.client.get("/api/v1/proposals?state=bogus")
    assert_problem(state, 422, "state")
    assert "open" in state.json()["detail"]
    assert_problem(
        node.client.get("/api/v1/attestations?schema=bogus"), 422, "schema", "unknown-schema"
    )
    for good in ("status=registered", "office=em", "office=EM&type=TM&status=filed"):
        assert node.client.get(f"/api/v1/records?{good}").status_code == 200, good


@pytest.mark.parametrize(
    "value",
    ["20250101", "1700000000", "86400", "0", "2025-1-5", "2025-01-01T00:00:00", "2025-02-30"],
)
def test_dates_are_iso_8601_only(node: RunningNode, value: str) -> None:
    for name in ("filed_from", "filed_to", "registered_from", "registered_to"):
        assert_problem(node.client.get(f"/api/v1/records?{name}={value}"), 422, name)
    assert node.client.get("/api/v1/records?filed_from=2025-01-01").status_code == 200


# --- writes: token first, UTF-8 only ---------------------------------------------------------


WRITES = [
    EVENTS,
    "/api/v1/proposals",
    "/api/v1/attestations",
]


@pytest.mark.parametrize("path", WRITES)
def test_token_is_checked_before_the_body(node: RunningNode, path: str) -> None:
    before = written(node)
    for body, headers in (
        (b'{"broken', JSON),
        (b"\xff\xfe", JSON),
        (b"{}", {"Content-Type": "text/plain"}),
        (b"{}", {"Content-Type": "application/json; charset=latin-1"}),
        (b"[1, 2", {}),
    ):
        for auth in ({}, {"Authorization": "Bearer ipc_" + "x" * 43}, {"Authorization": "Basic x"}):
            response = node.client.post(path, content=body, headers=headers | auth)
            assert_problem(response, 401, "Authorization", "unauthenticated")
            assert response.headers["www-authenticate"] == "Bearer"
    assert written(node) == before


def test_charset_other_than_utf8_is_refused(node: RunningNode) -> None:
    auth = node.token("EM")
    before = written(node)
    body = json.dumps(event_document("EM/TM/018100001"), ensure_ascii=False).encode("utf-8")
    for charset in ("latin-1", "ISO-8859-1", "utf-16", '"windows-1252"', ""):
        headers = auth | {"Content-Type": f"application/json; charset={charset}"}
        response = node.client.post(EVENTS, content=body, headers=headers)
        assert_problem(response, 415, "Content-Type", "unsupported-media-type")
        verify = node.client.post("/api/v1/verify", content=b"{}", headers=headers)
        assert_problem(verify, 415, "Content-Type", "unsupported-media-type")
    assert written(node) == before
    accepted = node.client.post(
        EVENTS, content=body, headers=auth | {"Content-Type": 'application/json; charset="UTF-8"'}
    )
    assert accepted.status_code == 202, accepted.text


PROPOSAL_BODIES = [
    (
        {
            "action": "admit-office",
            "office": "XA",
            "account": "0x" + "1" * 40,
            "name": "x" * 100_000,
        },
        "name",
    ),
    (
        {"action": "admit-office", "office": "XA", "account": "0x" + "1" * 40, "name": "A\u0000B"},
        "name",
    ),
    (
        {"action": "admit-office", "office": "XA", "account": "0x" + "1" * 40, "name": "A\nB"},
        "name",
    ),
    ({"action": "approve-schema", "name": "string a\u0085"}, "name"),
    ({"action": "x" * 1000}, "action"),
    ({"action": "no-such-action"}, "action"),
    ({"action": "revoke-attestation", "uid": "0x" + "ab" * 1000}, "uid"),
]


@pytest.mark.parametrize("index", range(len(PROPOSAL_BODIES)))
def test_proposal_body_is_bounded(node: RunningNode, index: int) -> None:
    """A proposal's free text is bounded and clean before it reaches the chain: a 100 KB
    ``name`` once went to the node and came back 502, a NUL in it was proposed on chain."""
    body, field = PROPOSAL_BODIES[index]
    before = node.service.governance.proposal_count()
    response = node.client.post("/api/v1/proposals", json=body, headers=node.token("EM"))
    assert_problem(response, 422, field)
    assert node.service.governance.proposal_count() == before


# --- a database locked past its timeout --------------------------------------------------------


@pytest.fixture
def short_lock_node(
    start_node: Callable[..., RunningNode],
    embedded_dir: Path,
    database: Callable[[Path], str | None],
    monkeypatch: pytest.MonkeyPatch,
) -> RunningNode:
    """A node whose database gives up on a lock quickly: SQLite's busy timeout, PostgreSQL's
    lock_timeout, both 300 ms."""
    monkeypatch.setattr("ipchain.db.base.SQLITE_BUSY_TIMEOUT_MS", 300)
    url = database(embedded_dir)
    if url is not None:
        parsed = make_url(url)
        options = f"{parsed.query.get('options', '')} -clock_timeout=300".strip()
        url = parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)
    return start_node(embedded_dir, database_url=url)


@contextmanager
def database_locked(node: RunningNode, table: str) -> Iterator[None]:
    """Another connection holding a lock: on SQLite the write lock (readers in WAL mode are
    never blocked), on PostgreSQL an ACCESS EXCLUSIVE lock on ``table``."""
    engine = node.service.session_factory.kw["bind"]
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(engine.url.database, isolation_level=None, timeout=5)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    other = create_engine(engine.url)
    try:
        with other.connect() as connection, connection.begin():
            connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        other.dispose()


def test_database_locked_is_a_retryable_503(
    short_lock_node: RunningNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = short_lock_node
    auth = node.token("EM")
    before = written(node)
    if node.service.session_factory.kw["bind"].dialect.name == "postgresql":
        with database_locked(node, "records"):
            read = node.client.get("/api/v1/records?office=EM")
    else:  # SQLite readers never wait in WAL mode: the error a locked database raises
        with monkeypatch.context() as patch:
            locked = OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))
            patch.setattr(node.service.queries, "search_records", Mock(side_effect=locked))
            read = node.client.get("/api/v1/records?office=EM")
    assert_problem(read, 503, None, "database-busy")
    assert int(read.headers["retry-after"]) > 0
    document = event_document("EM/TM/018100002")
    with database_locked(node, "outbox"):
        write = node.client.post(EVENTS, json=document, headers=auth)
    # A write the database refuses stops anchoring for a moment (the node's fail-stop:
    # "anchoring-stopped"), or is plainly "database-busy": 503 with Retry-After either way.
    assert_problem(write, 503, None)
    assert int(write.headers["retry-after"]) > 0
    assert written(node) == before
    deadline = time.monotonic() + 30
    while (retried := node.client.post(EVENTS, json=document, headers=auth)).status_code == 503:
        assert time.monotonic() < deadline, retried.text
        time.sleep(int(retried.headers["retry-after"]) / 4)
    assert retried.status_code == 202, retried.text


# --- 405 and the OpenAPI document ------------------------------------------------------------


def test_method_not_allowed_lists_every_method(node: RunningNode) -> None:
    for method, path, allowed in (
        ("OPTIONS", "/api/v1/proposals", "GET, HEAD, POST"),
        ("DELETE", "/api/v1/attestations", "GET, HEAD, POST"),
        ("PUT", "/api/v1/records", "GET, HEAD"),
        ("DELETE", "/api/v1/offices/EM/events", "POST"),
        ("PATCH", "/api/v1/proposals/1/votes", "POST"),
        ("POST", "/api/v1/records/EM/TM/018100001", "GET, HEAD"),
    ):
        response = node.client.request(method, path)
        assert_problem(response, 405, None, "method-not-allowed")
        assert response.headers["allow"] == allowed, (method, path)


def test_openapi_declares_problems(node: RunningNode) -> None:
    document = node.client.get("/api/v1/openapi.json").json()
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    for name, operation in operations:
        responses = operation["responses"]
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (name, status)
        assert {"422", "503"} <= set(responses), name
        assert "Retry-After" in responses["503"]["headers"], name
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), name
        if operation.get("security"):
            assert "401" in responses, name
        if "{" in name:
            assert "404" in responses, name
    assert "HTTPValidationError" not in document["components"]["schemas"]
    search = document["paths"]["/api/v1/records"]["get"]["parameters"]
    by_name = {parameter["name"]: parameter["schema"] for parameter in search}
    assert by_name["offset"]["maximum"] == 10_000_000
    assert "registered" in json.dumps(by_name["status"])
    assert "date" in json.dumps(by_name["filed_from"])


# --- the server's own refusals, over a real connection ----------------------------------------


@pytest.fixture
def served(node: RunningNode) -> Iterator[int]:
    """The node's API behind uvicorn with ProblemH11Protocol (as ``ipchain serve`` runs it)
    on a free loopback port."""
    config = uvicorn.Config(
        node.client.app,
        host="127.0.0.1",
        port=0,
        http=ProblemH11Protocol,
        lifespan="off",
        log_level="error",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def exchange(port: int, data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send raw bytes, read until the server closes; the responses in order."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    responses = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        responses.append((int(lines[0].split()[1]), headers, rest[:length]))
        received = rest[length:]
    return responses


SERVER_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@SERVER_ONLY
def test_server_refusals_are_problems(node: RunningNode, served: int) -> None:
    before = written(node)
    token = node.service.create_token("EM")
    cases = {
        "oversized headers": (
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 20_000 + b"\r\n\r\n",
            431,
        ),
        "oversized headers in pieces": (
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + b"X-Padding: aaaa\r\n" * 2_000,
            431,
        ),
        "Content-Length not a number": (
            b"POST /api/v1/offices/EM/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + token.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}",
            400,
        ),
        "two Content-Lengths": (
            b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400,
        ),
        "Content-Length and chunked": (
            b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}\r\n\r\n",
            400,
        ),
        "malformed request line": (b"GET /api/v1/health\r\n\r\n", 400),
    }
    for name, (request, status) in cases.items():
        responses = exchange(served, request)
        assert responses, name
        code, headers, body = responses[-1]
        assert code == status, (name, body)
        assert headers["content-type"] == "application/problem+json", name
        problem = json.loads(body)
        assert problem["status"] == status and problem["code"], name
    # Content-Length shorter than the body: the request is answered with what the length
    # covers, the rest is refused as a malformed next request — both as problems.
    short = exchange(
        served,
        b"POST /api/v1/offices/EM/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n"
        + json.dumps(event_document("EM/TM/018100003")).encode()
        + b"\r\n\r\n",
    )
    assert [status for status, _, _ in short] == [400, 400]
    assert all(headers["content-type"] == "application/problem+json" for _, headers, _ in short)
    assert written(node) == before


@SERVER_ONLY
def test_bad_input_keeps_the_connection(served: int) -> None:
    """A refused parameter answers on the same keep-alive connection, which goes on serving
    (``offset`` ≥ 2^63 once answered 500 and dropped it)."""
    requests = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for path in (
            f"/api/v1/records?offset={BIG}",
            "/api/v1/records?text=%00",
            "/api/v1/proposals?offset=-1",
        )
    )
    responses = exchange(
        served, requests + b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert [status for status, _, _ in responses] == [422, 422, 422, 200]
    assert all(
        headers["content-type"] == "application/problem+json" for _, headers, _ in responses[:3]
    )
