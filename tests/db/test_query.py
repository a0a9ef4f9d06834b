"""RegisterQueries: filters, paging, sorting and the cursor feed, on SQLite and PostgreSQL.

The index is filled through the indexer's own writer (:func:`store_entries`) with entries made
here, without a chain, so each case runs in milliseconds.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.db.register import records
from ipchain.encoding import ZERO_HASH, canonical_bytes, document_hash, entry_hash, record_id
from ipchain.encoding import event_code_bytes8 as code8
from ipchain.errors import InvalidInputError, NotFoundError
from ipchain.register.catalog import RecordKey
from ipchain.register.history import derive_status, replay_history
from ipchain.register.indexing import merge_record_data, remove_above, store_entries
from ipchain.register.models import Party, RecordLink, RegisterEvent
from ipchain.register.queries import RecordFilter, RegisterQueries
from tests.helpers.documents import design_event, trademark_event

D = datetime.date
SIGNER = "0x" + "ab" * 20


def anchored(
    events: Sequence[RegisterEvent | tuple[str, str]], first_block: int = 10
) -> list[AnchoredEvent]:
    """Entries as the chain would record them, one per block; a (key, code) pair is hash-only."""
    heads: dict[str, tuple[bytes, int]] = {}
    entries = []
    for offset, event in enumerate(events):
        if isinstance(event, RegisterEvent):
            key, code = str(event.record_key), event.event_code
            document = canonical_bytes(event.to_document())
            digest = document_hash(event.to_document())
        else:
            key, code = event
            document, digest = b"", bytes([offset + 1]) * 32
        previous, seq = heads.get(key, (ZERO_HASH, 0))
        office = key[:2]
        new_hash = entry_hash(record_id(key), seq + 1, code8(code), digest, previous, office)
        heads[key] = (new_hash, seq + 1)
        block = first_block + offset
        entries.append(
            AnchoredEvent(
                record_key=key,
                record_id=record_id(key),
                seq=seq + 1,
                event_code=code,
                document_hash=digest,
                prev_entry_hash=previous,
                entry_hash=new_hash,
                office=office,
                signer=SIGNER,
                block_number=block,
                block_hash=block.to_bytes(32, "big"),
                transaction_hash=offset.to_bytes(32, "big"),
                log_index=0,
                document=document,
            )
        )
    return entries


def store(sessions: sessionmaker[Session], entries: Sequence[AnchoredEvent]) -> None:
    with sessions() as session, session.begin():
        store_entries(
            session, entries, {e.block_number: 1_700_000_000 + e.block_number for e in entries}
        )


SAMPLE: list[RegisterEvent | tuple[str, str]] = [
    trademark_event("EM/TM/018000001", "A10", D(2021, 1, 5), mark="Acme Rockets", nice=(9, 42)),
    trademark_event("EM/TM/018000002", "A10", D(2022, 6, 1), mark="100% Pure", nice=(25,)),
    trademark_event("RU/TM/2023700001", "A10", D(2023, 2, 1), mark="РОМАШКА", nice=(3, 5)),
    design_event("AU/DS/202312345", "A10", D(2023, 3, 1), locarno=("06-01",), product="Chair"),
    design_event(
        "EM/DS/015000001", "A10", D(2020, 7, 7), locarno=("12-08", "06-03"), product="Lamp"
    ),
    trademark_event("EM/TM/018000001", "Q10", D(2021, 3, 1)),
    trademark_event(
        "EM/TM/018000001",
        "F10",
        D(2021, 6, 1),
        registration_date=D(2021, 6, 1),
        expiry_date=D(2031, 1, 5),
    ),
    ("AU/TM/2024000001", "A10"),
]


@pytest.fixture
def queries(sessions: sessionmaker[Session]) -> RegisterQueries:
    store(sessions, anchored(SAMPLE))
    return RegisterQueries(sessions)


def keys(queries: RegisterQueries, **criteria: object) -> list[str]:
    page = queries.search_records(RecordFilter(**criteria), limit=100)  # type: ignore[arg-type]
    return [record.record_key for record in page.items]


def test_filters_combine(queries: RegisterQueries) -> None:
    assert keys(queries, office="EM") == ["EM/DS/015000001", "EM/TM/018000001", "EM/TM/018000002"]
    assert keys(queries, office="EM", ip_type="TM") == ["EM/TM/018000001", "EM/TM/018000002"]
    assert keys(queries, status="registered") == ["EM/TM/018000001"]
    assert keys(queries, nice_class=25) == ["EM/TM/018000002"]
    assert keys(queries, locarno_class="06") == ["AU/DS/202312345", "EM/DS/015000001"]
    assert keys(queries, locarno_class="06-03") == ["EM/DS/015000001"]
    assert keys(queries, filed_from=D(2022, 1, 1), filed_to=D(2023, 2, 1)) == [
        "EM/TM/018000002",
        "RU/TM/2023700001",
    ]
    assert keys(queries, registered_from=D(2021, 1, 1)) == ["EM/TM/018000001"]
    assert keys(queries, office="EM", nice_class=3) == []


def test_text_search_is_a_case_insensitive_substring_in_any_script(
    queries: RegisterQueries,
) -> None:
    assert keys(queries, text="rocket") == ["EM/TM/018000001"]
    assert keys(queries, text="ромашк") == ["RU/TM/2023700001"]
    assert keys(queries, text="chair") == ["AU/DS/202312345"]
    # LIKE wildcards in the text are taken literally.
    assert keys(queries, text="0% p") == ["EM/TM/018000002"]
    assert keys(queries, text="_") == []

    # Quotes and FTS5 syntax are text too; under three characters there is no trigram.
    assert keys(queries, text='"') == []
    assert keys(queries, text='rocket" OR "lamp') == []
    assert keys(queries, text="la") == ["EM/DS/015000001"]
    assert keys(queries, text="AMP") == ["EM/DS/015000001"]


def test_text_search_uses_the_trigram_index(
    sessions: sessionmaker[Session], queries: RegisterQueries
) -> None:
    """Migration 0006's index serves the search: SQLite's FTS5 table, PostgreSQL's GIN."""
    condition = queries._text_condition("rocket", records.c.mark_text_folded)
    statement = select(func.count()).select_from(records).where(condition)
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            sql = str(statement.compile(compile_kwargs={"literal_binds": True}))
            plan = " ".join(
                str(row[-1]) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))
            )
            assert "records_fts" in plan and "VIRTUAL TABLE INDEX 0:M" in plan, plan
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            sql = str(
                statement.compile(
                    dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
                )
            )
            plan = " ".join(str(row[0]) for row in session.execute(text("EXPLAIN " + sql)))
            assert "ix_records_mark_text_folded_trgm" in plan, plan


def test_the_text_index_follows_changes_and_rewinds(
    sessions: sessionmaker[Session], queries: RegisterQueries
) -> None:
    entries = anchored(
        [
            trademark_event("EM/TM/018000003", "A10", D(2024, 1, 2), mark="Blue Heron"),
            trademark_event("EM/TM/018000003", "Q10", D(2024, 2, 2), mark="Grey Heron"),
        ],
        first_block=100,
    )
    store(sessions, entries)
    assert keys(queries, text="grey her") == ["EM/TM/018000003"]
    assert keys(queries, text="blue her") == []
    with sessions() as session, session.begin():
        remove_above(session, 100)  # a reorg drops the renaming event
    assert keys(queries, text="blue her") == ["EM/TM/018000003"]
    assert keys(queries, text="grey her") == []
    with sessions() as session, session.begin():
        remove_above(session, 99)  # and then the record
    assert keys(queries, text="heron") == []


def test_links_are_indexed_both_ways_and_follow_rewinds(
    sessions: sessionmaker[Session], queries: RegisterQueries
) -> None:
    claim = dataclasses.replace(
        trademark_event("AU/TM/2024000002", "A10", D(2021, 6, 1), mark="Acme Rockets"),
        links=(RecordLink("priority", RecordKey.parse("EM/TM/018000001"), None, D(2021, 1, 5)),),
    )
    seniority = dataclasses.replace(
        trademark_event("EM/TM/018000003", "A10", D(2022, 1, 1), mark="Acme"),
        links=(
            RecordLink("seniority", None, "DE 302019012345", D(2019, 1, 1)),
            RecordLink("earlier-right", RecordKey.parse("EM/TM/018000001")),
        ),
    )
    store(sessions, anchored([claim, seniority], first_block=200))

    links = queries.record_links("EM/TM/018000001")
    assert [(link.relation, link.direction, link.record_key) for link in links] == [
        ("priority", "incoming", "AU/TM/2024000002"),
        ("earlier-right", "incoming", "EM/TM/018000003"),
    ]
    [outgoing] = queries.record_links("AU/TM/2024000002")
    assert (outgoing.direction, outgoing.record_key, outgoing.link_date) == (
        "outgoing",
        "EM/TM/018000001",
        D(2021, 1, 5),
    )
    assert [link.external_number for link in queries.record_links("EM/TM/018000003")] == [
        "DE 302019012345",
        None,
    ]
    assert keys(queries, links_to="EM/TM/018000001") == ["AU/TM/2024000002", "EM/TM/018000003"]
    assert keys(queries, links_to="EM/TM/018000001", relation="priority") == ["AU/TM/2024000002"]
    assert keys(queries, relation="seniority") == ["EM/TM/018000003"]
    with pytest.raises(InvalidInputError) as error:
        keys(queries, relation="cousin")
    assert error.value.field == "relation"

    with sessions() as session, session.begin():
        remove_above(session, 200)  # a reorg drops the second filing
    assert [link.record_key for link in queries.record_links("EM/TM/018000001")] == [
        "AU/TM/2024000002"
    ]


def test_applicant_and_vienna_code_search(
    sessions: sessionmaker[Session], queries: RegisterQueries
) -> None:
    store(
        sessions,
        anchored(
            [
                trademark_event(
                    "EM/TM/018000004",
                    "A10",
                    D(2024, 1, 2),
                    mark="Heron",
                    applicants=(Party("Zephyr Ltd", "GB"),),
                    vienna_codes=("03.07.01", "26.04.01"),
                ),
                trademark_event(
                    "EM/TM/018000004",
                    "P10",
                    D(2024, 5, 2),
                    applicants=(Party("Ölmühle GmbH", "DE"),),
                ),
            ],
            first_block=300,
        ),
    )
    # The holder now, after the transfer; not the applicant it replaced.
    assert keys(queries, applicant="ölmühle") == ["EM/TM/018000004"]
    assert keys(queries, applicant="OLM") == []
    assert keys(queries, applicant="zephyr") == []
    assert "EM/TM/018000001" in keys(queries, applicant="acme l")
    assert keys(queries, applicant="gm") == ["EM/TM/018000004"]  # under a trigram: LIKE
    for code in ("26", "26.04", "26.04.01", "03.07.01"):
        assert keys(queries, vienna_code=code) == ["EM/TM/018000004"], code
    assert keys(queries, vienna_code="26.04.02") == []
    assert keys(queries, vienna_code="27") == []
    with pytest.raises(InvalidInputError) as error:
        keys(queries, vienna_code="26.4")
    assert error.value.field == "vienna_code"


def test_pages_are_disjoint_and_counted(queries: RegisterQueries) -> None:
    seen: list[str] = []
    for offset in range(0, 6, 2):
        page = queries.search_records(RecordFilter(), limit=2, offset=offset)
        assert page.total == 6 and page.limit == 2 and page.offset == offset
        seen.extend(record.record_key for record in page.items)
    assert seen == sorted(seen) and len(set(seen)) == 6


def test_sorting_by_date_puts_undated_records_last(queries: RegisterQueries) -> None:
    page = queries.search_records(RecordFilter(), sort="filing_date", descending=True, limit=10)
    dates = [record.filing_date for record in page.items]
    assert dates[:5] == sorted(dates[:5], reverse=True)  # type: ignore[type-var]
    assert dates[5] is None  # the hash-only record has no data
    updated = queries.search_records(RecordFilter(), sort="updated", descending=True, limit=1)
    assert updated.items[0].record_key == "AU/TM/2024000001"
    with pytest.raises(InvalidInputError) as error:
        queries.search_records(RecordFilter(), sort="mark")
    assert error.value.field == "sort"
    with pytest.raises(InvalidInputError):
        queries.search_records(RecordFilter(), limit=0)
    for bad in (
        RecordFilter(office="em"),
        RecordFilter(ip_type="PT"),
        RecordFilter(locarno_class="0%"),
    ):
        with pytest.raises(InvalidInputError):
            queries.search_records(bad)


def test_a_record_and_its_history(queries: RegisterQueries) -> None:
    record = queries.get_record("EM/TM/018000001")
    assert (record.status, record.event_count, record.nice_classes) == ("registered", 3, (9, 42))
    assert record.expiry_date == D(2031, 1, 5) and record.st13 is not None
    history = queries.record_events("EM/TM/018000001")
    assert [event.seq for event in history] == [1, 2, 3]
    assert [event.event_code for event in history] == ["A10", "Q10", "F10"]
    assert history[2].event_date == D(2021, 6, 1)
    assert record.head_entry_hash == history[-1].entry_hash
    for missing in (queries.get_record, queries.record_events):
        with pytest.raises(NotFoundError):
            missing("EM/TM/999")


def test_feed_pages_newest_first_through_every_event(queries: RegisterQueries) -> None:
    collected = []
    cursor = None
    while True:
        page, cursor = queries.events_feed(cursor=cursor, limit=3)
        collected.extend(page)
        if cursor is None:
            break
    positions = [(event.block_number, event.log_index) for event in collected]
    assert len(collected) == len(SAMPLE) and positions == sorted(positions, reverse=True)
    em_only, _ = queries.events_feed(office="EM", limit=50)
    assert {event.office for event in em_only} == {"EM"} and len(em_only) == 5
    for bad in ("not-a-cursor!", "MTI", ""):
        with pytest.raises(InvalidInputError) as error:
            queries.events_feed(cursor=bad)
        assert error.value.field == "cursor"


def test_office_stats_count_records_and_events_by_type(queries: RegisterQueries) -> None:
    stats = queries.office_stats()
    assert stats["EM"] == {
        "records": 3,
        "events": 5,
        "TM_records": 2,
        "TM_events": 4,
        "DS_records": 1,
        "DS_events": 1,
    }
    assert stats["AU"]["records"] == 2 and stats["RU"]["TM_events"] == 1


def test_later_chunks_re_derive_records_from_their_whole_history(
    sessions: sessionmaker[Session],
) -> None:
    history: list[RegisterEvent | tuple[str, str]] = [
        trademark_event("EM/TM/1", "A10", D(2020, 1, 1), mark="Alpha", nice=(9,)),
        trademark_event("EM/TM/1", "Q10", D(2020, 2, 1)),
        trademark_event("EM/TM/1", "E10", D(2020, 3, 1)),
        trademark_event("EM/TM/1", "E23", D(2020, 4, 1)),
        trademark_event("EM/TM/1", "F10", D(2020, 5, 1), registration_date=D(2020, 5, 1)),
        trademark_event("EM/TM/1", "P10", D(2021, 1, 1), mark="Alpha Beta", nice=(9, 35)),
        trademark_event("EM/TM/1", "H10", D(2030, 1, 1)),
        trademark_event("EM/TM/1", "Y20", D(2030, 2, 1)),
    ]
    entries = anchored(history)
    for entry in entries:  # one chunk per event
        store(sessions, [entry])
    store(sessions, entries[2:5])  # a range read again changes nothing
    record = RegisterQueries(sessions).get_record("EM/TM/1")
    valid = [event for event in history if isinstance(event, RegisterEvent)]
    state = replay_history(valid)
    # The index derives what the domain model derives.
    assert state.status is not None and record.status == state.status.value == "registered"
    expected = RegisterEvent(valid[0].record_key, "P10", D(2021, 1, 1), state.record_data)
    assert record.data == expected.to_document()["record_data"]
    assert record.mark_text == "Alpha Beta" and record.nice_classes == (9, 35)
    assert record.event_count == 8


def test_derivation_is_lenient_where_the_model_is_strict() -> None:
    # A revival with nothing to revive, an unknown code: the status stays as it was.
    assert derive_status(["A10", "C10", "Z99"], strict=False) == "filed"
    assert derive_status([], strict=False) is None
    with pytest.raises(InvalidInputError):
        derive_status(["A10", "C10", "Z99"])
    assert merge_record_data([None, {"record_data": "not an object"}]) is None


def test_documents_that_are_not_register_events_are_kept_but_not_interpreted(
    sessions: sessionmaker[Session],
) -> None:
    entries = anchored([("EM/TM/7", "A10"), ("EM/TM/8", "A10")])
    foreign = trademark_event("EM/TM/9", "A10", D(2020, 1, 1), mark="Elsewhere").to_document()
    entries[0] = dataclasses.replace(entries[0], document=b"not json \xff")
    entries[1] = dataclasses.replace(entries[1], document=canonical_bytes(foreign))
    store(sessions, entries)
    queries = RegisterQueries(sessions)
    for key in ("EM/TM/7", "EM/TM/8"):
        record = queries.get_record(key)
        assert (record.status, record.data, record.mark_text) == ("filed", {}, None)
    # Published bytes are shown when they are JSON, even when they describe another record.
    assert queries.record_events("EM/TM/7")[0].document is None
    assert queries.record_events("EM/TM/8")[0].document == foreign
