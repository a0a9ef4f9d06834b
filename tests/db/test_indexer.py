"""The indexer follows RegisterLedger into SQL: complete, idempotent, resumable, reorg-aware."""

from __future__ import annotations

import datetime
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ipchain.chain.base import BlockInfo
from ipchain.chain.rpc import RpcChain
from ipchain.contracts.bindings import DecodedLog
from ipchain.db.indexer import HandlerRegistry, Indexer
from ipchain.db.register import events, records
from ipchain.encoding import ZERO_HASH, hash_to_hex
from ipchain.register.indexing import register_handlers
from ipchain.register.ledger import EventToAnchor
from ipchain.register.queries import RegisterQueries
from tests.helpers.consortium import Consortium
from tests.helpers.documents import design_event, to_anchor, trademark_event

DAY = datetime.date(2024, 3, 1)


def anchor_sample(consortium: Consortium) -> None:
    """Two EM trademarks (one registered), one AU design, one hash-only RU event."""
    em, au, ru = (consortium.signers[code] for code in ("EM", "AU", "RU"))
    consortium.ledger.anchor(
        em,
        [
            to_anchor(trademark_event("EM/TM/018000001", "A10", DAY, mark="Acme", nice=(9, 42))),
            to_anchor(trademark_event("EM/TM/018000002", "A10", DAY, mark="Zenith", nice=(25,))),
            to_anchor(trademark_event("EM/TM/018000001", "Q10", DAY)),
            to_anchor(
                trademark_event(
                    "EM/TM/018000001",
                    "F10",
                    DAY,
                    registration_date=DAY,
                    expiry_date=DAY.replace(year=2034),
                )
            ),
        ],
    )
    consortium.ledger.anchor(
        au,
        [
            to_anchor(
                design_event("AU/DS/202312345", "A10", DAY, locarno=("06-01",), product="Chair")
            )
        ],
    )
    consortium.ledger.anchor(ru, [EventToAnchor("RU/TM/2024700001", "A10", b"\x11" * 32)])


def test_indexes_every_office_and_derives_records(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor_sample(consortium)
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, register_handlers())
    assert indexer.run_once() == 6
    queries = RegisterQueries(sessions)
    assert queries.indexed_block() == consortium.backend.block_number()

    record = queries.get_record("EM/TM/018000001")
    assert record.status == "registered"
    assert record.mark_text == "Acme"
    assert record.nice_classes == (9, 42)
    assert record.filing_date == DAY and record.registration_date == DAY
    assert record.event_count == 3
    assert record.data["mark_verbal_element_text"] == "Acme"

    history = queries.record_events("EM/TM/018000001")
    chain = consortium.ledger.record_entries("EM/TM/018000001")
    assert [e.entry_hash for e in history] == [hash_to_hex(e.entry_hash) for e in chain]
    assert [e.block_number for e in history] == [e.block_number for e in chain]
    assert history[0].prev_entry_hash == hash_to_hex(ZERO_HASH)
    assert history[1].prev_entry_hash == history[0].entry_hash
    assert history[0].event_name == "Application filed" and history[0].category == "A"
    assert history[2].document is not None and history[2].document["event_code"] == "F10"
    assert history[0].anchored_at.tzinfo is datetime.UTC

    design = queries.get_record("AU/DS/202312345")
    assert design.locarno_classes == ("06-01",) and design.mark_text == "Chair"
    hash_only = queries.record_events("RU/TM/2024700001")
    assert hash_only[0].document is None and hash_only[0].document_hash == "0x" + "11" * 32
    assert queries.get_record("RU/TM/2024700001").status == "filed"


def test_indexing_twice_or_from_scratch_duplicates_nothing(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor_sample(consortium)
    Indexer(consortium.backend, consortium.deployment, sessions, register_handlers()).run_once()
    assert (
        Indexer(consortium.backend, consortium.deployment, sessions, register_handlers()).run_once()
        == 0
    )
    # A second indexer starting from the deployment block re-reads everything already stored.
    again = Indexer(
        consortium.backend, consortium.deployment, sessions, register_handlers(), name="again"
    )
    assert again.run_once() == 6
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(events)) == 6
        assert session.scalar(select(func.count()).select_from(records)) == 4
    assert RegisterQueries(sessions).get_record("EM/TM/018000001").event_count == 3


def test_resumes_from_its_checkpoint_in_small_steps(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor_sample(consortium)
    first = Indexer(
        consortium.backend, consortium.deployment, sessions, register_handlers(), chunk_blocks=1
    )
    first.run_once(max_blocks=1)
    stopped_at = first.checkpoint().block_number
    assert stopped_at == consortium.deployment.block_number
    key = consortium.signers["EM"]
    consortium.ledger.anchor(key, [to_anchor(trademark_event("EM/TM/018000002", "B10", DAY))])
    resumed = Indexer(
        consortium.backend, consortium.deployment, sessions, register_handlers(), chunk_blocks=3
    )
    assert resumed.run_once() == 7
    queries = RegisterQueries(sessions)
    assert queries.get_record("EM/TM/018000002").status == "withdrawn"
    assert queries.get_record("EM/TM/018000001").status == "registered"


def test_confirmations_keep_the_index_behind_the_head(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    anchor_sample(consortium)
    indexer = Indexer(
        consortium.backend, consortium.deployment, sessions, register_handlers(), confirmations=2
    )
    indexer.run_once()
    assert indexer.checkpoint().block_number == consortium.backend.block_number() - 2


def test_run_forever_follows_new_events_until_stopped(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, register_handlers())
    stop = threading.Event()
    thread = threading.Thread(target=indexer.run_forever, args=(stop, 0.05))
    thread.start()
    try:
        anchor_sample(consortium)
        queries = RegisterQueries(sessions)
        for _ in range(200):
            if queries.indexed_block() >= consortium.backend.block_number():
                break
            stop.wait(0.05)
        assert queries.get_record("AU/DS/202312345").status == "filed"
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_plugged_in_handlers_see_other_contracts_logs_in_chain_order(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    seen: list[tuple[str, str, int, int]] = []

    def remember(session: Session, log: DecodedLog, block: BlockInfo) -> None:
        assert block.number == log.log.block_number
        seen.append((log.event, log.args["code"].decode(), block.number, log.log.log_index))

    batches: list[int] = []
    handlers = HandlerRegistry()
    handlers.register("OfficeRegistry", "SignerAdded", remember)
    handlers.register("OfficeRegistry", "OfficeAdmitted", remember)
    handlers.register_batch(
        "OfficeRegistry", "SignerAdded", lambda _, logs: batches.append(len(logs))
    )
    indexer = Indexer(consortium.backend, consortium.deployment, sessions, handlers)
    assert indexer.run_once() == 6
    assert sorted(code for event, code, _, _ in seen if event == "SignerAdded") == [
        "AU",
        "EM",
        "RU",
    ]
    assert {event for event, _, _, _ in seen} == {"SignerAdded", "OfficeAdmitted"}
    positions = [(block, index) for _, _, block, index in seen]
    assert positions == sorted(positions)  # interleaved across events, as on the chain
    assert sum(batches) == 3
    # The register's handlers were not in this registry: nothing of it was written.
    assert RegisterQueries(sessions).office_stats() == {}


@pytest.mark.anvil
@pytest.mark.parametrize("backend", ["anvil"], indirect=True)
def test_a_reorg_replaces_the_dropped_events(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    chain = consortium.backend
    assert isinstance(chain, RpcChain)
    snapshot = chain.request("evm_snapshot", [])
    anchor_sample(consortium)
    indexer = Indexer(chain, consortium.deployment, sessions, register_handlers())
    indexer.run_once()
    queries = RegisterQueries(sessions)
    assert queries.get_record("EM/TM/018000001").status == "registered"

    # The chain drops those blocks and grows another branch, longer than the first.
    assert chain.request("evm_revert", [snapshot]) is True
    em = consortium.signers["EM"]
    consortium.ledger.anchor(
        em, [to_anchor(trademark_event("EM/TM/018000001", "A10", DAY, mark="Other", nice=(3,)))]
    )
    chain.request("anvil_mine", [hex(10)])
    indexer.run_once()

    assert queries.get_record("EM/TM/018000001").mark_text == "Other"
    assert queries.get_record("EM/TM/018000001").status == "filed"
    assert [e.event_code for e in queries.record_events("EM/TM/018000001")] == ["A10"]
    for gone in ("EM/TM/018000002", "AU/DS/202312345", "RU/TM/2024700001"):
        with pytest.raises(Exception, match="no record"):
            queries.get_record(gone)
    assert queries.indexed_block() == chain.block_number()


@pytest.mark.anvil
@pytest.mark.parametrize("backend", ["anvil"], indirect=True)
def test_a_chain_shorter_than_the_checkpoint_is_a_reorg_too(
    consortium: Consortium, sessions: sessionmaker[Session]
) -> None:
    chain = consortium.backend
    assert isinstance(chain, RpcChain)
    snapshot = chain.request("evm_snapshot", [])
    anchor_sample(consortium)
    indexer = Indexer(chain, consortium.deployment, sessions, register_handlers())
    indexer.run_once()
    chain.request("evm_revert", [snapshot])
    indexer.run_once()
    assert RegisterQueries(sessions).office_stats() == {}
    assert indexer.checkpoint().block_number <= chain.block_number()
