"""``ipchain propose | vote | attest | revoke`` as a user runs them: real processes against a
node on anvil, exit code 0 and a short report on success, one line and exit code 2 on error."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipchain.chain.anvil import AnvilNode
from ipchain.cli.app import main
from ipchain.governance.dev_setup import office_certificate_path
from tests.helpers.cli import assert_one_line_error, run
from tests.helpers.consortium import new_key


@pytest.fixture(scope="module")
def node(anvil_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Options naming a node set up on anvil (EM, AU, RU), shared by the module's tests."""
    anvil = AnvilNode.start()
    try:
        options = ["--data-dir", str(tmp_path_factory.mktemp("cli") / "node"), "--rpc", anvil.url]
        result = run("init", *options)
        assert result.returncode == 0, result.stderr
        yield options
    finally:
        anvil.stop()


def test_propose_and_vote_admit_an_office(node: list[str]) -> None:
    account = new_key().address
    proposed = run(
        "propose", "admit-office", "--office", "MT", "--account", account,
        "--name", "IPRD Malta", "--as", "EM", *node,
    )  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    match = re.search(r"proposal (\d+): admit-office MT", proposed.stdout)
    assert match and "1 vote, open until" in proposed.stdout, proposed.stdout
    proposal_id = match.group(1)

    voted = run("vote", proposal_id, "--as", "AU", *node)
    assert voted.returncode == 0, voted.stderr
    assert "passed and took effect" in voted.stdout and "executed" in voted.stdout

    again = run("vote", proposal_id, "--as", "RU", *node)
    assert_one_line_error(again, 2, "OfficeRegistryProposalAlreadyExecuted")
    stranger = run("vote", proposal_id, "--as", "ZZ", *node)
    assert_one_line_error(stranger, 2, "holds no admin key of office ZZ")


def test_attest_and_revoke(node: list[str], tmp_path: Path) -> None:
    claim = tmp_path / "claim.json"
    claim.write_text(
        json.dumps(
            {
                "party_id": "EM:applicant:42",
                "role": "applicant",
                "name": "Nordlicht GmbH",
                "country_code": "DE",
                "office_code": "EM",
            }
        )
    )
    schema = ["--schema", "ipchain/party-identity/v1"]
    attested = run(
        "attest", *schema, "--claim", str(claim), "--as", "EM", "--expires", "2099-01-01", *node
    )
    assert attested.returncode == 0, attested.stderr
    assert "valid until 2099-01-01" in attested.stdout
    uid = re.search(r"attestation (0x[0-9a-f]{64})", attested.stdout)
    assert uid is not None, attested.stdout

    foreign = run("revoke", uid.group(1), "--as", "AU", *node)
    assert_one_line_error(foreign, 2, "AttestationNotIssuer")
    revoked = run("revoke", uid.group(1), "--as", "EM", *node)
    assert revoked.returncode == 0, revoked.stderr
    assert f"attestation {uid.group(1)} revoked by EM" in revoked.stdout

    unknown = run("attest", "--schema", "acme/v1", "--claim", str(claim), "--as", "EM", *node)
    assert_one_line_error(unknown, 2, "acme/v1")

    certificate = office_certificate_path(Path(node[1]), "EM")
    bound = run(
        "attest", "--schema", "ipchain/office-certificate/v1",
        "--certificate", str(certificate), "--as", "EM", *node,
    )  # fmt: skip
    assert bound.returncode == 0, bound.stderr
    assert "ipchain/office-certificate/v1 by EM" in bound.stdout


def test_a_vote_revokes_an_attestation(node: list[str], tmp_path: Path) -> None:
    claim = tmp_path / "claim.json"
    claim.write_text(
        json.dumps(
            {"party_id": "AU:applicant:7", "role": "applicant", "name": "X", "office_code": "AU"}
        )
    )
    attested = run(
        "attest", "--schema", "ipchain/party-identity/v1", "--claim", str(claim), "--as", "AU",
        *node,
    )  # fmt: skip
    assert attested.returncode == 0, attested.stderr
    uid = re.search(r"attestation (0x[0-9a-f]{64})", attested.stdout)
    assert uid is not None, attested.stdout
    proposed = run("propose", "revoke-attestation", "--uid", uid.group(1), "--as", "EM", *node)
    assert proposed.returncode == 0, proposed.stderr
    assert f"revoke-attestation {uid.group(1)} by EM" in proposed.stdout, proposed.stdout
    proposal_id = re.search(r"proposal (\d+):", proposed.stdout)
    assert proposal_id is not None
    outputs = []
    for voter in ("RU", "AU"):  # MT may have joined: three votes of four then
        voted = run("vote", proposal_id.group(1), "--as", voter, *node)
        assert voted.returncode == 0, voted.stderr
        outputs.append(voted.stdout)
        if "passed and took effect" in voted.stdout:
            break
    assert "passed and took effect" in outputs[-1], outputs
    unknown = run("propose", "revoke-attestation", "--uid", "0x" + "11" * 32, "--as", "EM", *node)
    assert_one_line_error(unknown, 2, "OfficeRegistryUnknownAttestation")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["propose", "suspend-office", "--office", "E1", "--as", "EM"], "ST.3"),
        (["propose", "dissolve", "--as", "EM"], "not one of admit-office"),
        (["attest", "--schema", "x/v1", "--claim", "{missing}", "--as", "EM"], "cannot read"),
        (
            ["attest", "--schema", "ipchain/party-identity/v1", "--claim", "{bad}", "--as", "EM"],
            "JSON",
        ),
        (["revoke", "0x12", "--as", "EM"], "uid must be 0x and 64 hex digits"),
        (["attest", "--schema", "x/v1", "--expires", "soon", "--as", "EM"], "--expires"),
    ],
    ids=["office-code", "action", "claim-file", "claim-json", "uid", "expiry"],
)
def test_errors_are_one_line_and_exit_2(
    arguments: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Refused before the chain is reached: the data directory is not even set up. (Run in
    this process, through the same entry point: a process per case costs seconds.)"""
    (tmp_path / "bad.json").write_text('{"party_id": ')
    filled = [
        argument.format(missing=tmp_path / "missing.json", bad=tmp_path / "bad.json")
        for argument in arguments
    ]
    monkeypatch.setattr(sys, "argv", ["ipchain", *filled, "--data-dir", str(tmp_path / "node")])
    with pytest.raises(SystemExit) as exit_:
        main()
    error = capsys.readouterr().err
    assert "not initialised" not in error, f"{arguments} reached the node before its input"
    assert exit_.value.code == 2, error
    lines = [line for line in error.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], error
