"""Where a local network keeps its parts, and the record of what runs (``network.json``).

::

    ROOT/
      network.json          what runs: the chain node and each office node (pids, URLs)
      consortium/           the deployer's keystore: the consortium's set-up identity, which
                            belongs to no office and can do nothing once the contracts exist
      chain/                the embedded chain, served by ``ipchain chain serve``
      EM/ AU/ RU/ MT/       one office node each: keystore (that office's keys only), index
                            database, deployment.json, run/ (its processes' logs)

``network.json`` is also what the workshop page reads to show every node side by side
(``IPCHAIN_NETWORK_FILE``): ``{"rpc_url": …, "chain": {…}, "nodes": [{"office", "url", …}]}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ipchain.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class OfficeNode:
    """One office's node in the network."""

    office: str
    """ST.3 code."""
    name: str
    """The office's name."""
    url: str
    """Base URL of its HTTP API (``http://127.0.0.1:PORT``)."""
    port: int
    """Its API port."""
    data_dir: str
    """Its data directory."""
    founder: bool
    """Whether it is a founding member (otherwise it runs as a non-member until admitted)."""
    pid: int | None = None
    """Its supervisor's pid while it runs."""


@dataclass(frozen=True, slots=True)
class ChainNode:
    """The network's chain node."""

    url: str
    """Its JSON-RPC URL."""
    port: int
    """Its port."""
    data_dir: str
    """The chain's data directory."""
    pid: int | None = None
    """Its pid while it runs."""


@dataclass(frozen=True, slots=True)
class NetworkState:
    """What ``network.json`` holds."""

    chain: ChainNode
    """The chain node."""
    nodes: tuple[OfficeNode, ...] = field(default_factory=tuple)
    """The office nodes, founders first."""

    @property
    def rpc_url(self) -> str:
        """The chain's JSON-RPC URL."""
        return self.chain.url

    def node(self, office: str) -> OfficeNode:
        """The node of ``office``; :class:`InvalidInputError` naming the known ones."""
        for node in self.nodes:
            if node.office == office:
                return node
        known = ", ".join(node.office for node in self.nodes)
        raise InvalidInputError(f"no node of office {office} in this network ({known})")

    def to_json(self) -> dict[str, Any]:
        """The ``network.json`` form."""
        return {
            "rpc_url": self.rpc_url,
            "chain": asdict(self.chain),
            "nodes": [asdict(node) for node in self.nodes],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> NetworkState:
        """Read ``network.json``'s form back."""
        return cls(
            chain=ChainNode(**value["chain"]),
            nodes=tuple(OfficeNode(**node) for node in value["nodes"]),
        )


def state_file(root: Path) -> Path:
    """``ROOT/network.json``."""
    return root / "network.json"


def read_state(root: Path) -> NetworkState | None:
    """The recorded network, or None when there is none at ``root``."""
    path = state_file(root)
    if not path.exists():
        return None
    try:
        return NetworkState.from_json(json.loads(path.read_text("utf-8")))
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError(f"{path} is not a network file of ipchain") from None


def write_state(root: Path, state: NetworkState) -> None:
    """Record the network atomically."""
    root.mkdir(parents=True, exist_ok=True)
    temporary = state_file(root).with_suffix(".tmp")
    temporary.write_text(json.dumps(state.to_json(), indent=2) + "\n", "utf-8")
    temporary.replace(state_file(root))


def is_running(pid: int | None) -> bool:
    """Whether a process of that pid is alive (and not a zombie of ours)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return True
    return status != "Z"
