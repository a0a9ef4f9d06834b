"""A node on a full disk: fail-stop, then recover by itself, losing and duplicating nothing.

* **During anchoring** — the embedded chain's data directory on a small tmpfs, filled while
  events wait to be anchored: no block is reported mined that is not on disk, ``/health`` turns
  ``unavailable`` with the reason, new submissions get ``503`` + ``Retry-After``, and once space
  returns the node anchors everything by itself. After a restart every accepted event is on the
  chain exactly once, and nothing reported anchored is missing from it.
* **During indexing** — the SQLite index (and outbox) on the small tmpfs: the indexer's range
  is rolled back whole and retried with back-off, ``/health`` says why, submissions are
  refused, and the index catches up once space returns; the audit of the index passes.
"""

from __future__ import annotations

import datetime
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ipchain.db.submissions import OutboxState, outbox
from ipchain.errors import VerificationError
from ipchain.keys import OfficeKey
from ipchain.verification.audit import audit
from tests.faults.conftest import small_disk
from tests.helpers.documents import event_document, to_anchor, trademark_event
from tests.helpers.nodes import RunningNode

EVENTS = "/api/v1/offices/EM/events"


def wait_for(condition: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.1)


def documents(start: int, count: int) -> list[dict[str, Any]]:
    return [event_document(f"EM/TM/0183{n:05d}") for n in range(start, start + count)]


def post(node: RunningNode, auth: dict[str, str], batch: list[dict[str, Any]]) -> Any:
    return node.client.post(EVENTS, json={"events": batch}, headers=auth)


def health(node: RunningNode) -> dict[str, Any]:
    """The health members: a 200's body, or a 503 node-unavailable problem's ``health``."""
    reply = node.client.get("/api/v1/health")
    body: dict[str, Any] = reply.json()
    if reply.status_code == 503:
        assert reply.headers["Retry-After"].isdigit()
        assert body["code"] == "node-unavailable" and body["detail"]
        return dict(body["health"])
    assert reply.status_code == 200, reply.text
    return body


def check_exactly_once(node: RunningNode, accepted: list[str]) -> None:
    """Every accepted event's record holds it on the chain exactly once; every outbox row
    reported anchored is on the chain where it says."""
    service = node.service
    ledger = service.node.ledger
    for submission_id in accepted:
        view = service.wait_for_submission("EM", submission_id, timeout=120)
        assert view.status == "anchored", view
        for entry in view.entries:
            assert [e.seq for e in ledger.record_entries(entry.record_key)] == [1]
    with service.session_factory() as session:
        rows = session.execute(
            select(outbox.c.entry_hash, outbox.c.block_number, outbox.c.state)
        ).all()
    head = service.chain_head()
    for entry_hash, block, state in rows:
        assert state == OutboxState.ANCHORED
        try:
            on_chain = ledger.entry_by_hash(bytes(entry_hash))
        except VerificationError:
            pytest.fail(f"0x{bytes(entry_hash).hex()} is reported anchored, not on the chain")
        assert on_chain.block_number == block <= head


@pytest.fixture
def node_dir(node_template: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "node"
    shutil.copytree(node_template, directory)
    return directory


def test_disk_full_during_anchoring(
    start_node: Callable[..., RunningNode], node_dir: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        chain = node_dir / "chain"
        shutil.copytree(chain, disk.path / "chain")
        shutil.rmtree(chain)
        chain.symlink_to(disk.path / "chain")

        node = start_node(node_dir)
        auth = node.token("EM")
        accepted = []
        first = post(node, auth, documents(0, 20))
        assert first.status_code == 202, first.text
        accepted.append(first.json()["id"])
        node.service.wait_until_idle(timeout=120)
        head = node.service.chain_head()

        disk.fill()
        during = post(node, auth, documents(100, 30))  # accepted: anchoring not stopped yet
        assert during.status_code == 202, during.text
        accepted.append(during.json()["id"])
        wait_for(lambda: health(node)["anchoring"] == "stopped", what="anchoring to stop")
        state = health(node)
        assert state["status"] == "unavailable", state
        assert any("No space left on device" in reason for reason in state["reasons"]), state
        refused = post(node, auth, documents(200, 5))
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"].isdigit()
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert refused.json()["code"] == "anchoring-stopped"
        # Nothing of the failed blocks outlives the failure: not mined, not anchored.
        assert node.service.chain_head() == head
        view = node.service.submissions.get("EM", during.json()["id"])
        assert view.status == "pending"
        assert {entry.state for entry in view.entries} <= {"pending", "sent"}

        disk.free()
        wait_for(lambda: health(node)["status"] == "ok", what="the node to recover")
        later = post(node, auth, documents(300, 10))
        assert later.status_code == 202, later.text
        accepted.append(later.json()["id"])
        node.service.wait_until_idle(timeout=120)
        check_exactly_once(node, accepted)

        # A restart finds every accepted event on the chain exactly once.
        node.client.close()
        node.service.stop()
        restarted = start_node(node_dir)
        restarted.service.wait_until_idle(timeout=120)
        check_exactly_once(restarted, accepted)
        report = audit(
            restarted.service.session_factory,
            restarted.service.node.backend,
            restarted.service.node.deployment,
        )
        assert report.ok, report.to_json()
        assert report.totals.anchored_events == 60
        restarted.client.close()
        restarted.service.stop()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_disk_full_during_indexing(
    start_node: Callable[..., RunningNode],
    node_dir: Path,
    tmp_path: Path,
    signer_keys: dict[str, OfficeKey],
) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        url = f"sqlite:///{disk.path / 'index.db'}"
        node = start_node(node_dir, database_url=url)
        auth = node.token("EM")
        first = post(node, auth, documents(0, 20))
        assert first.status_code == 202, first.text
        node.service.wait_until_idle(timeout=120)
        indexed = node.service.queries.indexed_block()

        disk.fill()
        ledger = node.service.node.ledger
        day = datetime.date(2025, 1, 15)

        def anchor_more(start: int) -> None:
            ledger.anchor(
                signer_keys["RU"],
                [
                    to_anchor(trademark_event(f"RU/TM/2024{n:07d}", "A10", day, mark="X" * 1000))
                    for n in range(start, start + 200)
                ],
            )

        # The WAL may have room for a while: anchor until the index write fails.
        start = 0
        deadline = time.monotonic() + 120
        while health(node)["indexing"] != "stopped":
            assert time.monotonic() < deadline, health(node)
            anchor_more(start)
            start += 200
            time.sleep(1.0)
        state = health(node)
        assert state["status"] == "unavailable", state
        assert any("indexing stopped" in reason for reason in state["reasons"]), state
        assert any("full" in reason for reason in state["reasons"]), state
        refused = post(node, auth, documents(100, 5))
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"].isdigit()
        # No partial range: the checkpoint is where whole ranges left it.
        assert node.service.queries.indexed_block() >= indexed

        disk.free()
        wait_for(lambda: health(node)["status"] == "ok", what="the node to recover")
        accepted = post(node, auth, documents(200, 10))
        assert accepted.status_code == 202, accepted.text
        node.service.wait_until_idle(timeout=180)
        assert node.service.queries.indexed_block() == node.service.chain_head()
        stats = node.service.queries.office_stats()
        assert stats["RU"]["events"] == start
        assert stats["EM"]["events"] == 30
        check_exactly_once(node, [first.json()["id"], accepted.json()["id"]])
        report = audit(
            node.service.session_factory, node.service.node.backend, node.service.node.deployment
        )
        assert report.ok, report.to_json()
        node.client.close()
        node.service.stop()
