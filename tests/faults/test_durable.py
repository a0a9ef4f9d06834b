"""A ``202 Accepted`` means the submission is on disk: SQLite connections commit with
``synchronous=FULL`` (the WAL fsync'd at every commit), and on PostgreSQL the outbox write
insists on ``synchronous_commit`` whatever the server's default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.register.submissions import SubmissionService
from tests.helpers.documents import event_document


def test_the_outbox_commit_is_durable_when_submit_returns(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    try:
        service = SubmissionService(session_factory(engine), offices={"EM"}, indexed_block=int)
        view = service.submit("EM", [event_document("EM/TM/018500001")])
        assert view.status == "pending"
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            else:
                assert "SET LOCAL synchronous_commit TO on" in statements
    finally:
        engine.dispose()
