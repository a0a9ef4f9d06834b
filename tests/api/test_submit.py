"""Submitting register events through the API: accepted, anchored, visible; retries are safe."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ipchain.db.submissions import outbox, submissions
from tests.helpers.documents import body, event_document
from tests.helpers.nodes import RunningNode

EVENTS = "/api/v1/offices/EM/events"


def wait_done(node: RunningNode, location: str, headers: dict[str, str]) -> dict[str, Any]:
    """Poll a submission until it failed, or is anchored and indexed."""
    deadline = time.monotonic() + 60
    while True:
        submission: dict[str, Any] = node.client.get(location, headers=headers).json()
        if submission["status"] == "failed" or submission["indexed"]:
            return submission
        assert time.monotonic() < deadline, submission
        time.sleep(0.02)


def count(node: RunningNode, table: Any) -> int:
    with node.service.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_submit_anchor_and_read_back(node: RunningNode) -> None:
    auth = node.token("EM")
    documents = [
        event_document("EM/TM/018000001", mark="NORDLICHT"),
        event_document("EM/TM/018000002", mark="SÜDWIND"),
        event_document("EM/TM/018000001", "D10", "2025-02-01"),
        event_document("EM/TM/018000001", "F10", "2025-06-01"),
    ]
    response = node.client.post(EVENTS, json={"events": documents}, headers=auth)
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "pending"
    assert response.headers["location"] == f"/api/v1/submissions/{accepted['id']}"

    done = wait_done(node, response.headers["location"], auth)
    assert done["status"] == "anchored" and done["error"] is None
    assert [entry["state"] for entry in done["entries"]] == ["anchored"] * 4
    assert [entry["seq"] for entry in done["entries"]] == [1, 1, 2, 3]

    record = node.client.get("/api/v1/records/EM/TM/018000001").json()
    assert record["status"] == "registered"
    assert record["mark_text"] == "NORDLICHT"
    assert record["event_count"] == 3
    history = node.client.get("/api/v1/records/EM/TM/018000001/events").json()["items"]
    assert [event["event_code"] for event in history] == ["A10", "D10", "F10"]
    # The submission's entry hashes are the record's hash chain on the chain.
    assert [event["entry_hash"] for event in history] == [
        done["entries"][i]["entry_hash"] for i in (0, 2, 3)
    ]
    assert [event["prev_entry_hash"] for event in history[1:]] == [
        event["entry_hash"] for event in history[:-1]
    ]
    assert history[0]["document"] == documents[0]
    assert record["head_entry_hash"] == history[-1]["entry_hash"]


def test_single_event_form_and_status_after_pending_events(node: RunningNode) -> None:
    """Events are checked against indexed history plus what is still on its way."""
    auth = node.token("EM")
    filed = node.client.post(EVENTS, json=event_document("EM/TM/018000010"), headers=auth)
    assert filed.status_code == 202
    # Registration right after the filing, before it is anchored: the outbox says "filed".
    registered = node.client.post(
        EVENTS, json=event_document("EM/TM/018000010", "F10", "2025-05-05"), headers=auth
    )
    assert registered.status_code == 202, registered.json()
    renewed = node.client.post(
        EVENTS, json=event_document("EM/TM/018000010", "M10", "2035-01-15"), headers=auth
    )
    assert renewed.status_code == 202, renewed.json()
    for response in (filed, registered, renewed):
        assert wait_done(node, response.headers["location"], auth)["status"] == "anchored"
    assert node.client.get("/api/v1/records/EM/TM/018000010").json()["event_count"] == 3


def test_idempotent_retry(node: RunningNode) -> None:
    auth = node.token("EM") | {"Idempotency-Key": "batch-2025-0001"}
    documents = [event_document("EM/TM/018000020"), event_document("EM/TM/018000021")]
    first = node.client.post(EVENTS, json={"events": documents}, headers=auth)
    assert first.status_code == 202
    # The client lost the answer and retries, before and after the events are anchored.
    again = node.client.post(EVENTS, json={"events": documents}, headers=auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    wait_done(node, first.headers["location"], auth)
    later = node.client.post(EVENTS, json={"events": documents}, headers=auth)
    assert later.status_code == 200
    assert later.json()["id"] == first.json()["id"]
    assert later.json()["status"] == "anchored"
    # Formatting does not matter, the JSON does.
    spaced = node.client.post(
        EVENTS,
        content=body(documents).replace(b":", b": "),
        headers=auth | {"Content-Type": "application/json"},
    )
    assert spaced.json()["id"] == first.json()["id"]

    other = node.client.post(EVENTS, json={"events": documents[:1]}, headers=auth)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency-key-reused"
    assert other.json()["field"] == "Idempotency-Key"

    assert count(node, submissions) == 1
    assert count(node, outbox) == 2
    history = node.client.get("/api/v1/records/EM/TM/018000020/events").json()["items"]
    assert len(history) == 1


def test_idempotency_keys_are_per_office(node: RunningNode) -> None:
    key = {"Idempotency-Key": "same-key"}
    em = node.client.post(
        EVENTS, json=event_document("EM/TM/018000030"), headers=node.token("EM") | key
    )
    au = node.client.post(
        "/api/v1/offices/AU/events",
        json=event_document("AU/TM/1500030"),
        headers=node.token("AU") | key,
    )
    assert em.status_code == au.status_code == 202
    assert em.json()["id"] != au.json()["id"]


def test_submission_visible_to_its_office_only(node: RunningNode) -> None:
    auth = node.token("EM")
    location = node.client.post(
        EVENTS, json=event_document("EM/TM/018000040"), headers=auth
    ).headers["location"]
    assert node.client.get(location, headers=auth).status_code == 200
    other = node.client.get(location, headers=node.token("AU"))
    assert other.status_code == 404
    assert other.json()["code"] == "not-found"
    anonymous = node.client.get(location)
    assert anonymous.status_code == 401


def test_requests_are_batched_across(
    start_node: Callable[..., RunningNode], embedded_dir: Path
) -> None:
    """Many small requests of three offices become one transaction per office."""
    node = start_node(embedded_dir, run_submitter=False)
    tokens = {office: node.token(office) for office in ("EM", "AU", "RU")}
    numbers = {"EM": "018{:06d}", "AU": "15{:05d}", "RU": "20257{:06d}"}
    ids: list[tuple[str, str]] = []
    for request in range(12):
        office = ("EM", "AU", "RU")[request % 3]
        documents = [
            event_document(f"{office}/TM/" + numbers[office].format(request * 10 + i))
            for i in range(5)
        ]
        response = node.client.post(
            f"/api/v1/offices/{office}/events", json={"events": documents}, headers=tokens[office]
        )
        assert response.status_code == 202
        ids.append((office, response.json()["id"]))
    node.service.submitter.run_until_idle()
    transactions = set()
    for office, submission_id in ids:
        view = node.service.submissions.get(office, submission_id)
        assert view.status == "anchored"
        transactions |= {entry.transaction_hash for entry in view.entries}
    assert len(transactions) == 3


def test_concurrent_requests(node: RunningNode) -> None:
    """Clients posting at once, some extending records others filed: every event anchored
    once, in a valid order."""
    auth = node.token("EM")
    errors: list[str] = []

    def client(index: int) -> None:
        key = f"EM/TM/0185{index:05d}"
        for documents in (
            [event_document(key)],
            [event_document(key, "D10", "2025-02-01"), event_document(key, "Q10", "2025-03-01")],
            [event_document(key, "F10", "2025-06-01")],
        ):
            response = node.client.post(EVENTS, json={"events": documents}, headers=auth)
            if response.status_code != 202:
                errors.append(response.text)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    node.service.wait_until_idle(60)
    for index in range(8):
        record = node.client.get(f"/api/v1/records/EM/TM/0185{index:05d}").json()
        assert record["status"] == "registered"
        assert record["event_count"] == 4
