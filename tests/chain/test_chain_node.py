"""``ipchain chain serve``: the embedded chain as a process of its own, as a supervisor and the
office nodes use it — real processes, the JSON-RPC line, ``chain-node.json``, the sender rules
over HTTP, restarts, signals and one-line errors.

The consortium is set up the way a user would: ``ipchain init --rpc URL`` against a chain node
started without ``--deployer`` creates the node's keys, funds them from the dev faucet (allowed)
and is refused when its deployer sends, with an error naming the deployer's address. The chain
node is then restarted with ``--deployer`` that address (read from the keystore, where the
error also named it) and ``init`` run again, which deploys the consortium.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from ipchain.chain.base import ChainBackend
from ipchain.chain.embedded import EMBEDDED_CHAIN_ID, FAUCET_PRIVATE_KEY, EmbeddedChain
from ipchain.chain.rpc import RpcChain
from ipchain.config import Settings
from ipchain.errors import ChainUnavailableError, TransactionRejectedError
from ipchain.keys import OfficeKey, admin_key_name, signer_key_name
from ipchain.node.setup import DEPLOYER_KEY, Node, node_keystore
from tests.helpers.anchored_record import register_document, to_anchor
from tests.helpers.cli import IPCHAIN, assert_one_line_error, run
from tests.helpers.consortium import new_key

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ChainProcess:
    """A running ``ipchain chain serve``."""

    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    """What it printed up to and including the JSON-RPC line."""

    def stop(self) -> int:
        """SIGTERM, and its exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
            if self.process.stderr is not None:
                self.process.stderr.close()


def start_chain(chain_dir: Path, *options: str, port: int | None = None) -> ChainProcess:
    """Start ``ipchain chain serve`` and wait for its JSON-RPC line."""
    port = free_port() if port is None else port
    environment = {**os.environ, "IPCHAIN_KEYSTORE_FAST_KDF": "1"}
    process = subprocess.Popen(
        [*IPCHAIN, "chain", "serve", "--data-dir", str(chain_dir), "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            process.kill()
            raise AssertionError(f"no JSON-RPC line after {START_TIMEOUT} s: {seen}") from None
        if line is None:
            stderr = process.stderr.read() if process.stderr else ""
            process.wait()
            raise AssertionError(f"chain serve exited {process.returncode}: {stderr}")
        seen.append(line)
        if line.startswith("JSON-RPC: "):
            return ChainProcess(process, line.removeprefix("JSON-RPC: "), seen)


@dataclass
class ServedConsortium:
    """A chain node with a consortium deployed through it by ``ipchain init``."""

    chain_dir: Path
    node_dir: Path
    deployer: str
    chain: ChainProcess
    refused_init: subprocess.CompletedProcess[str]
    """The first ``init``, against the chain node started without ``--deployer``."""

    @property
    def url(self) -> str:
        return self.chain.url

    def open_node(self) -> Node:
        return Node.open(Settings(data_dir=self.node_dir, rpc_url=self.url))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedConsortium]:
    root = tmp_path_factory.mktemp("chain-node")
    chain_dir, node_dir = root / "chain", root / "node"
    first = start_chain(chain_dir)
    refused_init = run("init", "--rpc", first.url, "--data-dir", str(node_dir))
    assert first.stop() == 0
    deployer = node_keystore(Settings(data_dir=node_dir)).address_of(DEPLOYER_KEY)
    consortium = ServedConsortium(
        chain_dir, node_dir, deployer, start_chain(chain_dir, "--deployer", deployer), refused_init
    )
    try:
        result = run("init", "--rpc", consortium.url, "--data-dir", str(node_dir))
        assert result.returncode == 0, result.stderr
        yield consortium
    finally:
        consortium.chain.stop()  # the restart test replaces it


def rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    """One raw JSON-RPC request and its whole response."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    response: dict[str, Any] = requests.post(url, json=body, timeout=30).json()
    return response


def transfer(chain: ChainBackend, key: OfficeKey, to: str, value: int, data: bytes = b"") -> bytes:
    return key.sign_transaction(
        {
            "type": 2,
            "chainId": chain.chain_id,
            "nonce": chain.get_nonce(key.address),
            "to": to,
            "value": value,
            "data": data,
            "gas": 100_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 0,
        }
    )


def creation(chain: ChainBackend, key: OfficeKey) -> bytes:
    return key.sign_transaction(
        {
            "type": 2,
            "chainId": chain.chain_id,
            "nonce": chain.get_nonce(key.address),
            "data": bytes.fromhex("600a600c600039600a6000f3602a60005260206000f3"),
            "gas": 200_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 0,
        }
    )


def send(url: str, raw: bytes) -> dict[str, Any]:
    return rpc(url, "eth_sendRawTransaction", "0x" + raw.hex())


FAUCET = OfficeKey.from_private_key(FAUCET_PRIVATE_KEY)


# --- the contract a supervisor relies on ------------------------------------------------------


def test_serving_prints_the_url_and_writes_the_node_file(served: ServedConsortium) -> None:
    assert sum(line.startswith("JSON-RPC: ") for line in served.chain.lines) == 1
    assert served.url.startswith("http://127.0.0.1:")
    info = json.loads((served.chain_dir / "chain-node.json").read_text())
    assert info == {
        "url": served.url,
        "pid": served.chain.process.pid,
        "chain_id": EMBEDDED_CHAIN_ID,
    }


def test_an_rpc_chain_connects_and_reads_are_public(served: ServedConsortium) -> None:
    chain = RpcChain.connect(served.url, expected_chain_id=EMBEDDED_CHAIN_ID)
    try:
        head = chain.block_number()
        assert head > 0
        assert chain.get_block(head).number == head
        assert chain.get_balance(new_key().address) == 0  # any account may be read
    finally:
        chain.close()


def test_init_without_a_deployer_is_refused_naming_it(served: ServedConsortium) -> None:
    assert_one_line_error(served.refused_init, 2, f"sender {served.deployer} is not allowed")
    assert "--deployer" in served.refused_init.stderr


def test_init_deploys_the_consortium_and_the_node_learns_its_registry(
    served: ServedConsortium,
) -> None:
    deployment = json.loads((served.node_dir / "deployment.json").read_text())
    kept = json.loads((served.chain_dir / "consortium.json").read_text())
    assert kept == {
        "deployer": served.deployer,
        "officeRegistry": deployment["contracts"]["OfficeRegistry"],
    }


# --- the sender rules -------------------------------------------------------------------------


def test_a_signer_of_an_active_office_anchors(served: ServedConsortium) -> None:
    node = served.open_node()
    try:
        signer = node.office_key(signer_key_name("EM"))
        document = register_document("EM/TM/018123456", "A10", 1)
        (entry,) = node.ledger.anchor(signer, [to_anchor(document)])
        assert node.ledger.head_of("EM/TM/018123456")[0] == entry.entry_hash
    finally:
        node.close()


def test_an_admin_of_an_active_office_may_send(served: ServedConsortium) -> None:
    node = served.open_node()
    chain = RpcChain.connect(served.url)
    try:
        admin = node.office_key(admin_key_name("AU"))
        answer = send(served.url, transfer(chain, admin, admin.address, 0))
        assert "result" in answer, answer
    finally:
        chain.close()
        node.close()


def test_a_funded_account_of_no_office_is_refused_naming_it(served: ServedConsortium) -> None:
    chain = RpcChain.connect(served.url)
    outsider = new_key()
    try:
        # The faucet may fund anyone (a plain transfer) ...
        funded = send(served.url, transfer(chain, FAUCET, outsider.address, 10**18))
        assert "result" in funded, funded
        assert chain.get_balance(outsider.address) == 10**18
        # ... which gives no right to write.
        before = chain.block_number()
        answer = send(served.url, transfer(chain, outsider, outsider.address, 1))
        assert answer["error"]["code"] == -32003
        assert answer["error"]["message"] == (
            f"sender {outsider.address} is not bound to an active office"
        )
        assert chain.block_number() == before and chain.get_nonce(outsider.address) == 0
        # The same through a batch request, as the Ledger sends, and through RpcChain.
        with pytest.raises(TransactionRejectedError, match=f"sender {outsider.address}"):
            chain.send_raw_transactions([creation(chain, outsider)])
    finally:
        chain.close()


def test_the_deployer_is_refused_once_init_completed(served: ServedConsortium) -> None:
    node = served.open_node()
    chain = RpcChain.connect(served.url)
    try:
        deployer = node.office_key(DEPLOYER_KEY)
        assert deployer.address == served.deployer
        answer = send(served.url, creation(chain, deployer))
        message = answer["error"]["message"]
        assert message.startswith(f"sender {served.deployer} is the deployer, whose set-up is ")
        assert message.endswith("is not bound to an active office")
    finally:
        chain.close()
        node.close()


def test_the_faucet_sends_plain_transfers_only(served: ServedConsortium) -> None:
    chain = RpcChain.connect(served.url)
    try:
        for raw in (creation(chain, FAUCET), transfer(chain, FAUCET, new_key().address, 1, b"\1")):
            answer = send(served.url, raw)
            assert answer["error"]["code"] == -32003
            assert answer["error"]["message"].startswith(
                f"sender {FAUCET.address} is the dev faucet, whose key is public: it may only "
                "send plain value transfers"
            )
    finally:
        chain.close()


# --- one process per chain, and what another process is told ---------------------------------


def test_a_second_serve_of_the_same_chain_is_one_line(served: ServedConsortium) -> None:
    result = run("chain", "serve", "--data-dir", str(served.chain_dir), "--port", "0")
    assert_one_line_error(
        result, 2, f"already served by process {served.chain.process.pid} at {served.url}"
    )


def test_opening_a_served_chain_elsewhere_names_its_url(served: ServedConsortium) -> None:
    with pytest.raises(ChainUnavailableError) as error:
        EmbeddedChain.open(served.chain_dir)
    assert "ipchain chain serve" in str(error.value)
    assert f"--rpc {served.url}" in str(error.value)


def test_a_chain_open_in_another_process_names_the_command(tmp_path: Path) -> None:
    chain_dir = tmp_path / "chain"
    EmbeddedChain.open(chain_dir).close()
    lock = chain_dir / "ipchain.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "60"])
    try:
        # Wait until flock holds the lock, probing it without opening the chain (an open
        # that succeeded would write this process's pid into the lock file).
        for _ in range(200):
            with lock.open() as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:
                    break
                fcntl.flock(probe, fcntl.LOCK_UN)
            threading.Event().wait(0.02)
        else:
            pytest.fail("flock never took the lock")
        lock.write_text(str(holder.pid))  # as the chain's opener does
        with pytest.raises(ChainUnavailableError) as error:
            EmbeddedChain.open(chain_dir)
        message = str(error.value)
    finally:
        holder.kill()
        holder.wait()
    assert f"already open in another process (pid {holder.pid})" in message
    assert f"'ipchain chain serve --data-dir {chain_dir}'" in message
    assert str(chain_dir / "chain-node.json") in message


# --- restarts and signals ---------------------------------------------------------------------


def test_a_restart_keeps_the_chain_and_the_learned_registry(served: ServedConsortium) -> None:
    chain = RpcChain.connect(served.url)
    head = chain.block_number()
    chain.close()
    kept = (served.chain_dir / "consortium.json").read_text()
    assert served.chain.stop() == 0
    assert not (served.chain_dir / "chain-node.json").exists()
    # Another deployer cannot take over the consortium's chain.
    other = new_key().address
    result = run("chain", "serve", "--data-dir", str(served.chain_dir), "--deployer", other)
    assert_one_line_error(result, 2, f"--deployer {other} is not the deployer")
    # Without --deployer: the registry and its deployer come from consortium.json.
    served.chain = start_chain(served.chain_dir)
    registry = json.loads(kept)["officeRegistry"]
    assert f"senders: accounts of Active offices in {registry}" in served.chain.lines
    assert not any("deployer" in line for line in served.chain.lines)  # retired
    assert (served.chain_dir / "consortium.json").read_text() == kept
    node = served.open_node()
    try:
        assert node.backend.block_number() == head
        signer = node.office_key(signer_key_name("RU"))
        node.ledger.anchor(signer, [to_anchor(register_document("RU/TM/2024000001", "A10", 2))])
        outsider = new_key()
        answer = send(served.url, transfer(node.backend, outsider, outsider.address, 0))
        assert answer["error"]["message"] == (
            f"sender {outsider.address} is not bound to an active office"
        )
    finally:
        node.close()


def test_sigint_stops_cleanly_too(tmp_path: Path) -> None:
    chain = start_chain(tmp_path / "chain")
    chain.process.send_signal(signal.SIGINT)
    assert chain.process.wait(timeout=30) == 0
    assert not (tmp_path / "chain" / "chain-node.json").exists()
    assert "Traceback" not in (chain.process.stderr.read() if chain.process.stderr else "")
    EmbeddedChain.open(tmp_path / "chain").close()  # the lock is free


# --- bad input --------------------------------------------------------------------------------


def test_a_taken_port_is_one_line_and_opens_nothing(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = run("chain", "serve", "--data-dir", str(tmp_path / "chain"), "--port", str(port))
    assert_one_line_error(result, 2, f"port {port} on 127.0.0.1 is taken")
    assert not (tmp_path / "chain").exists()


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (["--port", "80x"], "--port '80x' is not a port number"),
        (["--port", "70000"], "port 70000 is not a TCP port"),
        (["--deployer", "0x1234"], "--deployer '0x1234' is not an account address"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, options: list[str], text: str) -> None:
    result = run("chain", "serve", "--data-dir", str(tmp_path / "chain"), *options)
    assert_one_line_error(result, 2, text)
    assert not (tmp_path / "chain").exists()


def test_a_missing_data_dir_is_one_line() -> None:
    assert_one_line_error(run("chain", "serve"), 2, "--data-dir is required")
