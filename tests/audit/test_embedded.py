"""``ipchain audit`` on a node of the default topology: the embedded chain and its SQLite index in
the data directory, no options but ``--data-dir``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from ipchain.cli.audit import (
    EXIT_BAD_INPUT,
    EXIT_DISCREPANCIES,
    EXIT_PASSED,
    run_audit,
)
from ipchain.config import Settings
from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.db.indexer import Indexer
from ipchain.keys import signer_key_name
from ipchain.node.setup import init_node
from ipchain.register.indexing import register_handlers
from ipchain.verification import Verifier
from tests.helpers.documents import to_anchor, trademark_event

DAY = datetime.date(2024, 5, 2)
RECORD = "EM/TM/018555001"


def test_embedded_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "node")
    node = init_node(settings)
    url = settings.resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    try:
        signer = node.office_key(signer_key_name("EM"))
        node.ledger.anchor(
            signer,
            [
                to_anchor(trademark_event(RECORD, "A10", DAY, mark="Solar")),
                to_anchor(trademark_event(RECORD, "Q10", DAY.replace(day=9))),
            ],
        )
        sessions = session_factory(engine)
        assert Indexer(node.backend, node.deployment, sessions, register_handlers()).run_once() == 2
        verification = Verifier(node.backend, node.deployment, session_factory=sessions)
        assert verification.verify_stored_record(RECORD).ok

        # The node holds its embedded chain: the audit cannot open it, and says so.
        assert run_audit(settings, None) == EXIT_BAD_INPUT
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1
    finally:
        node.close()

    assert run_audit(settings, None) == EXIT_PASSED
    assert "AUDIT PASSED: all 2 stored events" in capsys.readouterr().out
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE events SET event_date = '2024-05-03' WHERE seq = 2")
    report = tmp_path / "report.json"
    assert run_audit(settings, report) == EXIT_DISCREPANCIES
    assert "AUDIT FAILED: 1 discrepancy in 1 record" in capsys.readouterr().out
    (found,) = json.loads(report.read_text())["discrepancies"]
    assert (found["record_key"], found["seq"], found["field"]) == (RECORD, 2, "event_date")
    engine.dispose()
