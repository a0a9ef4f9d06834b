"""``ipchain serve``: a node as supervised processes — its chain served over JSON-RPC (when it
is the embedded one), the writer (submitter and indexer), the HTTP API's uvicorn workers — with
the workshop demo data and its API tokens on request, and ready-to-paste first commands.

The ``api`` package composes ``ipchain``'s pieces with the FastAPI application; ``ipchain``
itself never imports ``api``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

from ipchain.config import Settings
from ipchain.errors import InvalidInputError, IpchainError
from ipchain.node.service import NodeService, ServiceOptions, example_events, load_demo_data
from ipchain.node.setup import deployer_address, init_node
from ipchain.node.supervisor import ProcessSpec, Supervisor, python_module

DEFAULT_RPC_PORT = 8545
"""Where ``ipchain serve`` serves its embedded chain's JSON-RPC by default."""


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


def run_server(
    settings: Settings,
    *,
    demo: bool,
    host: str,
    port: int,
    rpc_port: int = DEFAULT_RPC_PORT,
    workers: int | None = None,
) -> None:
    """Run the node as supervised processes until interrupted (``ipchain serve``): the chain
    (when the node uses the embedded one, served over JSON-RPC on ``rpc_port`` so auditors and
    tools can read it while the node runs), the writer (submitter and indexer), and the API
    (``workers`` uvicorn workers, default one per core). A process that dies is restarted; the
    others keep serving."""
    console = Console()
    _check_free(host, port, f"port {port} on {host} is taken: choose another with PORT=N")
    if settings.rpc_url is None:
        _check_free(
            host, rpc_port, f"port {rpc_port} on {host} is taken: choose another with RPC_PORT=N"
        )
    supervisor = Supervisor(settings.data_dir / "run", say=console.print)
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()
        supervisor.request_stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        rpc_url = settings.rpc_url
        if rpc_url is None:
            deployer = deployer_address(settings)
            rpc_url = supervisor.start(
                ProcessSpec(
                    "chain",
                    python_module(
                        "api.cli",
                        "chain",
                        "serve",
                        "--data-dir",
                        str(settings.chain_dir),
                        "--host",
                        host,
                        "--port",
                        str(rpc_port),
                        "--deployer",
                        deployer,
                    ),
                    ready_prefix="JSON-RPC: ",
                )
            )
            settings = settings.model_copy(update={"rpc_url": rpc_url})
        environment = _environment(settings)
        if demo:  # the API workers add the demo-only routes (the workshop's tamper button)
            environment["IPCHAIN_DEMO"] = "1"
        with console.status("setting up the node…"):
            init_node(settings).close()
        supervisor.start(
            ProcessSpec(
                "writer", python_module("ipchain.node.writer"), "writer: ready", environment
            )
        )
        tokens = _demo(settings, console) if demo else None
        supervisor.start(
            ProcessSpec(
                "api",
                python_module(
                    "uvicorn",
                    "api.app:app_from_environment",
                    "--factory",
                    # uvicorn's own refusals (a request h11 cannot parse: 400; headers over
                    # 16 KiB: 431) as problem responses like every other error.
                    "--http",
                    "api.problems:ProblemH11Protocol",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--workers",
                    str(workers or os.cpu_count() or 1),
                ),
                ready_prefix="INFO:     Application startup complete",
                env=environment,
            )
        )
        _print_first_run(console, settings, host, port, rpc_url, tokens)
        if not stop.is_set():
            supervisor.watch()
    finally:
        supervisor.stop()


def _check_free(host: str, port: int, message: str) -> None:
    """Fail in one line, before any slow set-up, when a port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise InvalidInputError(message, field="port") from None


def _environment(settings: Settings) -> dict[str, str]:
    """The settings as ``IPCHAIN_*`` variables, for the node's other processes."""
    environment = {
        "IPCHAIN_DATA_DIR": str(settings.data_dir.resolve()),
        "IPCHAIN_RPC_URL": str(settings.rpc_url),
    }
    if settings.database_url:
        environment["IPCHAIN_DATABASE_URL"] = settings.database_url
    if settings.keystore_fast_kdf:
        environment["IPCHAIN_KEYSTORE_FAST_KDF"] = "1"
    return environment


def _demo(settings: Settings, console: Console) -> dict[str, str]:
    """The demo API tokens and data: submitted here through the outbox, anchored and indexed
    by the writer process. Returns the tokens."""
    service = NodeService(settings, ServiceOptions(run_submitter=False, run_indexer=False)).start()
    try:
        tokens, new = ensure_demo_tokens(service)
        state = "created" if new else "kept"
        console.print(f"Demo API tokens ({state}, one per office): {demo_tokens_file(settings)}")
        loaded = 0
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task: TaskID | None = None

            def show(done: int, total: int) -> None:
                nonlocal task
                if task is None:
                    task = bar.add_task("Loading demo register events", total=total)
                bar.update(task, completed=done, total=total)

            loaded = load_demo_data(service, progress=show)
        if loaded:
            console.print(f"[green]demo data loaded[/]: {loaded} events")
        return tokens
    finally:
        service.stop()


def _print_first_run(
    console: Console,
    settings: Settings,
    host: str,
    port: int,
    rpc_url: str,
    tokens: Mapping[str, str] | None,
) -> None:
    """What a new user wants first: ready-to-paste commands (never a token itself)."""
    base = f"http://{host}:{port}"
    console.print(f"API: {base}/api/v1 (docs: {base}/api/v1/docs)")
    console.print(f"Workshop page: {base}/workshop")
    console.print(f"JSON-RPC for auditors and tools: {rpc_url}")
    if not tokens:
        return
    office = "EM" if "EM" in tokens else sorted(tokens)[0]
    filing, follow_up = example_events(office)
    token_file = demo_tokens_file(settings).resolve()
    load = (
        f"TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"{office}\"])' "
        f"{token_file})"
    )
    submit = f"curl -s -X POST {base}/api/v1/offices/{office}/events"
    header = '-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json"'
    key = filing["record_key"]
    lines = [
        "# load the demo token of " + office + " (the token itself is never printed)",
        load,
        "# file an application",
        f"{submit} {header} -d '{json.dumps(filing, ensure_ascii=True)}'",
        "# a follow-up event for it",
        f"{submit} {header} -d '{json.dumps(follow_up, ensure_ascii=True)}'",
        "# its proof bundle, checked against the chain without trusting this node",
        f"ipchain bundle {key} --out bundle.json --data-dir {settings.data_dir} --rpc {rpc_url}",
        f"ipchain verify bundle.json --rpc {rpc_url}",
    ]
    console.print("Try it (paste into a shell):", highlight=False)
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
