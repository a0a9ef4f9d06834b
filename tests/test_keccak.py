"""Keccak-256: ipchain hashes through the pysha3 backend it picks itself; importing ipchain
changes neither the process environment nor eth-hash's automatic backend choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources

import pytest
from eth_hash.backends import pycryptodome
from eth_utils import event_abi_to_log_topic, function_abi_to_4byte_selector

from ipchain.contracts.bindings import load_interface
from ipchain.encoding import keccak

IMPORT_EVERYTHING = """
import json, os, pkgutil, importlib
import ipchain
for module in pkgutil.walk_packages(ipchain.__path__, "ipchain."):
    if ".migrations" not in module.name and not module.name.endswith("__main__"):
        importlib.import_module(module.name)
import api.app, api.cli, api.server
import eth_hash.auto
state = {
    "environment": "ETH_HASH_BACKEND" in os.environ,
    # eth-hash picks its backend at the first hash of the process; nothing may hash on import,
    # so that a program's prefer_pysha3_for_libraries() at start still counts.
    "chosen": eth_hash.auto.keccak.hasher.__name__ != "_hasher_first_run",
}
from ipchain.encoding import prefer_pysha3_for_libraries
prefer_pysha3_for_libraries()
eth_hash.auto.keccak(b"")
state["backend"] = type(eth_hash.auto.keccak.hasher.__self__).__name__
print(json.dumps(state))
"""


def test_importing_ipchain_and_api_changes_nothing_and_hashes_nothing() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.splitlines()[-1])
    assert state == {"environment": False, "chosen": False, "backend": "PySha3Backend"}


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 3])
def test_keccak_is_keccak256(data: bytes) -> None:
    assert keccak(data) == pycryptodome.keccak256(data)


@pytest.mark.parametrize(
    "name",
    sorted(
        entry.name.removesuffix(".json")
        for entry in resources.files("ipchain.data.contracts").iterdir()
        if entry.name.endswith(".json")
    ),
)
def test_selectors_and_topics_are_eth_utils_ones(name: str) -> None:
    interface = load_interface(name)
    for element in interface.abi:
        if element["type"] == "event":
            assert interface.event_topic(element["name"]) == event_abi_to_log_topic(element)
        elif element["type"] == "function":
            selector = function_abi_to_4byte_selector(element)
            assert interface._selectors[element["name"]] == selector
        elif element["type"] == "error":
            assert interface._errors_by_selector[function_abi_to_4byte_selector(element)] is element
