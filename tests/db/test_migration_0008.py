"""Migration 0008 (links indexed both ways, issue 12) on an index that already holds events:
the links of the stored documents get their rows (malformed ones skipped), and the downgrade
drops the table."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import inspect, text

from ipchain.db.base import alembic_config, make_engine, upgrade


def _event(connection: object, key: str, seq: int, document: str) -> None:
    digest = (key + str(seq)).encode().ljust(32, b".")[:32]
    connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO records (record_key, office, ip_type, application_number,"
            " head_entry_hash, event_count, updated_block) VALUES (:key, 'EM', 'TM', :key,"
            " :hash, 1, :seq)"
        ),
        {"hash": digest, "key": key, "seq": seq},
    )
    connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO events (entry_hash, record_key, office, seq, event_code, document,"
            " document_hash, prev_entry_hash, signer, block_number, block_hash,"
            " transaction_hash, log_index, block_timestamp) VALUES (:hash, :key, 'EM', :seq,"
            " 'A10', :document, :hash, :hash, :signer, :seq, :hash, :hash, 0, 1000)"
        ),
        {"hash": digest, "key": key, "seq": seq, "document": document, "signer": "0x" + "1" * 40},
    )


def test_0008_indexes_the_links_of_stored_documents(database_url: str) -> None:
    upgrade(database_url, "0007_outbox_block_index")
    links = [
        {"relation": "priority", "record_key": "AU/TM/2024000001", "link_date": "2024-01-02"},
        {"relation": "seniority", "external_number": "DE 1", "link_date": "not a date"},
        {"relation": 7, "record_key": "AU/TM/2024000001"},
        {"relation": "priority"},
        "not a link",
    ]
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            _event(connection, "EM/TM/018000001", 1, json.dumps({"links": links}))
            _event(connection, "EM/TM/018000002", 2, '{"links": [')
        upgrade(database_url)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT source_key, position, relation, target_key, external_number,"
                    " link_date FROM record_links ORDER BY position"
                )
            ).all()
        assert [tuple(row[:5]) for row in rows] == [
            ("EM/TM/018000001", 0, "priority", "AU/TM/2024000001", None),
            ("EM/TM/018000001", 1, "seniority", None, "DE 1"),
        ]
        assert str(rows[0][5]) == "2024-01-02" and rows[1][5] is None
        command.downgrade(alembic_config(database_url), "0007_outbox_block_index")
        assert "record_links" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_0010_fills_applicants_and_vienna_codes_of_stored_records(database_url: str) -> None:
    """Migration 0010 on records indexed before it: their applicants become searchable and
    their Vienna codes filterable, through the rebuilt text index."""
    from ipchain.db.base import session_factory
    from ipchain.register.queries import RecordFilter, RegisterQueries

    upgrade(database_url, "0009_outbox_link_checks")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            _event(connection, "EM/TM/018000001", 1, "{}")
            data = {
                "applicants": [{"name": "Zephyr Ltd"}, {"name": "Ölmühle GmbH"}],
                "vienna_codes": ["26.04.01", "bad"],
            }
            connection.execute(
                text("INSERT INTO record_data (record_key, data) VALUES (:key, :data)"),
                {"key": "EM/TM/018000001", "data": json.dumps(data)},
            )
        upgrade(database_url)
        queries = RegisterQueries(session_factory(engine))
        for criteria in ({"applicant": "ölmühle"}, {"applicant": "zephyr"}, {"vienna_code": "26"}):
            page = queries.search_records(RecordFilter(**criteria))  # type: ignore[arg-type]
            assert [r.record_key for r in page.items] == ["EM/TM/018000001"], criteria
        command.downgrade(alembic_config(database_url), "0009_outbox_link_checks")
        assert "record_vienna_codes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
