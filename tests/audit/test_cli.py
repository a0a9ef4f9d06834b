"""``ipchain audit``, ``ipchain bundle`` and ``ipchain verify --as-of-head``: exit codes, and one
readable line (never a traceback, never "passed" or "verified") for every kind of bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.cli.app import app
from ipchain.cli.audit import EXIT_BAD_INPUT, run_audit
from ipchain.cli.bundle import run_bundle
from ipchain.cli.verify import EXIT_FAILED, EXIT_VERIFIED, run_verify
from ipchain.config import Settings
from ipchain.verification.bundle import load_bundle
from tests.helpers.cli import run
from tests.helpers.consortium import deploy_test_consortium
from tests.helpers.documents import to_anchor, trademark_event
from tests.helpers.indexed_node import DAY, TRADEMARK, IndexedNode


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these cases are about the edges, not the database."""
    return f"sqlite:///{tmp_path / 'index.db'}"


def assert_one_line_error(code: int, out: str, err: str, *expected: str) -> None:
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in ("Traceback", "PASSED", "VERIFIED"):
        assert word not in err
    for text in expected:
        assert text in err, err


def settings_with(node: IndexedNode, **changes: object) -> Settings:
    return node.settings.model_copy(update=changes)


def free_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- ipchain audit ---------------------------------------------------------------------------


def test_uninitialised_data_directory(
    indexed: IndexedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_audit(settings_with(indexed, data_dir=tmp_path / "empty"), None)
    assert_one_line_error(code, *capsys.readouterr(), "not an initialised node", "ipchain init")


def test_deployment_file_that_is_not_one(
    indexed: IndexedNode, capsys: pytest.CaptureFixture[str]
) -> None:
    indexed.settings.deployment_file.write_text("{not json", "utf-8")
    code = run_audit(indexed.settings, None)
    assert_one_line_error(code, *capsys.readouterr(), "is not a deployment file")


def test_no_index_database(
    indexed: IndexedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'nothing.db'}"
    code = run_audit(settings_with(indexed, database_url=missing), None)
    assert_one_line_error(code, *capsys.readouterr(), "no index database", "nothing.db")
    assert not (tmp_path / "nothing.db").exists()  # the audit creates nothing


def test_database_without_register_tables(
    indexed: IndexedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "other.db").write_bytes(b"")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code = run_audit(settings_with(indexed, database_url=other), None)
    assert_one_line_error(code, *capsys.readouterr(), "has no register tables")


def test_database_server_that_does_not_answer(
    indexed: IndexedNode, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    code = run_audit(settings_with(indexed, database_url=url), None)
    assert_one_line_error(code, *capsys.readouterr(), "cannot open the index database")


def test_chain_that_does_not_answer(
    indexed: IndexedNode, capsys: pytest.CaptureFixture[str]
) -> None:
    url = free_port_url()
    code = run_audit(settings_with(indexed, rpc_url=url), None)
    assert_one_line_error(code, *capsys.readouterr(), url)


def test_chain_of_another_deployment(
    indexed: IndexedNode, capsys: pytest.CaptureFixture[str]
) -> None:
    with AnvilNode.start(chain_id=4242) as other:
        code = run_audit(settings_with(indexed, rpc_url=other.url), None)
    assert_one_line_error(code, *capsys.readouterr(), "chain id")


def test_report_that_cannot_be_written(
    indexed: IndexedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_audit(indexed.settings, tmp_path / "no" / "such" / "dir" / "report.json")
    assert_one_line_error(code, *capsys.readouterr(), "cannot write the report")


def test_commands_through_the_entry_point(indexed: IndexedNode, tmp_path: Path) -> None:
    """``ipchain audit`` and ``ipchain bundle`` as typed, with the options wired through."""
    settings = indexed.settings
    options = ["--data-dir", str(settings.data_dir), "--rpc", str(settings.rpc_url)]
    environment = {"IPCHAIN_DATABASE_URL": str(settings.database_url)}
    runner = CliRunner()
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["audit", *options, "--report", str(report)], env=environment)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["index", "retry-quarantined", *options], env=environment)
    assert result.exit_code == 0, result.output
    assert "0 quarantined, 0 retried, 0 indexed now, 0 still quarantined" in result.output
    typed = run("index", "retry-quarantined", "--data-dir", str(tmp_path / "none"))
    assert typed.returncode == 2 and typed.stdout == ""
    assert typed.stderr.startswith("error: ") and typed.stderr.count("\n") == 1, typed.stderr
    assert "not an initialised node" in typed.stderr
    assert json.loads(report.read_text())["ok"] is True
    indexed.sql(f"DELETE FROM events WHERE record_key = '{TRADEMARK}' AND seq = 1")
    result = runner.invoke(app, ["audit", *options, "--json"], env=environment)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["discrepancy_counts"]["missing"] == 1

    bundle = tmp_path / "bundle.json"
    result = runner.invoke(app, ["bundle", TRADEMARK, "--out", str(bundle), *options])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify", str(bundle), "--rpc", str(settings.rpc_url)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["verify", str(bundle), "--as-of-head", *options[2:]])
    assert result.exit_code == 0, result.output


# --- ipchain bundle --------------------------------------------------------------------------


def test_bundle_to_a_file_and_to_stdout(
    indexed: IndexedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "EM-TM-018000001.json"
    assert run_bundle(indexed.settings, "em/tm/018 000 001", out) == 0
    _, err = capsys.readouterr()
    assert f"{TRADEMARK}: proof bundle of 4 event(s) written to {out}" in err
    assert len(load_bundle(out.read_bytes()).entries) == 4
    assert run_verify(out, indexed.register.url, None) == EXIT_VERIFIED
    capsys.readouterr()

    assert run_bundle(indexed.settings, TRADEMARK, None) == 0
    printed, _ = capsys.readouterr()
    assert json.loads(printed)["record_key"] == TRADEMARK


@pytest.mark.parametrize(
    ("record_key", "expected"),
    [("EM/TM/099999999", "has no anchored event"), ("nonsense", "nonsense")],
)
def test_bundle_of_nothing(
    indexed: IndexedNode,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record_key: str,
    expected: str,
) -> None:
    out = tmp_path / "bundle.json"
    code = run_bundle(indexed.settings, record_key, out)
    assert_one_line_error(code, *capsys.readouterr(), expected)
    assert not out.exists()


def test_bundle_from_an_uninitialised_directory(
    indexed: IndexedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_bundle(settings_with(indexed, data_dir=tmp_path / "empty"), TRADEMARK, None)
    assert_one_line_error(code, *capsys.readouterr(), "not an initialised node")


# --- ipchain verify --as-of-head ---------------------------------------------------------------


def test_as_of_head_fails_a_bundle_older_than_the_record(
    anvil: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = RpcChain.connect(anvil.url)
    consortium = deploy_test_consortium(backend)
    signer = consortium.signers["EM"]
    record_key = "EM/TM/018777777"
    consortium.ledger.anchor(
        signer, [to_anchor(trademark_event(record_key, "A10", DAY, mark="Lumen"))]
    )
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    (data_dir / "deployment.json").write_text(json.dumps(consortium.deployment.to_json()))
    settings = Settings(data_dir=data_dir, rpc_url=anvil.url)
    bundle = tmp_path / "bundle.json"
    assert run_bundle(settings, record_key, bundle) == 0
    consortium.ledger.anchor(signer, [to_anchor(trademark_event(record_key, "Q10", DAY))])
    capsys.readouterr()

    assert run_verify(bundle, anvil.url, None) == EXIT_VERIFIED
    out, _ = capsys.readouterr()
    assert "1 newer event(s) anchored since" in " ".join(out.split())
    assert run_verify(bundle, anvil.url, None, require_head=True) == EXIT_FAILED
    out, _ = capsys.readouterr()
    assert "FAILED" in out and "VERIFIED" not in out
    backend.close()
