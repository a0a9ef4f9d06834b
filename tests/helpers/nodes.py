"""Node services under test: a started node with its API client, and data directories of
one node per office on one anvil chain."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from ipchain.chain.anvil import AnvilNode
from ipchain.config import Settings
from ipchain.keys import signer_key_name
from ipchain.node.service import NodeService
from ipchain.node.setup import init_node


@dataclass
class RunningNode:
    """A started node service with an HTTP client on its API."""

    service: NodeService
    client: TestClient
    settings: Settings

    def token(self, office: str) -> dict[str, str]:
        """Authorization headers with a new token of ``office``."""
        return {"Authorization": f"Bearer {self.service.create_token(office)}"}


def anvil_node_dirs(template: Path, anvil: AnvilNode, root: Path, offices: list[str]) -> list[Path]:
    """Data directories of one node per office on one anvil chain, sharing one deployment.

    The first is set up with ``init_node`` (which deploys the consortium); each of the others
    gets that deployment file and only its own office's signer key, as an office's own node
    would.
    """
    first = root / f"node-{offices[0]}"
    first.mkdir(parents=True)
    shutil.copytree(template / "keystore", first / "keystore")
    shutil.copytree(template / "secrets", first / "secrets")
    init_node(Settings(data_dir=first, rpc_url=anvil.url)).close()
    directories = [first]
    for office in offices[1:]:
        directory = root / f"node-{office}"
        (directory / "keystore").mkdir(parents=True)
        shutil.copy(first / "deployment.json", directory / "deployment.json")
        shutil.copytree(first / "secrets", directory / "secrets")
        name = signer_key_name(office)
        for path in (first / "keystore").iterdir():
            if path.stem == name:
                shutil.copy(path, directory / "keystore" / path.name)
        directories.append(directory)
    return directories
