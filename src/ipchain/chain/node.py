"""The embedded chain as a node of its own process (``ipchain chain serve``).

One process opens the embedded chain in its directory (persistent and crash-safe, as in
:mod:`ipchain.chain.embedded`; the directory's lock allows one process per chain) and serves it
with :class:`~ipchain.chain.rpc_server.EmbeddedRpcServer`, under the sender rules of
:mod:`ipchain.chain.sender_policy`. Every office node, auditor or tool then reaches the chain
over JSON-RPC.

The contract a supervisor relies on:

- the port is checked before anything is opened: a taken port, a chain directory another
  ``chain serve`` already serves (named with its pid and URL) or a chain open in another
  process are each one error, and nothing is left behind;
- once serving, ``<chain dir>/chain-node.json`` holds ``{"url", "pid", "chain_id"}`` (written
  atomically) and the process prints one line ``JSON-RPC: http://HOST:PORT``;
- SIGTERM or SIGINT stops it cleanly: the server stops (a block being mined is finished), the
  chain is closed and ``chain-node.json`` removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ipchain.errors import ChainUnavailableError, InvalidInputError

if TYPE_CHECKING:  # imported when a node starts: failing checks stay fast (py-evm ~1 s)
    from ipchain.chain.embedded import EmbeddedChain
    from ipchain.chain.rpc_server import EmbeddedRpcServer
    from ipchain.chain.sender_policy import RegistryInterface, SenderPolicy

NODE_FILE = "chain-node.json"
"""File of the chain directory that says where a running chain node listens."""

URL_LINE_PREFIX = "JSON-RPC: "
"""The line a chain node prints once it serves: this prefix and its URL."""


def node_file(data_dir: Path) -> Path:
    """``<chain dir>/chain-node.json``."""
    return Path(data_dir) / NODE_FILE


def running_node(data_dir: Path) -> dict[str, Any] | None:
    """What ``chain-node.json`` says of the chain node serving ``data_dir``, when one runs:
    the file names a live process and the chain's lock is held. None otherwise (no file, or
    a stale one left by a killed process)."""
    try:
        info = json.loads(node_file(data_dir).read_text("utf-8"))
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return info if _chain_locked(Path(data_dir)) else None


def _chain_locked(data_dir: Path) -> bool:
    """Whether some process holds the chain directory's lock (tested without keeping it)."""
    try:
        with (data_dir / "ipchain.lock").open("r", encoding="utf-8") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def check_port(host: str, port: int) -> None:
    """Raise :class:`InvalidInputError` naming the port when ``host:port`` cannot be listened
    on (taken, or an address this machine does not have). Port 0 (any free port) passes."""
    if not 0 <= port <= 65_535:
        raise InvalidInputError(f"port {port} is not a TCP port (0 to 65535)", field="port")
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As the HTTP server will: a port in TIME_WAIT after a previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as error:
        raise _listen_error(host, port, error) from None
    finally:
        probe.close()


def _listen_error(host: str, port: int, error: OSError) -> InvalidInputError:
    if error.errno == errno.EADDRINUSE:
        return InvalidInputError(
            f"port {port} on {host} is taken (another process listens there); "
            "choose another with --port",
            field="port",
        )
    reason = error.strerror or str(error)
    return InvalidInputError(f"cannot listen on {host} port {port}: {reason}", field="host")


def preflight(data_dir: Path, host: str, port: int) -> None:
    """The checks made before anything is opened: no chain node serves ``data_dir`` already
    (:class:`ChainUnavailableError` naming it) and ``host:port`` is free
    (:class:`InvalidInputError` naming the port)."""
    running = running_node(data_dir)
    if running is not None:
        raise ChainUnavailableError(
            f"the chain in {data_dir} is already served by process {running.get('pid')} "
            f"at {running.get('url')} (see {node_file(data_dir)}); use that URL, or stop "
            "that process first"
        )
    check_port(host, port)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


@dataclass
class ChainNode:
    """A serving chain node (in this process). :meth:`stop` ends it."""

    chain: EmbeddedChain
    """The open chain."""
    server: EmbeddedRpcServer
    """Its JSON-RPC server."""
    policy: SenderPolicy
    """Who may send transactions."""

    @property
    def url(self) -> str:
        """Where the JSON-RPC server listens."""
        return self.server.url

    @classmethod
    def start(
        cls,
        data_dir: Path,
        registry_interface: RegistryInterface,
        *,
        host: str = "127.0.0.1",
        port: int = 8545,
        deployer: str | None = None,
    ) -> ChainNode:
        """Open the chain in ``data_dir`` and serve it (see the module docstring)."""
        from ipchain.chain.embedded import EmbeddedChain
        from ipchain.chain.rpc_server import EmbeddedRpcServer
        from ipchain.chain.sender_policy import SenderPolicy

        data_dir = Path(data_dir)
        preflight(data_dir, host, port)
        try:
            chain = EmbeddedChain.open(data_dir)
        except OSError as error:
            raise ChainUnavailableError(
                f"cannot open the embedded chain in {data_dir}: {error.strerror or error}"
            ) from None
        try:
            policy = SenderPolicy.load(chain, registry_interface, deployer)
            try:
                server = EmbeddedRpcServer(chain, host, port, policy)
            except OSError as error:  # taken since check_port
                raise _listen_error(host, port, error) from None
            node = cls(chain=chain, server=server, policy=policy)
            try:
                server.start()
                info = {"url": server.url, "pid": os.getpid(), "chain_id": chain.chain_id}
                _write_atomically(node_file(data_dir), json.dumps(info, indent=2) + "\n")
            except BaseException:
                server.stop()
                raise
        except BaseException:
            chain.close()
            raise
        return node

    def stop(self) -> None:
        """Stop serving (the block being mined is finished), close the chain and remove
        ``chain-node.json`` (when it still names this process)."""
        self.server.stop()
        self.chain.close()
        path = node_file(self.chain.data_dir)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if int(json.loads(path.read_text("utf-8"))["pid"]) == os.getpid():
                path.unlink()


def serve_until_signalled(
    start: Callable[[], ChainNode], announce: Callable[[ChainNode], None]
) -> None:
    """Start a chain node, announce it, and serve until SIGTERM or SIGINT; then stop it
    cleanly. The signal handlers are in place before the node starts, so a signal that
    arrives during start-up stops it as soon as it is up."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {
        number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        node = start()
        try:
            announce(node)
            while not stopping.wait(0.5):
                pass
        finally:
            node.stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
