"""``ipchain serve`` as processes on a disk that fills up: the embedded chain served by its own
process on a small tmpfs, the writer anchoring through JSON-RPC, two API workers reading the
writer's published state. The API workers report ``unavailable`` with the chain's reason and
refuse submissions with ``503`` + ``Retry-After`` while the disk is full, and everything
accepted is anchored once by itself when space returns."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.faults.conftest import small_disk
from tests.helpers.cli import IPCHAIN, run
from tests.helpers.documents import event_document


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_served_node_stops_anchoring_on_a_full_disk_and_resumes(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 64) as disk:
        data_dir = tmp_path / "node"
        data_dir.mkdir()
        (disk.path / "chain").mkdir()
        (data_dir / "chain").symlink_to(disk.path / "chain")
        port, rpc_port = free_port(), free_port()
        output = tmp_path / "serve.out"
        environment = {**os.environ, "IPCHAIN_KEYSTORE_FAST_KDF": "1"}
        with output.open("w") as sink:
            process = subprocess.Popen(
                [
                    *IPCHAIN,
                    *("serve", "--data-dir", str(data_dir), "--workers", "2"),
                    *("--port", str(port), "--rpc-port", str(rpc_port)),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                env=environment,
            )
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            wait_for(
                lambda: process.poll() is None and "Workshop page" in output.read_text("utf-8"),
                240,
                "the node to start: " + output.read_text("utf-8"),
            )
            created = run("token", "create", "--office", "EM", "--data-dir", str(data_dir))
            assert created.returncode == 0, created.stderr
            auth = {"Authorization": f"Bearer {created.stdout.strip()}"}

            def post(start: int, count: int) -> httpx.Response:
                batch = [event_document(f"EM/TM/0186{n:05d}") for n in range(start, start + count)]
                return httpx.post(
                    f"{base}/offices/EM/events", json={"events": batch}, headers=auth, timeout=30
                )

            def health() -> tuple[int, dict[str, Any]]:
                reply = httpx.get(f"{base}/health", timeout=10)
                body = reply.json()
                if reply.status_code == 503:  # a node-unavailable problem
                    assert body["code"] == "node-unavailable", body
                    return 503, dict(body["health"])
                return reply.status_code, dict(body)

            accepted = []
            first = post(0, 10)
            assert first.status_code == 202, first.text
            accepted.append(first.json()["id"])
            wait_for(lambda: health()[1]["outbox_backlog"] == 0, 60, "the first anchoring")

            disk.fill()
            during = post(100, 10)
            assert during.status_code == 202, during.text
            accepted.append(during.json()["id"])
            # Each API worker reads the writer's state (at most every 0.5 s): then every
            # answer says unavailable.
            wait_for(lambda: health()[1]["anchoring"] == "stopped", 60, "anchoring to stop")
            time.sleep(1.0)
            for _ in range(4):
                status, body = health()
                assert status == 503 and body["status"] == "unavailable", body
                assert any("No space left on device" in r for r in body["reasons"]), body
            refused = post(200, 5)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"].isdigit()
            assert refused.json()["code"] == "anchoring-stopped"

            disk.free()
            wait_for(lambda: health()[1]["status"] == "ok", 120, "the node to recover")
            wait_for(lambda: health()[1]["outbox_backlog"] == 0, 60, "the backlog to clear")
            for submission in accepted:
                reply = httpx.get(f"{base}/submissions/{submission}", headers=auth, timeout=10)
                assert reply.json()["status"] == "anchored", reply.text
            for n in (0, 9, 100, 109):
                history = httpx.get(f"{base}/records/EM/TM/0186{n:05d}/events", timeout=10)
                assert [event["seq"] for event in history.json()["items"]] == [1]
        finally:
            process.terminate()
            process.wait(timeout=120)
