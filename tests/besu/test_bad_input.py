"""Bad input to ``ipchain besu``: one line on stderr naming the problem, exit code 2, and nothing
written — a network spec with duplicate office codes or hosts, a malformed node key, a Besu
binary of another release (directly, and through the generated start script)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from ipchain import besu
from ipchain.besu.genesis import BESU_VERSION

NODE_CONFIG = Path(__file__).resolve().parents[2] / "node_config" / "besu"


def example_spec() -> dict[str, object]:
    spec: dict[str, object] = json.loads((NODE_CONFIG / "network.example.json").read_text())
    return spec


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: object) -> str:
    """Run ``generate`` on ``spec``; return its one error line after checking nothing was
    written."""
    path = tmp_path / "network.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    out = tmp_path / "network"
    assert besu.main(["generate", str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not out.exists()  # nothing written half-way
    return lines[0]


def test_duplicate_office_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = example_spec()
    offices = spec["offices"]
    assert isinstance(offices, list)
    offices[3]["code"] = "AU"
    assert "office code AU appears twice" in refused(tmp_path, capsys, spec)


def test_duplicate_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = example_spec()
    offices = spec["offices"]
    assert isinstance(offices, list)
    offices[2]["p2p_port"] = offices[1]["p2p_port"]  # the example's hosts are all 127.0.0.1
    line = refused(tmp_path, capsys, spec)
    assert "host and P2P port 127.0.0.1:30304 appears twice (AU, RU)" in line
    offices[2]["p2p_port"] = 31000
    offices[2]["rpc_port"] = offices[0]["rpc_port"]
    assert "host and RPC port 127.0.0.1:8545 appears twice (EM, RU)" in refused(
        tmp_path, capsys, spec
    )


def test_hosts_differing_only_in_case_are_the_same_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = example_spec()
    offices = spec["offices"]
    assert isinstance(offices, list)
    offices[0]["host"], offices[1]["host"] = "besu.em.example", "BESU.em.example"
    offices[1]["p2p_port"] = offices[0]["p2p_port"]
    assert "besu.em.example:30303 appears twice (EM, AU)" in refused(tmp_path, capsys, spec)


@pytest.mark.parametrize(
    "key",
    [
        "12" * 63,  # too short
        "zz" * 64,  # not hex
        "04" + "11" * 64,  # with the 04 prefix: 130 digits
        "00" * 64,  # not a point on secp256k1
    ],
)
def test_malformed_node_key(tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str) -> None:
    spec = example_spec()
    offices = spec["offices"]
    assert isinstance(offices, list)
    offices[1]["node_public_key"] = key
    line = refused(tmp_path, capsys, spec)
    assert "AU: node public key" in line and "secp256k1" in line


def test_malformed_auditor_node_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = example_spec()
    offices = spec["offices"]
    assert isinstance(offices, list)
    offices[0]["auditor_nodes"][0]["node_public_key"] = "ab"
    assert "EM-audit: node public key" in refused(tmp_path, capsys, spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{not json", "not JSON"),
        ('{"offices": {}}', "no 'offices' list"),
        ('{"chain_id": "27182818", "offices": []}', "chain_id"),
        ('{"offices": []}', "at least one office"),
        ('{"offices": [{"code": "EM"}]}', "office EM: missing 'signer_addresses'"),
    ],
)
def test_malformed_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    assert message in refused(tmp_path, capsys, spec)


def test_a_failing_folder_leaves_the_others_unwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(example_spec()))
    out = tmp_path / "network"
    (out / "RU").mkdir(parents=True)
    (out / "RU" / "permissions_config.toml").write_text("# a running network's\n")
    assert besu.main(["generate", str(path), "--out", str(out)]) == 2
    assert "network/RU already belongs to a network" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["RU"]
    assert sorted(p.name for p in (out / "RU").iterdir()) == ["permissions_config.toml"]


# ------------------------------------------------------------------ a Besu of another release


def fake_besu(folder: Path, version_line: str) -> Path:
    """A stand-in ``besu`` that prints ``version_line`` for --version and echoes its arguments
    otherwise."""
    path = folder / "besu"
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then\n'
        f"  echo '{version_line}'\n  echo 'some-plugin/1.0'\n"
        'else\n  echo "started with $*"\nfi\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_check_besu_refuses_another_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = fake_besu(tmp_path, "besu/v26.3.0-RC0/linux-x86_64/openjdk-java-21")
    assert besu.main(["check-besu", "--besu", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "besu/v26.3.0-RC0" in err and BESU_VERSION in err
    # A version that merely starts like the pinned one is another release too.
    close = fake_besu(tmp_path, f"besu/v{BESU_VERSION}-RC1/linux-x86_64/openjdk-java-25")
    assert besu.main(["check-besu", "--besu", str(close)]) == 2
    capsys.readouterr()
    right = fake_besu(tmp_path, f"besu/v{BESU_VERSION}/linux-x86_64/openjdk-java-25")
    assert besu.main(["check-besu", "--besu", str(right)]) == 0
    assert capsys.readouterr().out.strip() == f"besu/v{BESU_VERSION}/linux-x86_64/openjdk-java-25"


@pytest.fixture
def node_folder(tmp_path: Path) -> Path:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(example_spec()))
    out = tmp_path / "network"
    assert besu.main(["generate", str(path), "--out", str(out)]) == 0
    folder = out / "EM"
    besu.generate_node_key(folder)
    from ipchain.besu.node_rpc import generate_rpc_key

    generate_rpc_key(folder)
    return folder


def start(folder: Path, binary: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BESU": str(binary)}
    return subprocess.run(
        [str(folder / "start.sh"), "--logging=INFO"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=30,
        check=False,
    )


def test_start_script_refuses_another_release(node_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    result = start(node_folder, fake_besu(tmp_path / "bin", "besu/v26.1.0/linux/java-21"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"refusing to start EM: this network runs Besu {BESU_VERSION}, but "
        f"'{tmp_path / 'bin' / 'besu'} --version' says besu/v26.1.0/linux/java-21"
    )


def test_start_script_refuses_a_missing_besu(node_folder: Path, tmp_path: Path) -> None:
    result = start(node_folder, tmp_path / "no-such-besu")
    assert result.returncode == 2
    assert "printed nothing: install Besu" in result.stderr


def test_start_script_refuses_another_genesis(node_folder: Path, tmp_path: Path) -> None:
    genesis = json.loads((node_folder / "genesis.json").read_text())
    genesis["gasLimit"] = "0x3b9aca00"
    (node_folder / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
    right = fake_besu(tmp_path, f"besu/v{BESU_VERSION}/linux-x86_64/openjdk-java-25")
    result = start(node_folder, right)
    assert result.returncode == 2 and "genesis.json is not the network's" in result.stderr


def test_start_script_refuses_a_missing_key(node_folder: Path, tmp_path: Path) -> None:
    (node_folder / "key").unlink()
    right = fake_besu(tmp_path, f"besu/v{BESU_VERSION}/linux-x86_64/openjdk-java-25")
    result = start(node_folder, right)
    assert result.returncode == 2 and "key is missing" in result.stderr


def test_start_script_starts_the_right_release(node_folder: Path, tmp_path: Path) -> None:
    right = fake_besu(tmp_path, f"besu/v{BESU_VERSION}/linux-x86_64/openjdk-java-25")
    result = start(node_folder, right)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started with --config-file=config.toml --logging=INFO"
