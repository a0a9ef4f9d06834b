"""Migration 0004 (governance terms, issue 14) on an index that already holds governance rows:
votes keep their rows under the new key, offices get the admission row their admin changes
start from, long action names fit, and the downgrade keeps each office's latest vote."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from ipchain.db.base import alembic_config, make_engine, upgrade

ZEROS = b"\0" * 32


def _insert_0003_rows(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO offices (code, name, status, admin, profile_hash, admitted_block,"
                    " admitted_at, status_block, status_changed_at) VALUES ('EM', 'EUIPO',"
                    " 'active', :admin, :zeros, 1, 1000, 1, 1000)"
                ),
                {"admin": "0x" + "11" * 20, "zeros": ZEROS},
            )
            connection.execute(
                text(
                    "INSERT INTO proposals (proposal_id, action, office, account, name, value,"
                    " data_hash, proposer, created_block, created_at, deadline,"
                    " transaction_hash, votes) VALUES (0, 'suspend-office', 'AU', NULL, '', '0',"
                    " :zeros, 'EM', 2, 1001, 9999, :zeros, 2)"
                ),
                {"zeros": ZEROS},
            )
            for voter, block in (("EM", 2), ("RU", 3)):
                connection.execute(
                    text(
                        "INSERT INTO proposal_votes (proposal_id, voter, votes_after,"
                        " block_number, log_index, block_timestamp, transaction_hash) VALUES"
                        " (0, :voter, 1, :block, 0, 1001, :zeros)"
                    ),
                    {"voter": voter, "block": block, "zeros": ZEROS},
                )
    finally:
        engine.dispose()


def test_0004_carries_votes_and_offices_over_and_back(database_url: str) -> None:
    upgrade(database_url, "0003_governance")
    _insert_0003_rows(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            votes = connection.execute(
                text("SELECT voter, block_number, void_block FROM proposal_votes ORDER BY 2")
            ).all()
            assert [tuple(row) for row in votes] == [("EM", 2, None), ("RU", 3, None)]
            admitted = connection.execute(
                text(
                    "SELECT office, block_number, log_index, change, name FROM office_admin_changes"
                )
            ).one()
            assert tuple(admitted) == ("EM", 1, -1, "admitted", "EUIPO")
            proposal = connection.execute(
                text("SELECT lapsed_block, threshold_bps, created_log_index FROM proposals")
            ).one()
            assert tuple(proposal) == (None, None, None)
            # A second vote of EM in a later term: a second row, which 0003's key refused.
            connection.execute(
                text(
                    "INSERT INTO proposal_votes (block_number, log_index, proposal_id, voter,"
                    " votes_after, block_timestamp, transaction_hash) VALUES (5, 0, 0, 'EM', 2,"
                    " 1005, :zeros)"
                ),
                {"zeros": ZEROS},
            )
            connection.execute(
                text("UPDATE proposals SET action = 'revoke-attestations-issued-since'")
            )
            connection.execute(text("UPDATE proposals SET action = 'suspend-office'"))
    finally:
        engine.dispose()

    command.downgrade(alembic_config(database_url), "0003_governance")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            votes = connection.execute(
                text("SELECT voter, block_number FROM proposal_votes ORDER BY 1")
            ).all()
            assert [tuple(row) for row in votes] == [("EM", 5), ("RU", 3)]
    finally:
        engine.dispose()
