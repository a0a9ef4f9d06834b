"""When the indexer rewinds (a reorg, or a chain that lost blocks), every outbox row anchored
above the rewind point goes back to be checked against the chain, and is sent again when its
entry is not there: an accepted event ends up anchored exactly once. Tested on anvil with
``evm_snapshot``/``evm_revert``."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.rpc import RpcChain
from ipchain.db.indexer import Indexer
from ipchain.db.register import events
from ipchain.db.submissions import OutboxState, outbox
from ipchain.register.indexing import register_handlers
from ipchain.register.submissions import SubmissionService
from ipchain.register.submitter import Submitter
from tests.helpers.consortium import Consortium
from tests.helpers.documents import event_document

KEYS = ("EM/TM/018400001", "EM/TM/018400002", "EM/TM/018400003")


def outbox_rows(sessions: sessionmaker[Session]) -> list[tuple[str, int | None, bytes | None]]:
    with sessions() as session:
        return [
            (row.state, row.block_number, row.entry_hash)
            for row in session.execute(
                select(outbox.c.state, outbox.c.block_number, outbox.c.entry_hash).order_by(
                    outbox.c.id
                )
            )
        ]


@pytest.mark.anvil
@pytest.mark.parametrize("backend", ["anvil"], indirect=True)
def test_rows_anchored_in_dropped_blocks_are_rechecked_and_sent_again(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    chain = consortium.backend
    assert isinstance(chain, RpcChain)
    submissions = SubmissionService(sessions, offices={"EM"}, indexed_block=lambda: 0)
    submitter = Submitter(consortium.ledger, sessions, {"EM": consortium.signers["EM"]})
    indexer = Indexer(chain, consortium.deployment, sessions, register_handlers())

    snapshot = chain.request("evm_snapshot", [])
    first = submissions.submit("EM", [event_document(key) for key in KEYS[:2]])
    submitter.run_until_idle()
    kept = submissions.submit("EM", [event_document(KEYS[2])])  # in a block kept below
    indexer.run_once()
    assert submissions.get("EM", first.id).status == "anchored"

    # The chain loses the blocks (and grows others): the indexer rewinds below them.
    assert chain.request("evm_revert", [snapshot]) is True
    chain.request("anvil_mine", [hex(5)])
    indexer.run_once()
    rows = outbox_rows(sessions)
    assert [state for state, _, _ in rows[:2]] == [OutboxState.SENT, OutboxState.SENT]
    assert submissions.get("EM", first.id).status == "pending"
    assert rows[2][0] == OutboxState.PENDING  # never anchored: untouched

    # The submitter looks them up, finds them gone, and anchors them again: once each.
    submitter.run_until_idle()
    indexer.run_once()
    assert submissions.get("EM", first.id).status == "anchored"
    assert submissions.get("EM", kept.id).status == "anchored"
    for key in KEYS:
        assert [entry.seq for entry in consortium.ledger.record_entries(key)] == [1]
    for state, block, entry_hash in outbox_rows(sessions):
        assert state == OutboxState.ANCHORED
        assert entry_hash is not None
        assert consortium.ledger.entry_by_hash(entry_hash).block_number == block


@pytest.mark.anvil
@pytest.mark.parametrize("backend", ["anvil"], indirect=True)
def test_rows_anchored_above_a_shorter_chain_are_rechecked_at_start(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    """The chain lost the blocks before the indexer read them: the submitter's start-up
    reconcile finds rows anchored above the chain's head and anchors them again."""
    chain = consortium.backend
    assert isinstance(chain, RpcChain)
    submissions = SubmissionService(sessions, offices={"EM"}, indexed_block=lambda: 0)
    submitter = Submitter(consortium.ledger, sessions, {"EM": consortium.signers["EM"]})
    snapshot = chain.request("evm_snapshot", [])
    first = submissions.submit("EM", [event_document(key) for key in KEYS])
    submitter.run_until_idle()
    assert submissions.get("EM", first.id).status == "anchored"
    assert chain.request("evm_revert", [snapshot]) is True

    restarted = Submitter(consortium.ledger, sessions, {"EM": consortium.signers["EM"]})
    restarted.run_until_idle()
    assert submissions.get("EM", first.id).status == "anchored"
    for key in KEYS:
        assert [entry.seq for entry in consortium.ledger.record_entries(key)] == [1]
    for state, block, entry_hash in outbox_rows(sessions):
        assert state == OutboxState.ANCHORED and entry_hash is not None
        assert consortium.ledger.entry_by_hash(entry_hash).block_number == block


def assert_anchored_once(consortium: Consortium, sessions: sessionmaker[Session]) -> None:
    for key in KEYS:
        assert [entry.seq for entry in consortium.ledger.record_entries(key)] == [1]
    for state, block, entry_hash in outbox_rows(sessions):
        assert state == OutboxState.ANCHORED and entry_hash is not None
        assert consortium.ledger.entry_by_hash(entry_hash).block_number == block


@pytest.mark.anvil
@pytest.mark.parametrize("backend", ["anvil"], indirect=True)
def test_a_block_replaced_before_the_indexer_read_it_sends_its_rows_again(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    """The chain replaced the rows' block at the same height before the indexer read it, so
    the indexer never rewinds: indexing that height finds the rows' entries missing there and
    sends the rows back to be looked up."""
    chain = consortium.backend
    assert isinstance(chain, RpcChain)
    submissions = SubmissionService(sessions, offices={"EM"}, indexed_block=lambda: 0)
    submitter = Submitter(consortium.ledger, sessions, {"EM": consortium.signers["EM"]})
    indexer = Indexer(chain, consortium.deployment, sessions, register_handlers())
    indexer.run_once()
    snapshot = chain.request("evm_snapshot", [])
    first = submissions.submit("EM", [event_document(key) for key in KEYS])
    submitter.run_until_idle()
    assert submissions.get("EM", first.id).status == "anchored"
    assert chain.request("evm_revert", [snapshot]) is True
    chain.request("anvil_mine", [hex(5)])  # the same heights, other blocks

    indexer.run_once()
    assert [state for state, _, _ in outbox_rows(sessions)] == [OutboxState.SENT] * 3
    assert submissions.get("EM", first.id).status == "pending"
    submitter.run_until_idle()
    indexer.run_once()
    assert submissions.get("EM", first.id).status == "anchored"
    assert_anchored_once(consortium, sessions)


@pytest.mark.anvil
@pytest.mark.parametrize("backend", ["anvil"], indirect=True)
def test_rows_are_not_marked_anchored_in_a_block_the_index_holds_without_them(
    consortium: Consortium, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the submitter read the receipts, then the chain dropped their block and the
    indexer read the replacement before the submitter wrote its outcome. The rows must not be
    marked anchored in a block the index holds without them."""
    chain = consortium.backend
    assert isinstance(chain, RpcChain)
    submissions = SubmissionService(sessions, offices={"EM"}, indexed_block=lambda: 0)
    submitter = Submitter(consortium.ledger, sessions, {"EM": consortium.signers["EM"]})
    indexer = Indexer(chain, consortium.deployment, sessions, register_handlers())
    indexer.run_once()
    snapshot = chain.request("evm_snapshot", [])
    first = submissions.submit("EM", [event_document(key) for key in KEYS])
    real_write = submitter._write_outcome
    raced: list[bool] = []

    def racing_write(outcome: object) -> None:
        if not raced and getattr(outcome, "anchored", None):
            raced.append(True)
            assert chain.request("evm_revert", [snapshot]) is True
            chain.request("anvil_mine", [hex(5)])
            indexer.run_once()
        real_write(outcome)  # type: ignore[arg-type]

    monkeypatch.setattr(submitter, "_write_outcome", racing_write)
    submitter.run_until_idle()
    assert raced
    assert [state for state, _, _ in outbox_rows(sessions)] == [OutboxState.SENT] * 3
    submitter.run_until_idle()  # the next round's reconcile (every round of run_forever)
    indexer.run_once()
    assert submissions.get("EM", first.id).status == "anchored"
    assert_anchored_once(consortium, sessions)
    with sessions() as session:
        indexed = set(session.scalars(select(events.c.entry_hash)))
    assert {bytes(entry_hash) for _, _, entry_hash in outbox_rows(sessions)} <= {
        bytes(h) for h in indexed
    }
