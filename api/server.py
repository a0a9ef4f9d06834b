"""Serving a node's HTTP API (``ipchain serve``): start the node service, optionally load the
workshop demo data with its API tokens, and run uvicorn until interrupted.

This is the only place the ``ipchain`` package and the FastAPI application meet; ``ipchain``
itself never imports ``api``.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from pathlib import Path

import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from api.app import create_app
from ipchain.config import Settings
from ipchain.errors import IpchainError
from ipchain.node.service import NodeService, load_demo_data


def demo_tokens_file(settings: Settings) -> Path:
    """Where ``--demo`` keeps the demo offices' API tokens (0600)."""
    return settings.data_dir / "secrets" / "demo-tokens.json"


def ensure_demo_tokens(service: NodeService) -> tuple[dict[str, str], bool]:
    """One API token per office the node can write for, made on the first demo start and kept
    in :func:`demo_tokens_file`. Returns the tokens and whether they were just made."""
    path = demo_tokens_file(service.settings)
    if path.exists():
        stored = json.loads(path.read_text("utf-8"))
        tokens = {office: str(token) for office, token in stored.items()}
        still_valid = True
        for token in tokens.values():
            try:
                service.authenticate(token)
            except IpchainError:
                still_valid = False
        if still_valid:
            return tokens, False
    tokens = {
        office: service.create_token(office, label="demo")
        for office in sorted(service.submissions.offices)
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(tokens, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)
    return tokens, True


def run_server(settings: Settings, *, demo: bool, host: str, port: int) -> None:
    """Run the node and serve the API until interrupted (``ipchain serve``)."""
    console = Console()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    service = NodeService(settings).start()
    try:
        if demo:
            _tokens, new = ensure_demo_tokens(service)
            path = demo_tokens_file(settings)
            # Tokens are secrets: a server's output usually ends up in logs, so only their
            # file (mode 0600) is named here.
            state = "created" if new else "kept"
            console.print(f"Demo API tokens ({state}, one per office): {path}")
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("Loading demo register events", total=None)

                def show(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                loaded = load_demo_data(service, progress=show)
            if loaded:
                console.print(f"[green]demo data loaded[/]: {loaded} events")
        console.print(f"API on http://{host}:{port}/api/v1 (docs: /api/v1/docs)")
        console.print(f"Workshop page: http://{host}:{port}/workshop")
        # Start-up objects (catalogues, ABIs, keys) live for the whole process: freezing them
        # spares every later full garbage collection from walking them (~20 µs per event).
        gc.collect()
        gc.freeze()
        uvicorn.run(create_app(service), host=host, port=port, log_level="info")
    finally:
        service.stop()
