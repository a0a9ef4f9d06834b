"""What a durable ``202 Accepted`` costs: submissions accepted per second with SQLite's
``synchronous=FULL`` (every commit fsync'd: what ipchain runs with) against ``NORMAL`` (the
WAL fsync'd only at checkpoints: a power cut may lose the last accepted submissions), and on
PostgreSQL (durable at commit by default; the outbox write insists with
``SET LOCAL synchronous_commit TO on``).

Each case writes submissions through :class:`~ipchain.register.submissions.SubmissionService`
(validation, history check, outbox transaction) in one thread, on a database in ``--dir``
(default: the system's temporary directory, which should be on the disk a node would use),
alternating the cases round after round so that both see the same machine load.

    python scripts/bench_durable.py
    python scripts/bench_durable.py --postgres postgresql+psycopg://postgres@127.0.0.1/test

Numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, event, make_url, text

from ipchain.db.base import make_engine, session_factory, upgrade
from ipchain.encoding import prefer_pysha3_for_libraries
from ipchain.register.submissions import SubmissionService


def filing(serial: int) -> dict[str, Any]:
    """A trademark filing (A10) of a new EM record."""
    day = "2025-01-15"
    return {
        "schema": "ipchain/register-event/v1",
        "record_key": f"EM/TM/{serial:09d}",
        "event_code": "A10",
        "event_date": day,
        "record_data": {
            "applicants": [{"name": "Acme Ltd", "country_code": "GB"}],
            "application_date": day,
            "mark_verbal_element_text": f"ACME {serial}",
            "mark_feature_category": "Word",
            "nice_classes": [
                {"class_number": 9, "descriptions": [{"language_code": "en", "text": "software"}]}
            ],
        },
    }


class Case:
    """A database and a submission service writing to it."""

    def __init__(self, name: str, url: str, synchronous: str | None = None) -> None:
        self.name = name
        upgrade(url)
        self.engine = make_engine(url)
        if synchronous is not None:

            @event.listens_for(self.engine, "connect")
            def set_synchronous(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

        self.service = SubmissionService(
            session_factory(self.engine), offices={"EM"}, indexed_block=lambda: 0
        )
        self.rates: dict[int, list[float]] = {}

    def run(self, serial: Callable[[], int], submissions: int, per_request: int) -> None:
        started = time.perf_counter()
        for _ in range(submissions):
            self.service.submit("EM", [filing(serial()) for _ in range(per_request)])
        rate = submissions * per_request / (time.perf_counter() - started)
        self.rates.setdefault(per_request, []).append(rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL to add")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--submissions", type=int, default=300, help="per round and case")
    args = parser.parse_args()
    console = Console()
    directory = Path(tempfile.mkdtemp(prefix="ipchain-bench-durable-", dir=args.dir))
    cases = [
        Case("SQLite, NORMAL (before)", f"sqlite:///{directory / 'normal.db'}", "NORMAL"),
        Case("SQLite, FULL (ipchain)", f"sqlite:///{directory / 'full.db'}"),
    ]
    schema = None
    if args.postgres:
        schema = f"bench_{secrets.token_hex(4)}"
        admin = create_engine(make_url(args.postgres).set(drivername="postgresql+psycopg"))
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = make_url(args.postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        cases.append(Case("PostgreSQL (synchronous_commit on)", url.render_as_string(False)))
    counter = iter(range(1, 10**9))
    try:
        with console.status("benchmarking…"):
            for _ in range(args.rounds):
                for case in cases:
                    case.run(lambda: next(counter), args.submissions, 1)
                    case.run(lambda: next(counter), max(args.submissions // 20, 5), 100)
    finally:
        for case in cases:
            case.engine.dispose()
        if schema is not None:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    table = Table(title="Events accepted per second (one writer thread, median of rounds)")
    table.add_column("database")
    table.add_column("1 event per submission", justify="right")
    table.add_column("100 events per submission", justify="right")
    for case in cases:
        table.add_row(
            case.name,
            f"{statistics.median(case.rates[1]):,.0f}",
            f"{statistics.median(case.rates[100]):,.0f}",
        )
    console.print(table)
    console.print(f"SQLite files in {directory}")


if __name__ == "__main__":
    prefer_pysha3_for_libraries()
    main()
