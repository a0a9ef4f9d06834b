"""``ipchain verify BUNDLE``: check a proof bundle against a chain node and print a report.

Needs only the bundle and a chain: ``--rpc URL`` (any JSON-RPC node of the consortium's chain)
or, without it, the embedded chain of a node's data directory. Never the API, never a database.

Exit codes: 0 the bundle is proven; 1 it is not (the report says which event and why); 2 the
bundle or the chain could not be used (one line on stderr, never a traceback, never
"verified").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ipchain.chain.base import ChainBackend
from ipchain.config import Settings
from ipchain.contracts.bindings import Deployment
from ipchain.errors import ChainMismatchError, IpchainError
from ipchain.verification import BundleReport, Finding, Verdict, verify_bundle
from ipchain.verification.bundle import Bundle, load_bundle

EXIT_VERIFIED = 0
"""The bundle is proven against the chain."""
EXIT_FAILED = 1
"""Verification ran and found a discrepancy."""
EXIT_BAD_INPUT = 2
"""The bundle is unreadable, or the chain unreachable or another chain."""

_MAX_BUNDLE_BYTES = 256 * 1024 * 1024


class _BadInput(Exception):
    """A reason to stop with exit code 2 (already worded for the user)."""


def run_verify(
    bundle_path: Path,
    rpc_url: str | None,
    data_dir: Path | None,
    *,
    require_head: bool = False,
) -> int:
    """Verify the bundle at ``bundle_path``, print the report, return the exit code."""
    try:
        bundle = _read_bundle(bundle_path)
        backend, expected = _open_chain(bundle, rpc_url, data_dir)
        try:
            report = verify_bundle(bundle, backend, require_head=require_head, expected=expected)
        finally:
            backend.close()
    except _BadInput as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    except IpchainError as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: still one line, and never "verified"
        _error(f"verification aborted by an internal error ({type(error).__name__}: {error})")
        return EXIT_BAD_INPUT
    _print_report(report)
    return EXIT_VERIFIED if report.ok else EXIT_FAILED


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


def _read_bundle(path: Path) -> Bundle:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_BUNDLE_BYTES + 1)
    except OSError as error:
        raise _BadInput(f"cannot read bundle {path}: {error.strerror or error}") from None
    if len(data) > _MAX_BUNDLE_BYTES:
        raise _BadInput(f"bundle {path} is larger than {_MAX_BUNDLE_BYTES // 2**20} MiB")
    try:
        return load_bundle(data)
    except IpchainError as error:
        raise _BadInput(f"invalid bundle {path}: {error}") from None


def _open_chain(
    bundle: Bundle, rpc_url: str | None, data_dir: Path | None
) -> tuple[ChainBackend, Deployment | None]:
    """The chain to check against, and the consortium's deployment when a data directory
    given on the command line knows it (then the bundle must name the same contracts)."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    expected = _deployment(settings) if data_dir is not None else None
    if expected is not None and expected.chain_id != bundle.chain_id:
        expected = None
    url = rpc_url or settings.rpc_url
    if url:
        from ipchain.chain.rpc import RpcChain

        token = settings.rpc_token.get_secret_value() if settings.rpc_token else None
        node = RpcChain.connect(url, expected_chain_id=bundle.chain_id, timeout=15.0, token=token)
        return node, expected
    if not settings.chain_dir.is_dir():
        raise _BadInput(
            "no chain to verify against: give --rpc URL (any JSON-RPC node of the chain) "
            f"or the --data-dir of a node with an embedded chain ({settings.chain_dir} "
            "does not exist)"
        )
    from ipchain.chain.embedded import EmbeddedChain

    chain = EmbeddedChain.open(settings.chain_dir)
    if chain.chain_id != bundle.chain_id:
        chain.close()
        raise ChainMismatchError(
            f"the bundle is for chain id {bundle.chain_id}, the embedded chain in "
            f"{settings.chain_dir} is chain id {chain.chain_id}"
        )
    return chain, expected


def _deployment(settings: Settings) -> Deployment | None:
    try:
        text = settings.deployment_file.read_text("utf-8")
    except OSError:
        return None
    try:
        return Deployment.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        raise _BadInput(f"{settings.deployment_file} is not a deployment file") from None


# ------------------------------------------------------------------------------ report

_STYLES = {
    Verdict.VERIFIED: "green",
    Verdict.TAMPERED: "bold red",
    Verdict.MISSING: "red",
    Verdict.UNANCHORED: "bold red",
    Verdict.OUT_OF_ORDER: "red",
}


def _print_report(report: BundleReport) -> None:
    console = Console(highlight=False)
    console.print(Text(f"Record {report.record_key}", style="bold"))
    console.print(
        f"Chain id {report.chain_id} · OfficeRegistry {report.registry_address} · "
        f"RegisterLedger {report.ledger_address}",
        markup=False,
        soft_wrap=True,
    )
    table = Table(show_edge=False, header_style="bold")
    table.add_column("Seq", justify="right")
    table.add_column("Event")
    table.add_column("Verdict")
    table.add_column("Detail", overflow="fold")
    for check in report.checks:
        table.add_row(
            "" if check.seq is None else str(check.seq),
            check.event_code or "",
            Text(_verdict_label(check), style=_style(check)),
            Text(check.detail),
        )
    console.print(table)
    for problem in report.problems:
        console.print(Text(f"problem: {problem}", style="red"), soft_wrap=True)
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    console.print(Text(_verdict_line(report), style="bold green" if report.ok else "bold red"))


def _verdict_label(check: Finding) -> str:
    if check.verdict is Verdict.MISSING and not check.failed:
        return "missing (newer)"
    return check.verdict.value.replace("_", " ")


def _style(check: Finding) -> str:
    if check.verdict is Verdict.MISSING and not check.failed:
        return "yellow"
    return _STYLES[check.verdict]


def _verdict_line(report: BundleReport) -> str:
    if report.ok:
        line = (
            f"VERIFIED: {report.record_key}, {report.bundle_seq} event(s) proven against "
            f"chain {report.chain_id}"
        )
        if report.newer_events:
            line += f"; {report.newer_events} newer event(s) anchored since, not in the bundle"
        return line
    failed = [check for check in report.checks if check.failed]
    named = [
        f"event {check.seq} {check.verdict.value}"
        if check.seq is not None
        else f"position {check.position} {check.verdict.value}"
        for check in failed[:5]
    ]
    if len(failed) > len(named):
        named.append(f"{len(failed) - len(named)} more")
    reasons = ", ".join(named) or (report.problems[0] if report.problems else "see above")
    return f"FAILED: {report.record_key} is not proven ({reasons})"
