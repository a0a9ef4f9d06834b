"""The committed artifacts are what the pinned compiler makes of contracts/ — no drift."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ipchain.contracts.bindings import CONTRACT_NAMES, load_interface

ROOT = Path(__file__).resolve().parents[2]


def test_artifacts_match_the_sources() -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "solc").is_dir():
        pytest.skip("Node or the npm solc package is absent (run 'npm install'): cannot recompile")
    result = subprocess.run(
        [node, str(ROOT / "scripts" / "build_contracts.mjs"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_artifacts_pin_compiler_and_evm_version() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    pinned_solc = package["devDependencies"]["solc"]
    for name in CONTRACT_NAMES:
        interface = load_interface(name)
        assert interface.compiler["version"].startswith(pinned_solc + "+")
        artifact = json.loads(
            (ROOT / "src" / "ipchain" / "data" / "contracts" / f"{name}.json").read_text()
        )
        assert artifact["settings"]["evmVersion"] == "prague"
        assert interface.deployed_bytecode
