"""ST.96 in and out (issue 12) and ``ipchain import`` (issue 10, item 1):

- hand-made ST.96 files (not our exporter's output) are read into valid register events, and
  bad files are refused naming the element and line;
- importing them through a node's API anchors them; importing again anchors nothing twice;
- import → anchor → export gives the same data, on the samples and on the whole demo register
  (its records stored as the indexer stores them, then exported, read back and exported
  again).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ipchain.cli.importer import import_file
from ipchain.db.register import events
from ipchain.errors import InvalidInputError
from ipchain.register.demo_data import generate_demo_events
from ipchain.register.importing import ImportFailed
from ipchain.register.models import RegisterEvent
from ipchain.register.queries import RegisterQueries
from ipchain.register.st96 import export_records, read_st96, record_element
from tests.db.test_query import anchored, store
from tests.helpers.nodes import RunningNode

SAMPLES = Path(__file__).parent
API = "/api/v1"


def documents_of(source: Any) -> dict[str, tuple[dict[str, Any], ...]]:
    return {record.record_key: record.documents for record in read_st96(source)}


def test_hand_made_files_become_valid_register_events() -> None:
    trademarks = documents_of(str(SAMPLES / "trademarks.xml"))
    assert {key: [d["event_code"] for d in docs] for key, docs in trademarks.items()} == {
        "EM/TM/018900001": ["A10", "F10"],
        "EM/TM/018900002": ["A10", "Q10", "E10"],
    }
    filing = trademarks["EM/TM/018900001"][0]
    data = filing["record_data"]
    assert data["mark_verbal_element_text"] == "SEEADLER"
    assert data["vienna_codes"] == ["03.07.01", "26.04.01"]
    assert data["nice_classes"][0]["descriptions"][1] == {
        "language_code": "de",
        "text": "Bekleidung, Schuhwaren",
    }
    assert data["applicants"][0] == {
        "name": "Seeadler Textil GmbH",
        "country_code": "DE",
        "address": "Hafenstraße 4, 24103 Kiel",
        "identifier": "A-77120",
    }
    assert filing["links"] == [
        {"relation": "priority", "link_date": "2023-09-15", "record_key": "DE/TM/302023112233"}
    ]
    designs = documents_of(str(SAMPLES / "designs.xml"))
    assert [d["event_code"] for d in designs["EM/DS/0123456780001"]] == ["A10", "F10"]
    for documents in (*trademarks.values(), *designs.values()):
        for document in documents:
            RegisterEvent.from_document(document)


def _mutated(old: str, new: str) -> bytes:
    return (SAMPLES / "trademarks.xml").read_text("utf-8").replace(old, new, 1).encode()


BAD = {
    "unknown element": (
        _mutated(
            "<tmk:MarkCurrentStatusCode>", "<tmk:Colour>red</tmk:Colour><tmk:MarkCurrentStatusCode>"
        ),
        "Colour",
    ),
    "wrong namespace": (
        _mutated(
            'xmlns:tmk="http://www.wipo.int/standards/XMLSchema/ST96/Trademark"',
            'xmlns:tmk="http://example.com/Trademark"',
        ),
        "root element",
    ),
    "truncated": ((SAMPLES / "trademarks.xml").read_bytes()[:1500], "not well-formed"),
    "bad date": (_mutated("2024-02-01", "01/02/2024"), "FilingDate"),
    "unknown status": (_mutated(">registered<", ">alive<"), "MarkCurrentStatusCode"),
    "number too long for a record key": (
        _mutated(">018900001<", ">" + "1" * 80 + "<"),
        "ApplicationNumber",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_are_refused_naming_the_element(case: str) -> None:
    content, named = BAD[case]
    with pytest.raises(InvalidInputError) as error:
        documents_of(io.BytesIO(content))
    assert named in f"{error.value} {error.value.field}", str(error.value)
    assert "line" in str(error.value)


def test_entities_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    content = _mutated(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY leak SYSTEM "file://{secret}">]>',
    ).replace(b">SEEADLER<", b">&leak;<")
    try:
        found = json.dumps(documents_of(io.BytesIO(content)))
    except InvalidInputError:
        return
    assert "TOP-SECRET" not in found


def test_import_anchors_once_and_exports_the_same_data(node: RunningNode, tmp_path: Path) -> None:
    token = node.service.create_token("EM")
    sample = SAMPLES / "trademarks.xml"
    summary = import_file(sample, node.client, API, token, batch_events=2)
    assert (summary.records, summary.events, summary.batches, summary.replayed) == (2, 5, 2, 0)
    assert summary.unverifiable_links == 1  # DE is not a member office
    node.service.wait_until_idle(timeout=120)

    # Run again (a resumed import): every batch is the one the node accepted; nothing new.
    with node.service.session_factory() as session:
        before = session.scalar(select(func.count()).select_from(events))
    again = import_file(sample, node.client, API, token, batch_events=2)
    assert (again.batches, again.replayed) == (2, 2)
    node.service.wait_until_idle(timeout=120)
    with node.service.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(events)) == before

    for key, documents in documents_of(str(sample)).items():
        office, kind, number = key.split("/")
        exported = node.client.get(f"{API}/records/{office}/{kind}/{number}/st96")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/xml")
        assert documents_of(io.BytesIO(exported.content))[key] == documents


def test_a_refused_batch_names_the_file_line(node: RunningNode, tmp_path: Path) -> None:
    lines = [
        {
            "schema": "ipchain/register-event/v1",
            "record_key": "EM/TM/018900010",
            "event_code": "A10",
            "event_date": "2025-01-02",
            "record_data": {
                "applicants": [{"name": "A Ltd", "country_code": "GB"}],
                "application_date": "2025-01-02",
                "mark_verbal_element_text": "A",
            },
        },
        {
            "schema": "ipchain/register-event/v1",
            "record_key": "EM/TM/018900010",
            "event_code": "M10",
            "event_date": "2025-02-02",
        },  # renewal of a filed application
    ]
    path = tmp_path / "register.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.raises(ImportFailed) as error:
        import_file(path, node.client, API, node.service.create_token("EM"))
    assert "line 2 (EM/TM/018900010), events[1]" in str(error.value)


def test_the_demo_register_survives_export_and_import(
    sessions: sessionmaker[Session],
) -> None:
    """Every demo record (trademarks and designs of four offices, every status the demo
    reaches) stored as the indexer stores it, exported, read back, stored again and exported
    again: the same XML."""
    demo = generate_demo_events(["AU", "EM", "RU", "WO"], 40)
    store(sessions, anchored(demo))
    queries = RegisterQueries(sessions)
    keys = sorted({str(event.record_key) for event in demo})

    def export_all(queries: RegisterQueries, keys: list[str]) -> dict[str, bytes]:
        out = {}
        for key in keys:
            record = queries.get_record(key)
            element = record_element(record, queries.record_events(key), queries.record_links(key))
            out[key] = export_records([element], record.ip_type)
        return out

    first = export_all(queries, keys)
    imported = [
        RegisterEvent.from_document(document)
        for key in keys
        for document in documents_of(io.BytesIO(first[key]))[key]
    ]
    with sessions() as session, session.begin():
        for table in (
            "record_links",
            "event_flags",
            "events",
            "record_vienna_codes",
            "record_nice_classes",
            "record_locarno_classes",
            "record_data",
            "records",
        ):
            session.execute(text(f"DELETE FROM {table}"))
    store(sessions, anchored(imported))
    assert export_all(RegisterQueries(sessions), keys) == first
