"""Bringing a local consortium up, reporting on it, admitting an office live, and taking it down.

Every office node is ``ipchain serve`` in a process group of its own, started with its own data
directory and ``--rpc`` pointing at the shared chain node; nothing here holds an office's key:
keys are made in each office's own keystore, the consortium is deployed by a set-up identity of
its own (the deployer, which the chain node lets do nothing else once the consortium exists),
and governance steps run as ``ipchain propose``/``vote`` processes acting for one office each,
in that office's data directory. Processes outlive ``network up``; ``network down`` stops them
by pid and leaves every data directory for the next ``up``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import requests
from eth_account import Account

from ipchain.chain.rpc import RpcChain
from ipchain.config import DEMO_OFFICES, Settings
from ipchain.contracts.bindings import Deployment, FoundingOffice, deploy_consortium
from ipchain.errors import InvalidInputError, IpchainError
from ipchain.keys import admin_key_name, signer_key_name
from ipchain.network.layout import (
    ChainNode,
    NetworkState,
    OfficeNode,
    is_running,
    read_state,
    write_state,
)
from ipchain.node.setup import (
    DEPLOYER_KEY,
    deployer_address,
    fund,
    keystore_password,
    node_keystore,
)

OBSERVER: Final = ("MT", "Malta Industrial Property Registrations Directorate")
"""The office whose node runs as a non-member until the consortium admits it."""

START_TIMEOUT_SECONDS: Final = 300.0
"""How long one node may take to start (its demo data anchored and indexed)."""

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What ``network status`` reports of one node."""

    office: str
    """ST.3 code (``chain`` for the chain node)."""
    url: str
    """Its API (or JSON-RPC) URL."""
    running: bool
    """Whether its process is alive."""
    member: bool | None
    """Whether it signs for its office (None: unknown, the node does not answer)."""
    chain_head: int | None
    """The chain's head as the node sees it."""
    indexed_block: int | None
    """The last block it indexed."""

    @property
    def lag(self) -> int | None:
        """Blocks its index is behind the chain."""
        if self.chain_head is None or self.indexed_block is None:
            return None
        return max(self.chain_head - self.indexed_block, 0)


# ------------------------------------------------------------------------------ up


def up(
    root: Path,
    *,
    rpc_port: int = 8545,
    base_port: int = 8101,
    demo: bool = True,
    admit_offices: Sequence[str] = (),
    say: Say = print,
) -> NetworkState:
    """Start what is not running of the network at ``root`` (all of it the first time)."""
    root = root.resolve()
    state = read_state(root) or _new_state(root, rpc_port, base_port)
    chain_up = is_running(state.chain.pid)
    down_nodes = [node for node in state.nodes if not is_running(node.pid)]
    if chain_up and not down_nodes:
        raise InvalidInputError(
            f"the network in {root} is already running (ipchain network status)", field="root"
        )
    # Every port is checked before anything starts: no half-started network on a taken port.
    if not chain_up:
        _check_free(state.chain.port, "the chain node")
    for node in down_nodes:
        _check_free(node.port, f"the {node.office} node")
    for node in state.nodes:
        _office_keys(Path(node.data_dir), node.office)
    if not chain_up:
        deployer = deployer_address(_consortium_settings(root))
        pid = _start_chain(root, state.chain, deployer)
        state = replace(state, chain=replace(state.chain, pid=pid))
        write_state(root, state)
        say(f"chain node: {state.rpc_url}")
    _deploy(root, state, say)
    starting = {node.office: _start_node(root, node, demo) for node in down_nodes}
    nodes = tuple(
        replace(node, pid=starting[node.office]) if node.office in starting else node
        for node in state.nodes
    )
    state = replace(state, nodes=nodes)
    write_state(root, state)
    for node in state.nodes:
        if node.office in starting:
            _wait_node(node)
            say(f"{node.office} node: {node.url}/workshop")
    for office in admit_offices:
        admit(root, office, say=say)
    return state


def _new_state(root: Path, rpc_port: int, base_port: int) -> NetworkState:
    offices = [*((code, name, True) for code, name in DEMO_OFFICES), (*OBSERVER, False)]
    nodes = tuple(
        OfficeNode(
            office=code,
            name=name,
            url=f"http://127.0.0.1:{base_port + index}",
            port=base_port + index,
            data_dir=str(root / code),
            founder=founder,
        )
        for index, (code, name, founder) in enumerate(offices)
    )
    chain = ChainNode(
        url=f"http://127.0.0.1:{rpc_port}", port=rpc_port, data_dir=str(root / "chain")
    )
    return NetworkState(chain=chain, nodes=nodes)


def _check_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise InvalidInputError(
                f"port {port} for {what} is taken: stop what uses it, or choose other ports "
                "(--rpc-port, --base-port)",
                field="port",
            ) from None


def _consortium_settings(root: Path) -> Settings:
    return Settings(data_dir=root / "consortium")


def _office_keys(data_dir: Path, office: str) -> tuple[str, str]:
    """The office's admin and signer addresses, its keys made in its own keystore the first
    time (and nobody else's there)."""
    settings = Settings(data_dir=data_dir)
    keystore = node_keystore(settings)
    names = set(keystore.names())
    for name in (admin_key_name(office), signer_key_name(office)):
        if name not in names:
            keystore.create(name, keystore_password(settings, create=True), Account.create().key)
    return (
        keystore.address_of(admin_key_name(office)),
        keystore.address_of(signer_key_name(office)),
    )


def _spawn(argv: Sequence[str], log: Path, environment: dict[str, str] | None = None) -> int:
    """Start a process in a session of its own (it outlives ``network up``); its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            list(argv),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(environment or {})},
            start_new_session=True,
        )
    return process.pid


def _wait_for_line(log: Path, prefix: str, pid: int, what: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for line in log.read_text("utf-8", "replace").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix) :].strip()
        if not is_running(pid):
            lines = [line for line in log.read_text("utf-8", "replace").splitlines() if line]
            raise IpchainError(f"{what} stopped: {lines[-1] if lines else 'no output'}")
        time.sleep(0.1)
    raise IpchainError(f"{what} did not start within {timeout:.0f} s (log: {log})")


def _start_chain(root: Path, chain: ChainNode, deployer: str) -> int:
    log = root / "chain.log"
    log.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "api.cli", "chain", "serve", "--data-dir", chain.data_dir]
    argv += ["--port", str(chain.port), "--deployer", deployer]
    pid = _spawn(argv, log)
    _wait_for_line(log, "JSON-RPC: ", pid, "the chain node", 60)
    return pid


def _deploy(root: Path, state: NetworkState, say: Say) -> None:
    """Deploy the consortium the first time (its founders' public addresses only), and give
    each office node the deployment (public: contract addresses)."""
    consortium = _consortium_settings(root)
    backend = RpcChain.connect(state.rpc_url)
    try:
        accounts = {
            node.office: _office_keys(Path(node.data_dir), node.office) for node in state.nodes
        }
        if not consortium.deployment_file.exists():
            deployer_account = deployer_address(consortium)
            fund(backend, [deployer_account, *(a for pair in accounts.values() for a in pair)])
            founders = [
                FoundingOffice(
                    node.office, node.name, accounts[node.office][0], (accounts[node.office][1],)
                )
                for node in state.nodes
                if node.founder
            ]
            deployer = node_keystore(consortium).load(DEPLOYER_KEY, keystore_password(consortium))
            deployment = deploy_consortium(backend, deployer, founders)
            _write_deployment(consortium.deployment_file, deployment)
            say(f"consortium deployed: {', '.join(f.code for f in founders)} founding members")
        else:
            fund(backend, [a for pair in accounts.values() for a in pair])
        text = consortium.deployment_file.read_text("utf-8")
        for node in state.nodes:
            target = Settings(data_dir=Path(node.data_dir)).deployment_file
            if not target.exists():
                target.write_text(text, "utf-8")
    finally:
        backend.close()


def _write_deployment(path: Path, deployment: Deployment) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(deployment.to_json(), indent=2) + "\n", "utf-8")
    temporary.replace(path)


def _start_node(root: Path, node: OfficeNode, demo: bool) -> int:
    log = Path(node.data_dir) / "serve.log"
    log.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "api.cli", "serve", "--data-dir", node.data_dir]
    state = read_state(root)
    assert state is not None  # up() records the network before it starts nodes
    argv += ["--rpc", state.rpc_url, "--port", str(node.port), "--workers", "1"]
    if demo and node.founder:
        argv.append("--demo")
    return _spawn(argv, log, {"IPCHAIN_NETWORK_FILE": str(root / "network.json")})


def _wait_node(node: OfficeNode) -> None:
    assert node.pid is not None
    log = Path(node.data_dir) / "serve.log"
    _wait_for_line(
        log, "JSON-RPC for auditors", node.pid, f"the {node.office} node", START_TIMEOUT_SECONDS
    )


# ------------------------------------------------------------------------------ status


def status(root: Path) -> list[NodeStatus]:
    """Each node of the network at ``root``, as it answers now."""
    state = read_state(root.resolve())
    if state is None:
        raise InvalidInputError(f"no network in {root} (ipchain network up)", field="root")
    rows = [
        NodeStatus(
            "chain", state.rpc_url, is_running(state.chain.pid), None, _chain_head(state), None
        )
    ]
    for node in state.nodes:
        member, head, indexed = None, None, None
        if is_running(node.pid):
            try:
                health = requests.get(f"{node.url}/api/v1/health", timeout=5).json()
                member = node.office in health.get("signing_offices", [])
                head, indexed = health.get("chain_head"), health.get("indexed_block")
            except (requests.RequestException, ValueError):
                pass
        rows.append(NodeStatus(node.office, node.url, is_running(node.pid), member, head, indexed))
    return rows


def _chain_head(state: NetworkState) -> int | None:
    if not is_running(state.chain.pid):
        return None
    try:
        backend = RpcChain.connect(state.rpc_url, timeout=5)
    except IpchainError:
        return None
    try:
        return backend.block_number()
    finally:
        backend.close()


# ------------------------------------------------------------------------------ admission


def admit(root: Path, office: str, *, say: Say = print) -> None:
    """Admit ``office`` by vote, live: a founder proposes its admission (its admin key) and
    then its signer key, the other founders vote, each through its own data directory; then
    the office's node restarts its writer and API, which now sign for it."""
    root = root.resolve()
    state = read_state(root)
    if state is None:
        raise InvalidInputError(f"no network in {root} (ipchain network up)", field="root")
    newcomer = state.node(office)
    if newcomer.founder:
        raise InvalidInputError(f"{office} is a founding member already", field="office")
    admin, signer = _office_keys(Path(newcomer.data_dir), office)
    members = [node for node in state.nodes if node.founder]
    steps = [
        ("admit-office", ["--account", admin, "--name", newcomer.name]),
        ("add-signer", ["--account", signer]),
    ]
    for action, arguments in steps:
        proposer, *voters = members
        output = _cli(
            state,
            proposer,
            ["propose", action, "--as", proposer.office, "--office", office, *arguments],
        )
        found = re.search(r"proposal (\d+)", output)
        if found is None:
            raise IpchainError(f"{action} for {office}: no proposal id in {output!r:.200}")
        proposal = found.group(1)
        say(f"{proposer.office} proposed {action} {office} (proposal {proposal})")
        passed = "passed" in output or "executed" in output
        for voter in voters:
            if passed:
                break
            output = _cli(state, voter, ["vote", proposal, "--as", voter.office])
            say(f"{voter.office} voted for proposal {proposal}")
            passed = "passed and took effect" in output
        if not passed:
            raise IpchainError(f"{action} for {office} did not pass")
    _restart_children(newcomer)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        row = next(r for r in status(root) if r.office == office)
        if row.member:
            say(f"{office} admitted: its node now signs for {office}")
            return
        time.sleep(0.5)
    raise IpchainError(f"{office} was admitted, but its node does not sign for it yet")


def _cli(state: NetworkState, node: OfficeNode, arguments: list[str]) -> str:
    argv = [sys.executable, "-m", "api.cli", *arguments]
    argv += ["--data-dir", node.data_dir, "--rpc", state.rpc_url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise IpchainError(f"{node.office}: {' '.join(arguments[:2])}: {message}")
    return result.stdout


def _restart_children(node: OfficeNode) -> None:
    """Kill the node's writer and API; its supervisor starts them again (with the keys the
    chain now binds to the office)."""
    processes = Path(node.data_dir) / "run" / "processes.json"
    children = json.loads(processes.read_text("utf-8"))["processes"]
    for name in ("writer", "api"):
        pid = children.get(name, {}).get("pid")
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------ down


def down(root: Path, *, say: Say = print) -> None:
    """Stop every process of the network (office nodes first, then the chain); keep data."""
    root = root.resolve()
    state = read_state(root)
    if state is None:
        raise InvalidInputError(f"no network in {root}", field="root")
    for pid, what in [
        *((n.pid, f"{n.office} node") for n in state.nodes),
        (state.chain.pid, "chain node"),
    ]:
        if is_running(pid):
            assert pid is not None
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 90
            while is_running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if is_running(pid):
                os.killpg(pid, signal.SIGKILL)
            say(f"{what} stopped")
    write_state(
        root,
        replace(
            state,
            chain=replace(state.chain, pid=None),
            nodes=tuple(replace(node, pid=None) for node in state.nodes),
        ),
    )
