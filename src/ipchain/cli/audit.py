"""``ipchain audit``: cross-check a node's whole index database against the chain.

Shows a progress bar over the audited blocks, then a summary and the discrepancies found; the
machine-readable report (docs/audit.md) goes to ``--report FILE`` and, with ``--json``, to
standard output instead of the summary.

Exit codes: 0 the database is exactly what the chain holds; 1 discrepancies (each named by
record and event); 2 the audit could not run (uninitialised data directory, no index database,
chain unreachable): one line on stderr, never a traceback, never "passed".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from ipchain.config import Settings
from ipchain.contracts.bindings import Deployment
from ipchain.db.base import make_engine, session_factory
from ipchain.errors import InvalidInputError, IpchainError
from ipchain.verification.audit import AuditReport, audit

EXIT_PASSED: Final = 0
"""The database is exactly what the chain holds."""
EXIT_DISCREPANCIES: Final = 1
"""The audit ran and found discrepancies."""
EXIT_BAD_INPUT: Final = 2
"""The audit could not run."""

SHOWN_DISCREPANCIES: Final = 50
"""Discrepancies printed in the summary (the JSON report lists more)."""


class _BadInput(InvalidInputError):
    """A reason to stop with exit code 2 (already worded for the user)."""


def run_audit(settings: Settings, report_path: Path | None, *, as_json: bool = False) -> int:
    """Audit the node of ``settings``, print the outcome, write the report; the exit code."""
    console = Console(stderr=as_json, highlight=False)
    try:
        report = _run(settings, console)
        text = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
        if report_path is not None:
            try:
                report_path.write_text(text, "utf-8")
            except OSError as error:
                raise _BadInput(
                    f"cannot write the report to {report_path}: {error.strerror or error}"
                ) from None
    except (_BadInput, IpchainError) as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    except SQLAlchemyError as error:
        _error(f"the index database failed: {_first_line(error)}")
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: still one line, and never "passed"
        _error(f"audit aborted by an internal error ({type(error).__name__}: {error})")
        return EXIT_BAD_INPUT
    if as_json:
        sys.stdout.write(text)
    else:
        _print_summary(report, console, report_path)
    return EXIT_PASSED if report.ok else EXIT_DISCREPANCIES


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


def _first_line(error: SQLAlchemyError) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _run(settings: Settings, console: Console) -> AuditReport:
    engine = open_index(settings)
    try:
        from ipchain.node.setup import Node

        node = Node.open(settings)
        try:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("blocks · {task.fields[events]:,} events"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=not console.is_terminal,
            ) as bar:
                task = bar.add_task("Auditing", total=None, events=0)

                def advance(blocks: int, total: int, events: int) -> None:
                    bar.update(task, completed=blocks, total=total, events=events)

                sessions = session_factory(engine)
                return audit(sessions, node.backend, node.deployment, progress=advance)
        finally:
            node.close()
    finally:
        engine.dispose()


def _check_deployment_file(settings: Settings) -> None:
    if not settings.deployment_file.exists():
        raise _BadInput(
            f"{settings.data_dir} is not an initialised node (no {settings.deployment_file.name}):"
            " run 'ipchain init', or give the --data-dir of the node"
        )
    try:
        Deployment.from_json(json.loads(settings.deployment_file.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise _BadInput(f"{settings.deployment_file} is not a deployment file") from None


def open_index(settings: Settings) -> Engine:
    """The index database of an initialised node, which must exist and hold the register
    tables (the audit and the index commands never create or migrate one);
    :class:`~ipchain.errors.InvalidInputError` worded for the user otherwise."""
    _check_deployment_file(settings)
    url = make_url(settings.resolved_database_url())
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or not path.is_file():
            raise _BadInput(
                f"no index database at {path}: the node has not indexed anything yet "
                "(run 'ipchain serve'), or give its --data-dir / IPCHAIN_DATABASE_URL"
            )
    engine = make_engine(url)
    try:
        has_events = inspect(engine).has_table("events")
    except SQLAlchemyError as error:
        engine.dispose()
        raise _BadInput(f"cannot open the index database: {_first_line(error)}") from None
    if not has_events:
        engine.dispose()
        raise _BadInput(
            f"{url.render_as_string(hide_password=True)} has no register tables: it is not an "
            "ipchain index database"
        )
    return engine


# ------------------------------------------------------------------------------ summary


def _print_summary(report: AuditReport, console: Console, report_path: Path | None) -> None:
    totals = report.totals
    console.print(
        f"Audited {report.database} against chain {report.chain_id} "
        f"(RegisterLedger {report.ledger_address}), blocks {report.from_block}-"
        f"{report.to_block} of {report.chain_head}, in {report.seconds:.1f} s",
        markup=False,
        soft_wrap=True,
    )
    figures = Table(show_edge=False, show_header=False)
    figures.add_column(justify="right")
    figures.add_column()
    for count, label in (
        (totals.anchored_events, "events anchored on chain"),
        (totals.stored_events, "events stored in the database"),
        (totals.verified_events, "stored events verified"),
        (totals.documents_rehashed, "stored documents re-hashed"),
        (totals.records, "records"),
    ):
        figures.add_row(f"{count:,}", label)
    console.print(figures)
    if report.discrepancy_total:
        table = Table(show_edge=False, header_style="bold")
        table.add_column("Record")
        table.add_column("Seq", justify="right")
        table.add_column("Kind")
        table.add_column("Detail", overflow="fold")
        for item in report.discrepancies[:SHOWN_DISCREPANCIES]:
            kind = item.kind.value + (f" ({item.field})" if item.field else "")
            table.add_row(
                item.record_key,
                "" if item.seq is None else str(item.seq),
                Text(kind, style="red"),
                Text(item.detail),
            )
        console.print(table)
        hidden = report.discrepancy_total - min(len(report.discrepancies), SHOWN_DISCREPANCIES)
        if hidden:
            where = f"see {report_path}" if report_path else "write them with --report FILE"
            console.print(f"… and {hidden:,} more ({where})", markup=False)
        counts = ", ".join(f"{kind} {count:,}" for kind, count in report.discrepancy_counts.items())
        console.print(f"By kind: {counts}", markup=False, soft_wrap=True)
    for problem in report.problems:
        console.print(Text(f"problem: {problem}", style="red"), soft_wrap=True)
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    if report_path is not None:
        console.print(f"Report written to {report_path}", markup=False, soft_wrap=True)
    console.print(Text(_verdict_line(report), style="bold green" if report.ok else "bold red"))


def _verdict_line(report: AuditReport) -> str:
    if report.ok:
        return (
            f"AUDIT PASSED: all {report.totals.stored_events:,} stored events are exactly "
            "what the chain holds"
        )
    if not report.discrepancy_total:
        return f"AUDIT FAILED: {report.problems[0]}"
    total = report.discrepancy_total
    records = len({item.record_key for item in report.discrepancies})
    at_least = "+" if total > len(report.discrepancies) else ""
    return (
        f"AUDIT FAILED: {_count(total, 'discrepancy', 'discrepancies')} in "
        f"{_count(records, 'record', 'records')}{at_least}"
    )


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"
