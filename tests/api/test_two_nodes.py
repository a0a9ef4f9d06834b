"""Two offices, two nodes, one chain: what EM submits to its node, AU's node shows — read from
the chain by AU's own indexer into AU's own database, never from EM's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ipchain.chain.anvil import AnvilNode
from tests.helpers.documents import event_document
from tests.helpers.nodes import RunningNode, anvil_node_dirs

pytestmark = pytest.mark.anvil


def test_other_office_node_sees_anchored_events(
    start_node: Callable[..., RunningNode],
    node_template: Path,
    anvil: AnvilNode,
    tmp_path: Path,
) -> None:
    em_dir, au_dir = anvil_node_dirs(node_template, anvil, tmp_path, ["EM", "AU"])
    em = start_node(em_dir, offices=("EM",), rpc_url=anvil.url)
    au = start_node(au_dir, offices=("AU",), rpc_url=anvil.url)
    assert (
        em.service.settings.resolved_database_url() != au.service.settings.resolved_database_url()
    )

    auth = em.token("EM")
    documents = [
        event_document("EM/TM/018300001", mark="POLARIS"),
        event_document("EM/TM/018300002", mark="VEGA"),
        event_document("EM/TM/018300001", "D10", "2025-02-02"),
    ]
    response = em.client.post("/api/v1/offices/EM/events", json={"events": documents}, headers=auth)
    assert response.status_code == 202, response.text
    submission = em.service.wait_for_submission("EM", response.json()["id"])
    assert submission.status == "anchored"

    # AU's node, pointing at the same chain, indexes EM's events by itself.
    deadline = time.monotonic() + 30
    while True:
        seen = au.client.get("/api/v1/records/EM/TM/018300001")
        if seen.status_code == 200 and seen.json()["event_count"] == 2:
            break
        assert time.monotonic() < deadline, seen.text
        time.sleep(0.05)
    record: dict[str, Any] = seen.json()
    assert record["status"] == "examination"
    assert record["mark_text"] == "POLARIS"
    history = au.client.get("/api/v1/records/EM/TM/018300001/events").json()["items"]
    assert [event["entry_hash"] for event in history] == [
        submission.entries[0].entry_hash,
        submission.entries[2].entry_hash,
    ]
    assert history[0]["document"] == documents[0]
    assert history[0]["signer"] == em.service.submitter._keys["EM"].address
    found = au.client.get("/api/v1/records?office=EM&text=vega").json()["items"]
    assert [item["record_key"] for item in found] == ["EM/TM/018300002"]
    feed = au.client.get("/api/v1/events?office=EM").json()["items"]
    assert len(feed) == 3

    # AU's node writes AU records only: it has no key for EM, and AU's token is AU's.
    au_auth = au.token("AU")
    foreign = au.client.post(
        "/api/v1/offices/AU/events", json=event_document("EM/TM/018300009"), headers=au_auth
    )
    assert foreign.status_code == 403 and foreign.json()["code"] == "foreign-record"
    no_key = au.client.post(
        "/api/v1/offices/EM/events", json=event_document("EM/TM/018300009"), headers=au.token("EM")
    )
    assert no_key.status_code == 403
    own = au.client.post(
        "/api/v1/offices/AU/events", json=event_document("AU/TM/1500001"), headers=au_auth
    )
    assert own.status_code == 202
    assert au.service.wait_for_submission("AU", own.json()["id"]).status == "anchored"

    # ... and EM's node sees AU's record in turn.
    deadline = time.monotonic() + 30
    while em.client.get("/api/v1/records/AU/TM/1500001").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    offices = em.client.get("/api/v1/offices").json()["items"]
    assert {o["code"]: o["counts"]["records"] for o in offices} == {"EM": 2, "AU": 1, "RU": 0}
