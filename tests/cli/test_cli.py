"""The ``ipchain`` command line as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ipchain.chain.anvil import AnvilNode
from tests.helpers.cli import assert_one_line_error, run


def test_init_is_idempotent_on_the_embedded_chain(tmp_path: Path) -> None:
    first = run("init", "--data-dir", str(tmp_path / "node"))
    assert first.returncode == 0, first.stderr
    deployment = json.loads((tmp_path / "node" / "deployment.json").read_text())
    keys = sorted(p.name for p in (tmp_path / "node" / "keystore").iterdir())
    second = run("init", "--data-dir", str(tmp_path / "node"))
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "node" / "deployment.json").read_text()) == deployment
    assert sorted(p.name for p in (tmp_path / "node" / "keystore").iterdir()) == keys
    # Keys are encrypted at rest: no private key material in the keystore files.
    for path in (tmp_path / "node" / "keystore").glob("*.json"):
        assert "ciphertext" in path.read_text()


def test_unreachable_rpc_node_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    result = run("init", "--data-dir", str(tmp_path / "node"), "--rpc", "http://127.0.0.1:9")
    assert_one_line_error(result, 2, "does not answer")
    assert not (tmp_path / "node" / "keystore").exists()
    assert not (tmp_path / "node" / "deployment.json").exists()


def test_wrong_keystore_password_is_one_line(tmp_path: Path) -> None:
    node = tmp_path / "node"
    assert (
        run("init", "--data-dir", str(node), env={"IPCHAIN_KEYSTORE_PASSWORD": "right"}).returncode
        == 0
    )
    guess = "s3cret-guess-Q7"
    result = run("demo", "--data-dir", str(node), env={"IPCHAIN_KEYSTORE_PASSWORD": guess})
    assert_one_line_error(result, 2, "wrong password")
    assert guess not in result.stderr and guess not in result.stdout


def test_bad_office_code_for_a_token_is_one_line(tmp_path: Path) -> None:
    result = run("token", "create", "--office", "E1", "--data-dir", str(tmp_path))
    assert_one_line_error(result, 2, "ST.3")


def test_demo_anchors_reads_back_verifies_and_catches_tampering(
    tmp_path: Path, anvil: AnvilNode
) -> None:
    result = run("demo", "--data-dir", str(tmp_path / "node"), "--rpc", anvil.url)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for office in ("EM", "AU", "RU"):
        assert f"{office}/" in out
    assert out.count("hash chain verified") == 3
    assert "NOT verified" not in out
    assert "tampered" in out and "caught" in out
    assert "RegisterForeignRecord" in out
    # Governance scene: MT proposed by EM, voted in by AU, certificate bound, first events.
    assert "2 of 3: passed, MT active" in out and "3 of 4: passed, key bound" in out
    assert "MT admitted by vote, its certificate binding verified" in out
    anchored = re.search(r"(\d+) first events anchored", out)
    assert anchored is not None and int(anchored.group(1)) > 0


@pytest.mark.parametrize("command", [["--help"], ["verify", "--help"], ["serve", "--help"]])
def test_help_is_available(command: list[str]) -> None:
    assert run(*command).returncode == 0
