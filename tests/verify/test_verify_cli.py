"""``ipchain verify BUNDLE --rpc URL``: a report and exit 0 for a proven bundle, exit 1 naming the
event for a modified one, and one readable line with exit 2 for every kind of bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from ipchain.chain.anvil import AnvilNode
from ipchain.cli.verify import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_VERIFIED, run_verify
from tests.helpers.anchored_record import AnchoredRecord


def write(tmp_path: Path, bundle: dict[str, Any] | bytes) -> Path:
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode())
    return path


def run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = run_verify(*args)
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(code: int, out: str, err: str, *expected: str) -> None:
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "VERIFIED" not in err
    for text in expected:
        assert text in err, err


def test_proven_bundle_exits_zero_with_a_report(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, write(tmp_path, anchored.bundle), anchored.url, None)
    assert (code, err) == (EXIT_VERIFIED, "")
    assert "VERIFIED: EM/TM/018123456, 3 event(s) proven against chain 31337" in out
    for event_code in ("A10", "Q10", "F10"):
        assert event_code in out
    assert out.count("verified") == 3


def test_modified_bundle_exits_one_naming_the_event(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = anchored.fresh_bundle()
    entry = bundle["entries"][1]
    entry["document"] = entry["document"].replace("2024-03-08", "2024-03-09")
    code, out, err = run(capsys, write(tmp_path, bundle), anchored.url, None)
    assert (code, err) == (EXIT_FAILED, "")
    assert "FAILED: EM/TM/018123456 is not proven (event 2 tampered)" in out
    assert "VERIFIED" not in out


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, tmp_path / "nope.json", "http://127.0.0.1:1", None)
    assert_bad_input(code, out, err, "cannot read bundle", "nope.json")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "not valid JSON"),
        (b"PK\x03\x04 not json at all", "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
    ],
)
def test_unreadable_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    code, out, err = run(capsys, write(tmp_path, content), "http://127.0.0.1:1", None)
    assert_bad_input(code, out, err, "invalid bundle", expected)


def test_truncated_bundle(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = json.dumps(anchored.bundle).encode()
    code, out, err = run(capsys, write(tmp_path, text[: len(text) // 2]), anchored.url, None)
    assert_bad_input(code, out, err, "invalid bundle", "invalid JSON at line 1")


def test_unknown_format_version(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = anchored.fresh_bundle()
    bundle["format_version"] = 99
    code, out, err = run(capsys, write(tmp_path, bundle), anchored.url, None)
    assert_bad_input(code, out, err, "format_version 99 is not supported")


def test_malformed_field_is_named(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = anchored.fresh_bundle()
    bundle["entries"][2]["block_hash"] = "0x1234"
    code, out, err = run(capsys, write(tmp_path, bundle), anchored.url, None)
    assert_bad_input(code, out, err, "entries[2].block_hash")


def test_bundle_of_another_chain(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = anchored.fresh_bundle()
    bundle["chain_id"] = 1
    code, out, err = run(capsys, write(tmp_path, bundle), anchored.url, None)
    assert_bad_input(code, out, err, "chain id 31337, expected 1")


def test_node_of_another_chain(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with AnvilNode.start(chain_id=4242) as other:
        code, out, err = run(capsys, write(tmp_path, anchored.bundle), other.url, None)
    assert_bad_input(code, out, err, "chain id 4242, expected 31337")


def test_node_that_does_not_answer(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    code, out, err = run(capsys, write(tmp_path, anchored.bundle), url, None)
    assert_bad_input(code, out, err, "does not answer", url)


def test_url_that_is_not_a_json_rpc_node(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, write(tmp_path, anchored.bundle), "not a url", None)
    assert_bad_input(code, out, err)


def test_no_chain_given(
    anchored: AnchoredRecord,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IPCHAIN_RPC_URL", raising=False)
    code, out, err = run(capsys, write(tmp_path, anchored.bundle), None, tmp_path / "node")
    assert_bad_input(code, out, err, "give --rpc URL")


def test_data_dir_pins_the_consortium_contracts(
    anchored: AnchoredRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bundle from a look-alike consortium on the same chain fails against the node's
    deployment.json: contract addresses are what tie a bundle to the real consortium."""
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    deployment = anchored.consortium.deployment.to_json()
    deployment["contracts"]["OfficeRegistry"] = "0x" + "11" * 20
    (node_dir / "deployment.json").write_text(json.dumps(deployment))
    code, out, _ = run(capsys, write(tmp_path, anchored.bundle), anchored.url, node_dir)
    assert code == EXIT_FAILED
    assert "is not the consortium's" in out


def test_verifies_against_a_node_embedded_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --rpc, the embedded chain of --data-dir (closed by its node) is the chain."""
    from ipchain.chain.embedded import EmbeddedChain
    from ipchain.verification import build_bundle
    from tests.helpers.anchored_record import RECORD_KEY, register_document, to_anchor
    from tests.helpers.consortium import deploy_test_consortium

    monkeypatch.delenv("IPCHAIN_RPC_URL", raising=False)
    node_dir = tmp_path / "node"
    with EmbeddedChain.open(node_dir / "chain") as chain:
        consortium = deploy_test_consortium(chain)
        documents = [
            register_document(RECORD_KEY, "A10", 1),
            register_document(RECORD_KEY, "Q10", 2),
        ]
        consortium.ledger.anchor(consortium.signers["EM"], [to_anchor(d) for d in documents])
        bundle = build_bundle(chain, consortium.deployment, RECORD_KEY)
    (node_dir / "deployment.json").write_text(json.dumps(consortium.deployment.to_json()))
    code, out, err = run(capsys, write(tmp_path, bundle), None, node_dir)
    assert (code, err) == (EXIT_VERIFIED, ""), out
    assert "2 event(s) proven" in out
