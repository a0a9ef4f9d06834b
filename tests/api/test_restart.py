"""Restarts: the outbox resumes, a crash in the middle of a round anchors nothing twice, a
revert fails only its own submission, the indexer resumes from its checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ipchain.db.submissions import outbox
from tests.helpers.documents import event_document
from tests.helpers.nodes import RunningNode

EVENTS = "/api/v1/offices/EM/events"


def submit(node: RunningNode, auth: dict[str, str], documents: list[dict[str, Any]]) -> str:
    response = node.client.post(EVENTS, json={"events": documents}, headers=auth)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def histories() -> list[list[dict[str, Any]]]:
    """Three requests: two records with histories spread over requests, one new record."""
    return [
        [event_document("EM/TM/018200001"), event_document("EM/TM/018200002", mark="ZEPHYR")],
        [
            event_document("EM/TM/018200001", "D10", "2025-02-01"),
            event_document("EM/TM/018200003", mark="ORKAN"),
        ],
        [
            event_document("EM/TM/018200001", "F10", "2025-07-01"),
            event_document("EM/TM/018200002", "B10", "2025-03-01"),
        ],
    ]


def assert_anchored_once(node: RunningNode, ids: list[str], expected: dict[str, list[str]]) -> None:
    """Every submission anchored; each record's history on the chain itself is exactly the
    expected codes (nothing twice), and the index agrees."""
    for submission_id in ids:
        view = node.service.wait_for_submission("EM", submission_id)
        assert view.status == "anchored", view
    ledger = node.service.node.ledger
    for record_key, codes in expected.items():
        assert [entry.event_code for entry in ledger.record_entries(record_key)] == codes
        number = record_key.rsplit("/", 1)[1]
        indexed = node.client.get(f"/api/v1/records/EM/TM/{number}/events").json()["items"]
        assert [event["event_code"] for event in indexed] == codes


EXPECTED = {
    "EM/TM/018200001": ["A10", "D10", "F10"],
    "EM/TM/018200002": ["A10", "B10"],
    "EM/TM/018200003": ["A10"],
}


def test_outbox_resumes_after_restart(
    start_node: Callable[..., RunningNode], embedded_dir: Path
) -> None:
    first = start_node(embedded_dir, run_submitter=False)
    auth = first.token("EM")
    head = first.service.chain_head()
    ids = [submit(first, auth, documents) for documents in histories()]
    assert first.service.outbox_backlog() == 6
    assert first.service.chain_head() == head  # nothing sent
    first.service.stop()

    second = start_node(embedded_dir)
    assert_anchored_once(second, ids, EXPECTED)
    assert second.service.outbox_backlog() == 0


@pytest.mark.parametrize("crash", ["before sending", "after mining"])
def test_crash_in_the_middle_of_a_round(
    start_node: Callable[..., RunningNode], embedded_dir: Path, crash: str
) -> None:
    """Rows marked 'sent' when the node died: whether or not their transaction made it, the
    next start settles them from the chain and anchors each event exactly once."""
    first = start_node(embedded_dir, run_submitter=False)
    auth = first.token("EM")
    ids = [submit(first, auth, documents) for documents in histories()]
    submitter = first.service.submitter
    backend = submitter.ledger.backend

    class Crash(Exception):
        pass

    if crash == "before sending":

        def send(raw: Any) -> Any:
            raise Crash

        backend.send_raw_transactions = send  # type: ignore[method-assign]
    else:

        def write_outcome(outcome: Any) -> None:
            raise Crash

        submitter._write_outcome = write_outcome  # type: ignore[method-assign]
    with pytest.raises(Crash):
        submitter.run_once()
    with first.service.session_factory() as session:
        states = set(session.scalars(select(outbox.c.state)))
    assert states == {"sent"}
    first.service.stop()

    second = start_node(embedded_dir)
    assert_anchored_once(second, ids, EXPECTED)


def test_revert_fails_only_its_submission(
    start_node: Callable[..., RunningNode], embedded_dir: Path
) -> None:
    """A transaction the contract refuses fails the submission whose event caused it; the
    other submissions of the round are anchored."""
    node = start_node(embedded_dir, run_submitter=False)  # the submitter is driven by hand
    auth = node.token("EM")
    good_id = submit(node, auth, histories()[0])
    bad_id = submit(node, auth, [event_document("EM/TM/018200009")])
    later_id = submit(node, auth, [event_document("EM/TM/018200010")])
    with node.service.session_factory() as session:
        # Tamper with the stored document's hash behind validation's back.
        session.execute(
            update(outbox).where(outbox.c.submission_id == bad_id).values(document_hash=b"\1" * 32)
        )
        session.commit()
    node.service.submitter.run_until_idle()
    views = {i: node.service.submissions.get("EM", i) for i in (good_id, bad_id, later_id)}
    assert views[good_id].status == views[later_id].status == "anchored"
    failed = views[bad_id]
    assert failed.status == "failed"
    assert failed.error_code == "contract-revert"
    assert failed.error_message is not None
    assert "RegisterDocumentHashMismatch" in failed.error_message
    assert failed.error_field == "events[0]"
    assert [entry.state for entry in failed.entries] == ["failed"]
    assert node.service.node.ledger.head_of("EM/TM/018200009")[1] == 0


def test_indexer_resumes_from_its_checkpoint(
    start_node: Callable[..., RunningNode], embedded_dir: Path
) -> None:
    first = start_node(embedded_dir)
    auth = first.token("EM")
    batches = histories()
    done = first.service.wait_for_submission("EM", submit(first, auth, batches[0]))
    assert done.indexed
    checkpoint = first.service.queries.indexed_block()
    assert checkpoint > 0
    first.service.stop()

    # Anchored while no indexer runs: on the chain, not in the index.
    second = start_node(embedded_dir, run_indexer=False)
    for documents in batches[1:]:
        submission_id = submit(second, auth, documents)
        view = second.service.wait_for_submission("EM", submission_id, 30, indexed=False)
        assert view.status == "anchored" and not view.indexed
    assert second.service.queries.indexed_block() == checkpoint
    stale = second.client.get("/api/v1/records/EM/TM/018200001").json()
    assert stale["event_count"] == 1
    second.service.stop()

    third = start_node(embedded_dir)
    third.service.wait_until_idle(60)
    assert third.service.queries.indexed_block() > checkpoint
    assert_anchored_once(third, [], EXPECTED)
    total = sum(len(codes) for codes in EXPECTED.values())
    stats = third.client.get("/api/v1/offices/EM").json()["counts"]
    assert stats["events"] == total


def test_entry_already_on_chain_is_taken_as_done(
    start_node: Callable[..., RunningNode], embedded_dir: Path
) -> None:
    """An event anchored by someone else's transaction (here: the same entry sent outside the
    submitter, as a lost-and-retried transaction would be) is refused by the contract as a
    replay, and the submitter records it as anchored instead of failing or duplicating it."""
    from ipchain.encoding import ZERO_HASH
    from ipchain.register.ledger import EventToAnchor

    node = start_node(embedded_dir, run_submitter=False)
    auth = node.token("EM")
    submission_id = submit(node, auth, histories()[0])
    with node.service.session_factory() as session:
        first = session.execute(
            select(
                outbox.c.record_key, outbox.c.event_code, outbox.c.document_hash, outbox.c.document
            )
            .where(outbox.c.submission_id == submission_id)
            .order_by(outbox.c.position)
        ).first()
    assert first is not None
    submitter = node.service.submitter
    submitter.ledger.anchor(
        submitter._keys["EM"],
        [
            EventToAnchor(
                first.record_key, first.event_code, first.document_hash, first.document.encode()
            )
        ],
        known_heads={first.record_key: (ZERO_HASH, 0)},
    )
    submitter.run_until_idle()
    view = node.service.wait_for_submission("EM", submission_id)
    assert view.status == "anchored"
    for record_key in ("EM/TM/018200001", "EM/TM/018200002"):
        assert len(submitter.ledger.record_entries(record_key)) == 1


def test_transaction_mined_after_reconcile_is_not_sent_again(
    start_node: Callable[..., RunningNode], embedded_dir: Path
) -> None:
    """Rows put back to pending because their transaction was not visible at restart (a
    JSON-RPC node still holding it) are found anchored before they are sent again."""
    first = start_node(embedded_dir, run_submitter=False)
    auth = first.token("EM")
    submitter = first.service.submitter
    batches = histories()
    ids = [submit(first, auth, batches[0])]
    submitter.run_until_idle()  # the filings are anchored; later events build on them
    ids += [submit(first, auth, documents) for documents in batches[1:]]

    def crash(outcome: Any) -> None:
        raise RuntimeError("killed")

    submitter._write_outcome = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        submitter.run_once()
    with first.service.session_factory() as session:
        # What reconcile() does when it cannot see the transaction yet.
        session.execute(update(outbox).where(outbox.c.state == "sent").values(state="pending"))
        session.commit()
    first.service.stop()

    second = start_node(embedded_dir)
    assert_anchored_once(second, ids, EXPECTED)
