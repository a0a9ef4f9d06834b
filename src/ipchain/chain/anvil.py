"""Start and stop an anvil JSON-RPC node (npm ``@foundry-rs/anvil``) for tests and benchmarks.

anvil is run as its own binary, not through ``npx``: npx leaves the node orphaned when the
parent dies (DESIGN §8), while a direct child can be stopped by its real pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ipchain.errors import ChainUnavailableError

ANVIL_CHAIN_ID = 31337
"""anvil's default chain id, kept so tools recognise a local dev chain."""

ANVIL_FAUCET_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
"""anvil's first well-known dev account (public test mnemonic): a dev-only faucet."""

_BINARY_RELATIVE = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


def find_anvil_binary() -> Path | None:
    """The anvil binary: ``$IPCHAIN_ANVIL``, the repository's node_modules, or the PATH."""
    configured = os.environ.get("IPCHAIN_ANVIL")
    if configured:
        return Path(configured)
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / _BINARY_RELATIVE
        if candidate.is_file():
            return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    """The anvil child process."""
    url: str
    """Its JSON-RPC endpoint."""
    chain_id: int = ANVIL_CHAIN_ID
    """Its chain id."""
    log_path: Path | None = field(default=None)
    """Where its output goes, for post-mortems."""

    @classmethod
    def start(
        cls,
        *,
        block_time: float | None = None,
        chain_id: int = ANVIL_CHAIN_ID,
        log_path: Path | None = None,
        startup_timeout: float = 20.0,
    ) -> AnvilNode:
        """Start anvil on a free loopback port and wait until it answers.

        ``block_time=None`` mines each transaction at once (automine); a number mines blocks on
        that interval, which batches concurrent transactions into one block.
        """
        binary = find_anvil_binary()
        if binary is None:
            raise ChainUnavailableError(
                "anvil not found: run 'npm ci' (package @foundry-rs/anvil) or set IPCHAIN_ANVIL"
            )
        port = _free_port()
        arguments = [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(chain_id),
            "--gas-limit",
            "1000000000",
            "--block-base-fee-per-gas",
            "0",
            "--silent",
        ]
        if block_time is not None:
            arguments += ["--block-time", str(block_time)]
        output = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(arguments, stdout=output, stderr=subprocess.STDOUT)
        node = cls(process=process, url=f"http://127.0.0.1:{port}", chain_id=chain_id)
        node.log_path = log_path
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ChainUnavailableError(f"anvil exited at start with code {process.returncode}")
            try:
                reply = requests.post(
                    node.url,
                    json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                    timeout=1,
                )
                if reply.ok:
                    return node
            except requests.RequestException:
                pass
            time.sleep(0.05)
        node.stop()
        raise ChainUnavailableError(f"anvil did not answer within {startup_timeout:.0f} s")

    def stop(self) -> None:
        """Stop the process by its pid (SIGTERM, then SIGKILL)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
