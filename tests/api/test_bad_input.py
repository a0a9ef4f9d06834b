"""Bad requests: each a 4xx problem naming the field and the reason, and nothing written —
no submission, no outbox row, no chain transaction, no part of a batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from ipchain.db.submissions import outbox, submissions
from tests.helpers.documents import event_document
from tests.helpers.nodes import RunningNode

EVENTS = "/api/v1/offices/EM/events"
JSON = {"Content-Type": "application/json"}


def good() -> dict[str, Any]:
    return event_document("EM/TM/018100001")


def batch_with(bad: dict[str, Any]) -> bytes:
    return json.dumps({"events": [good(), event_document("EM/TM/018100002"), bad]}).encode()


def with_fields(**fields: Any) -> dict[str, Any]:
    return good() | fields


# (request body, expected status, code, field)
CASES: dict[str, tuple[bytes, int, str, str]] = {
    "malformed JSON": (b'{"schema": "ipchain/register-event/v1",', 400, "malformed-json", "body"),
    "duplicate member": (
        b'{"schema": "a", "schema": "b"}',
        400,
        "malformed-json",
        "body",
    ),
    "empty body": (b"", 400, "malformed-json", "body"),
    "not an object": (b'"A10"', 422, "invalid-input", "body"),
    "unknown field": (
        json.dumps(with_fields(colour="red")).encode(),
        422,
        "invalid-input",
        "colour",
    ),
    "unknown nested field": (
        json.dumps(
            with_fields(record_data=good()["record_data"] | {"mark_colour": "red"})
        ).encode(),
        422,
        "invalid-input",
        "record_data.mark_colour",
    ),
    "unknown event code": (
        json.dumps(with_fields(event_code="A99")).encode(),
        422,
        "unknown-event-code",
        "event_code",
    ),
    "date in the wrong format": (
        json.dumps(with_fields(event_date="15.01.2025")).encode(),
        422,
        "invalid-input",
        "event_date",
    ),
    "impossible date": (
        json.dumps(with_fields(event_date="2025-02-30")).encode(),
        422,
        "invalid-input",
        "event_date",
    ),
    "record key of another office": (
        json.dumps(event_document("AU/TM/1500001")).encode(),
        403,
        "foreign-record",
        "record_key",
    ),
    "record key not normalised": (
        json.dumps(with_fields(record_key="EM/TM/018 100 001")).encode(),
        422,
        "invalid-record-key",
        "record_key",
    ),
    "renewal of a record never registered": (
        json.dumps(event_document("EM/TM/018100009", "M10")).encode(),
        422,
        "invalid-state-transition",
        "event_code",
    ),
    "unsafe integer": (
        b'{"schema": "ipchain/register-event/v1", "n": 9007199254740993}',
        422,
        "not-canonicalizable",
        "body",
    ),
    "one bad event in a batch (unknown code)": (
        batch_with(event_document("EM/TM/018100003") | {"event_code": "Q99"}),
        422,
        "unknown-event-code",
        "events[2].event_code",
    ),
    "one bad event in a batch (wrong date)": (
        batch_with(
            event_document("EM/TM/018100003")
            | {"record_data": good()["record_data"] | {"application_date": "2025/01/15"}}
        ),
        422,
        "invalid-input",
        "events[2].record_data.application_date",
    ),
    "one bad event in a batch (transition)": (
        batch_with(event_document("EM/TM/018100001", "A10")),
        422,
        "invalid-state-transition",
        "events[2].event_code",
    ),
    "one bad event in a batch (other office)": (
        batch_with(event_document("RU/TM/20257000001")),
        403,
        "foreign-record",
        "events[2].record_key",
    ),
    "batch with an unknown member": (
        json.dumps({"events": [good()], "note": "x"}).encode(),
        422,
        "invalid-input",
        "note",
    ),
    "empty batch": (json.dumps({"events": []}).encode(), 422, "invalid-input", "events"),
}


def written(node: RunningNode) -> tuple[int, int, int]:
    with node.service.session_factory() as session:
        counts = tuple(
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (submissions, outbox)
        )
    return counts[0], counts[1], node.service.chain_head()


def assert_problem(response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"/api/v1/problems/{code}"
    assert problem["field"] == field
    assert problem["detail"] and problem["title"]
    assert problem["instance"] == EVENTS


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_events_are_refused_whole(node: RunningNode, case: str) -> None:
    auth = node.token("EM")
    before = written(node)
    content, status, code, field = CASES[case]
    response = node.client.post(EVENTS, content=content, headers=auth | JSON)
    assert_problem(response, status, code, field)
    assert written(node) == before


CREDENTIAL_CASES: dict[str, tuple[Callable[[RunningNode], dict[str, str]], int, str, str]] = {
    "missing credential": (lambda node: {}, 401, "unauthenticated", "Authorization"),
    "invalid credential": (
        lambda node: {"Authorization": "Bearer ipc_" + "x" * 43},
        401,
        "unauthenticated",
        "Authorization",
    ),
    "not a bearer credential": (
        lambda node: {"Authorization": "Basic ZW06c2VjcmV0"},
        401,
        "unauthenticated",
        "Authorization",
    ),
    "another office's credential": (lambda node: node.token("AU"), 403, "forbidden", "office"),
}


@pytest.mark.parametrize("case", sorted(CREDENTIAL_CASES))
def test_credentials(node: RunningNode, case: str) -> None:
    headers, status, code, field = CREDENTIAL_CASES[case]
    before = written(node)
    response = node.client.post(EVENTS, json=good(), headers=headers(node))
    assert_problem(response, status, code, field)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert written(node) == before


def test_revoked_token(node: RunningNode) -> None:
    from ipchain.node.tokens import list_tokens, revoke_token

    token = node.service.create_token("EM")
    with node.service.session_factory() as session:
        (made,) = list_tokens(session, "EM")
    with node.service.session_factory() as session:
        revoke_token(session, made.id)
        session.commit()
    response = node.client.post(EVENTS, json=good(), headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "unauthenticated", "Authorization")


def test_oversized_body(node: RunningNode) -> None:
    auth = node.token("EM")
    before = written(node)
    huge = json.dumps({"events": [good()] * 30_000}).encode()
    assert len(huge) > 5 * 1024 * 1024
    response = node.client.post(EVENTS, content=huge, headers=auth | JSON)
    assert_problem(response, 413, "payload-too-large", "body")

    def chunks() -> Any:  # no Content-Length: the limit applies while the body streams in
        for start in range(0, len(huge), 1 << 20):
            yield huge[start : start + (1 << 20)]

    response = node.client.post(EVENTS, content=chunks(), headers=auth | JSON)
    assert_problem(response, 413, "payload-too-large", "body")
    assert written(node) == before


def test_wrong_media_type(node: RunningNode) -> None:
    response = node.client.post(
        EVENTS,
        content=json.dumps(good()).encode(),
        headers=node.token("EM") | {"Content-Type": "text/plain"},
    )
    assert_problem(response, 415, "unsupported-media-type", "body")


def test_query_parameters_are_checked(node: RunningNode) -> None:
    for query, field in (
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("filed_from=2025-13-01", "filed_from"),
        ("registered_to=yesterday", "registered_to"),
        ("nice_class=46", "nice_class"),
        ("type=XX", "type"),
        ("sort=colour", "sort"),
        ("fields=record_key,colour", "fields"),
    ):
        response = node.client.get(f"/api/v1/records?{query}")
        assert response.status_code == 422, query
        assert response.json()["field"] == field, query
    cursor = node.client.get("/api/v1/events?cursor=not-a-cursor")
    assert cursor.status_code == 422
    assert cursor.json()["field"] == "cursor"
    missing = node.client.get("/api/v1/records/EM/TM/999999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not-found"
