"""``ipchain network``: separate office nodes on one chain node, each with only its own keys;
an event filed on one node shows on the others; a dead node is restarted alone; MT is admitted
live; bad starts are one line and leave nothing running."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ipchain.network.layout import NetworkState, is_running, read_state
from ipchain.node.service import example_events
from tests.helpers.cli import assert_one_line_error, run

OFFICES = ("EM", "AU", "RU", "MT")


def free_ports(count: int) -> int:
    """A base port with ``count`` free ports after it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count < 65000 and all(_free(base + i) for i in range(count)):
            return base
    raise AssertionError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("network") / "net"
    base = free_ports(6)
    result = run(
        "network", "up", "--dir", str(root), "--no-demo",
        "--rpc-port", str(base), "--base-port", str(base + 1),
    )  # fmt: skip
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield root
    finally:
        run("network", "down", "--dir", str(root))


def state(root: Path) -> NetworkState:
    recorded = read_state(root)
    assert recorded is not None
    return recorded


def group_pids(leader: int) -> set[int]:
    """Every live process in the process group ``leader`` leads."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == leader:
                    found.add(int(entry.name))
            except ProcessLookupError:
                continue
    return found


def token(root: Path, office: str) -> str:
    result = run("token", "create", "--office", office, "--data-dir", str(root / office))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def test_one_process_group_per_office_node_and_one_chain_node(network: Path) -> None:
    recorded = state(network)
    leaders = [node.pid for node in recorded.nodes] + [recorded.chain.pid]
    assert all(pid is not None and is_running(pid) for pid in leaders)
    for pid in leaders:
        assert pid is not None and os.getpgid(pid) == pid  # each leads its own group
    for node in recorded.nodes:
        assert node.pid is not None
        children = json.loads((Path(node.data_dir) / "run" / "processes.json").read_text())
        for child in children["processes"].values():
            assert os.getpgid(child["pid"]) == node.pid  # writer and API: in the node's group


def test_each_office_holds_only_its_own_keys(network: Path) -> None:
    recorded = state(network)
    for node in recorded.nodes:
        names = sorted(path.stem for path in (Path(node.data_dir) / "keystore").glob("*.json"))
        assert names == [f"{node.office}-admin", f"{node.office}-signer"]
    deployer = sorted(path.stem for path in (network / "consortium" / "keystore").glob("*.json"))
    assert deployer == ["deployer"]


def test_no_process_of_one_office_reaches_another_offices_data(network: Path) -> None:
    """Every process of an office's group runs on that office's data directory only: its
    settings, command line and open files name no other office's directory (all run as one OS
    user here, so this is what the layout can show; separate users would enforce it)."""
    recorded = state(network)
    directories = {node.office: str(Path(node.data_dir).resolve()) for node in recorded.nodes}
    for node in recorded.nodes:
        assert node.pid is not None
        others = [path for office, path in directories.items() if office != node.office]
        for pid in group_pids(node.pid):
            process = Path(f"/proc/{pid}")
            environment = (process / "environ").read_bytes().decode(errors="replace").split("\0")
            cmdline = (process / "cmdline").read_bytes().decode(errors="replace")
            opened = [str(path.readlink()) for path in (process / "fd").iterdir() if path.exists()]
            seen = " ".join([*environment, cmdline, *opened])
            for other in others:
                assert other + os.sep not in seen + os.sep and other not in opened, (
                    node.office,
                    pid,
                    other,
                )


def test_an_event_filed_on_one_node_shows_on_every_other(network: Path) -> None:
    recorded = state(network)
    em = recorded.node("EM")
    filing, _ = example_events("EM")
    reply = httpx.post(
        f"{em.url}/api/v1/offices/EM/events",
        json=filing,
        headers={"Authorization": f"Bearer {token(network, 'EM')}"},
        timeout=30,
    )
    assert reply.status_code == 202, reply.text
    for node in recorded.nodes:
        deadline = time.monotonic() + 30
        while True:
            answer = httpx.get(f"{node.url}/api/v1/records/{filing['record_key']}", timeout=10)
            if answer.status_code == 200:
                break
            assert time.monotonic() < deadline, f"{node.office} never showed it"
            time.sleep(0.1)


def test_a_second_up_while_running_is_one_line(network: Path) -> None:
    result = run("network", "up", "--dir", str(network))
    assert_one_line_error(result, 2, "already running")


def test_a_dead_node_shows_down_and_up_restarts_only_it(network: Path) -> None:
    recorded = state(network)
    ru, em = recorded.node("RU"), recorded.node("EM")
    assert ru.pid is not None
    os.killpg(ru.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_running(ru.pid):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    shown = run("network", "status", "--dir", str(network)).stdout
    assert "down" in next(line for line in shown.splitlines() if " RU " in line)
    result = run("network", "up", "--dir", str(network), "--no-demo")
    assert result.returncode == 0, result.stdout + result.stderr
    after = state(network)
    assert after.node("EM").pid == em.pid and after.chain.pid == recorded.chain.pid
    assert after.node("RU").pid != ru.pid and is_running(after.node("RU").pid)


def test_mt_is_admitted_live_by_the_founders_votes(network: Path) -> None:
    mt = state(network).node("MT")
    health = httpx.get(f"{mt.url}/api/v1/health", timeout=10).json()
    assert health["signing_offices"] == []  # a non-member: reads and indexes, cannot write
    result = run("network", "admit", "MT", "--dir", str(network))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MT admitted" in result.stdout
    health = httpx.get(f"{mt.url}/api/v1/health", timeout=10).json()
    assert health["signing_offices"] == ["MT"]


def test_a_taken_port_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("network", "up", "--dir", str(tmp_path / "net"), "--rpc-port", str(port))
    assert_one_line_error(result, 2, f"port {port}")
    assert read_state(tmp_path / "net") is None or not is_running(state(tmp_path / "net").chain.pid)
