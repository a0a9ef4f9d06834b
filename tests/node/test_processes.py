"""``ipchain serve`` as supervised processes: a writer and API workers over one chain; a process
killed with SIGKILL is restarted and nothing accepted is lost; a taken port is one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ipchain.chain.anvil import AnvilNode
from ipchain.node.service import example_events
from tests.helpers.cli import IPCHAIN, assert_one_line_error, run


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    """A running ``ipchain serve`` and where it is."""

    process: subprocess.Popen[str]
    data_dir: Path
    base: str
    output: Path

    def processes(self) -> dict[str, Any]:
        state = json.loads((self.data_dir / "run" / "processes.json").read_text("utf-8"))
        return dict(state["processes"])

    def token(self, office: str) -> str:
        tokens = json.loads((self.data_dir / "secrets" / "demo-tokens.json").read_text("utf-8"))
        return str(tokens[office])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    anvil = AnvilNode.start()
    data_dir = tmp_path_factory.mktemp("served") / "node"
    port = free_port()
    output = data_dir.parent / "serve.out"
    environment = {**os.environ, "IPCHAIN_KEYSTORE_FAST_KDF": "1"}
    with output.open("w") as sink:
        process = subprocess.Popen(
            [
                *IPCHAIN,
                *("serve", "--rpc", anvil.url, "--data-dir", str(data_dir)),
                *("--port", str(port), "--workers", "2", "--demo"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
    try:
        deadline = time.monotonic() + 240
        while "Try it" not in output.read_text("utf-8"):
            assert process.poll() is None, output.read_text("utf-8")
            assert time.monotonic() < deadline, output.read_text("utf-8")
            time.sleep(0.2)
        yield Served(process, data_dir, f"http://127.0.0.1:{port}/api/v1", output)
    finally:
        process.terminate()
        process.wait(timeout=120)
        anvil.stop()


def submit(served: Served, office: str, document: dict[str, Any]) -> str:
    reply = httpx.post(
        f"{served.base}/offices/{office}/events",
        json=document,
        headers={"Authorization": f"Bearer {served.token(office)}"},
        timeout=30,
    )
    assert reply.status_code == 202, reply.text
    return str(reply.json()["id"])


def wait_indexed(served: Served, office: str, submission: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = httpx.get(
                f"{served.base}/submissions/{submission}",
                headers={"Authorization": f"Bearer {served.token(office)}"},
                timeout=10,
            )
        except httpx.TransportError:  # an API worker being restarted
            time.sleep(0.2)
            continue
        if reply.status_code == 200 and reply.json()["indexed"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"submission {submission} not indexed in {timeout} s")


def test_the_node_runs_as_a_writer_and_api_workers(served: Served) -> None:
    processes = served.processes()
    assert set(processes) == {"writer", "api"}
    pids = {name: info["pid"] for name, info in processes.items()}
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    filing, follow_up = example_events("EM")
    wait_indexed(served, "EM", submit(served, "EM", filing))
    wait_indexed(served, "EM", submit(served, "EM", follow_up))
    record = httpx.get(f"{served.base}/records/{filing['record_key']}", timeout=10).json()
    assert record["event_count"] == 2


@pytest.mark.parametrize("name", ["writer", "api"])
def test_a_killed_process_is_restarted_and_nothing_is_lost(served: Served, name: str) -> None:
    filing, follow_up = example_events("AU")
    first = submit(served, "AU", filing)
    old = served.processes()[name]["pid"]
    descendants = children_of(old)
    assert name != "api" or descendants  # uvicorn's workers
    restarts = served.output.read_text().count(f"{name} process restarted")
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while served.output.read_text().count(f"{name} process restarted") == restarts:
        assert time.monotonic() < deadline, served.output.read_text()
        time.sleep(0.2)
    assert served.processes()[name]["pid"] != old
    # Nothing of the killed process is left: uvicorn's workers went with their master.
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in descendants):
        assert time.monotonic() < deadline, [p for p in descendants if Path(f"/proc/{p}").exists()]
        time.sleep(0.2)
    wait_indexed(served, "AU", first)
    wait_indexed(served, "AU", submit(served, "AU", follow_up))
    health = httpx.get(f"{served.base}/health", timeout=10).json()
    assert health["status"] == "ok" and health["outbox_backlog"] == 0


def test_a_taken_port_is_one_line_before_any_set_up(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--data-dir", str(tmp_path / "node"), "--port", str(port))
    assert_one_line_error(result, 2, "PORT=")
    assert not (tmp_path / "node").exists()
