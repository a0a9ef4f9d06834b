"""Admission and suspension across offices: ``ipchain besu admit | suspend`` keep QBFT's order.

The registry runs on anvil; QBFT and permissioning are played by :class:`FakeQbft`, which
follows Besu's rules as documented (a validator joins or leaves once more than half of the
validators have voted; a node reads its allowlist file on ``perm_reloadPermissionsFromFile``)
and records every moment the order would have been unsafe: an allowlist reload that cut off a
validator still in the set, or a vote to add a validator whose node was not yet a peer.
Whether Besu itself behaves so needs Besu.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipchain.besu import OfficeNodeSpec, generate_network, generate_node_key
from ipchain.besu.membership import Membership, admit, suspend
from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.contracts.office_registry import Governance, OfficeStatus
from tests.helpers.consortium import Consortium, deploy_test_consortium, new_key

FOUNDERS = ("EM", "AU", "RU", "WO")


class FakeQbft:
    """The validator set and each node's loaded allowlist, shared by the fake nodes."""

    def __init__(self, specs: list[OfficeNodeSpec]) -> None:
        self.validators = {spec.validator.lower() for spec in specs if spec.founding}
        self.votes: dict[str, dict[str, bool]] = {}  # candidate -> voter office -> add?
        self.loaded: dict[str, set[str]] = {}  # office -> enodes its node allowlists
        self.peers: set[str] = set()  # public keys of nodes connected to everyone
        self.violations: list[str] = []
        self.validator_of = {spec.code: spec.validator.lower() for spec in specs}
        self.enode_of = {spec.code: spec.enode for spec in specs}


class FakeNode:
    """One office's validator, answering the calls ``membership`` makes."""

    def __init__(self, qbft: FakeQbft, office: str, folder: Path) -> None:
        self.qbft, self.office, self.folder = qbft, office, folder
        self.url = f"fake://{office}"

    def call(self, method: str, params: list[Any] | tuple[Any, ...] = ()) -> Any:
        q = self.qbft
        if method == "qbft_getValidatorsByBlockNumber":
            return sorted(q.validators)
        if method == "qbft_getPendingVotes":
            return {c: votes[self.office] for c, votes in q.votes.items() if self.office in votes}
        if method == "qbft_discardValidatorVote":
            q.votes.get(params[0].lower(), {}).pop(self.office, None)
            return True
        if method == "admin_peers":
            return [{"id": "0x" + key} for key in q.peers]
        if method == "qbft_proposeValidatorVote":
            candidate, add = params[0].lower(), bool(params[1])
            code = next(c for c, v in q.validator_of.items() if v == candidate)
            if add and q.enode_of[code] not in q.loaded.get(self.office, set()):
                q.violations.append(f"{self.office} voted {code} in before allowlisting it")
            q.votes.setdefault(candidate, {})[self.office] = add
            in_favour = sum(1 for vote in q.votes[candidate].values() if vote == add)
            if in_favour * 2 > len(q.validators):  # Besu: more than half of the validators
                (q.validators.add if add else q.validators.discard)(candidate)
                q.votes.pop(candidate)
            return True
        if method == "perm_reloadPermissionsFromFile":
            text = (self.folder / "permissions_config.toml").read_text()
            loaded = set(tomllib.loads(text)["nodes-allowlist"])
            for code, validator in q.validator_of.items():
                if validator in q.validators and q.enode_of[code] not in loaded:
                    q.violations.append(f"{self.office} cut off {code} while it validates")
            q.loaded[self.office] = loaded
            return True
        raise AssertionError(f"unexpected call {method}")


@pytest.fixture
def network(anvil: AnvilNode, tmp_path: Path) -> Iterator[tuple[Consortium, list[OfficeNodeSpec]]]:
    backend = RpcChain.connect(anvil.url)
    try:
        consortium = deploy_test_consortium(backend, FOUNDERS)
        specs = [
            OfficeNodeSpec(
                code=code,
                name=f"Office {code}",
                host=f"10.0.0.{number + 1}",
                p2p_port=30303,
                rpc_port=8545,
                admin_address=consortium.admins[code].address,
                signer_addresses=(consortium.signers[code].address,),
                node_public_key=generate_node_key(tmp_path / "keys" / code),
            )
            for number, code in enumerate(FOUNDERS)
        ]
        yield consortium, specs
    finally:
        backend.close()


def office_runs(
    consortium: Consortium,
    specs: list[OfficeNodeSpec],
    qbft: FakeQbft,
    folders: dict[str, Path],
    acting: str,
) -> Membership:
    return Membership(
        offices=specs,
        spec_path=Path("network.json"),
        acting=acting,
        backend=consortium.backend,
        deployment=consortium.deployment,
        admin_key=lambda: consortium.admins[acting],
        node_dir=folders[acting],
        node=FakeNode(qbft, acting, folders[acting]),  # type: ignore[arg-type]
    )


def start_network(specs: list[OfficeNodeSpec], folder: Path) -> tuple[FakeQbft, dict[str, Path]]:
    folders = generate_network(specs, 31337, folder)
    qbft = FakeQbft(specs)
    for code in folders:  # each node starts with its generated allowlists
        FakeNode(qbft, code, folders[code]).call("perm_reloadPermissionsFromFile")
    return qbft, folders


@pytest.mark.anvil
def test_suspension_votes_the_validator_out_before_cutting_it_off(
    network: tuple[Consortium, list[OfficeNodeSpec]], tmp_path: Path
) -> None:
    consortium, specs = network
    qbft, folders = start_network(specs, tmp_path / "net")
    ru = specs[2]

    def run(code: str) -> list[str]:
        return suspend(office_runs(consortium, specs, qbft, folders, code), "RU")

    governance = Governance(consortium.backend, consortium.deployment)

    first = run("EM")
    assert any("proposed suspend RU" in line for line in first)
    assert any(
        line.startswith("  AU: ipchain besu suspend network.json --office RU") for line in first
    )
    assert governance.office("RU").status is OfficeStatus.ACTIVE
    run("AU")
    wo = run("WO")  # the third vote of four passes it; WO goes on to vote the validator out
    assert governance.office("RU").status is OfficeStatus.SUSPENDED
    assert any("step 2/3 waiting" in line for line in wo)
    assert ru.validator.lower() in qbft.validators  # one QBFT vote of four so far
    assert ru.enode in qbft.loaded["WO"]  # and nobody has cut RU off
    run("EM")
    au = run("AU")  # the third QBFT vote removes RU's validator; AU then reloads
    assert ru.validator.lower() not in qbft.validators
    assert any("step 3/3 done at AU" in line for line in au)
    for code in ("EM", "WO"):
        assert any("step 3/3 done" in line for line in run(code))
    for code in ("EM", "AU", "WO"):
        assert ru.enode not in qbft.loaded[code]
    assert qbft.violations == []
    assert qbft.votes == {}  # every pending vote discarded once it took effect


@pytest.mark.anvil
def test_admission_allowlists_the_newcomer_before_voting_its_validator_in(
    network: tuple[Consortium, list[OfficeNodeSpec]], tmp_path: Path
) -> None:
    consortium, specs = network
    admin, signer = new_key(), new_key()
    newcomer = OfficeNodeSpec(
        code="MT",
        name="Malta Intellectual Property Office",
        host="10.0.0.9",
        p2p_port=30303,
        rpc_port=8545,
        admin_address=admin.address,
        signer_addresses=(signer.address,),
        node_public_key=generate_node_key(tmp_path / "keys" / "MT"),
        founding=False,
    )
    specs = [*specs, newcomer]
    qbft, folders = start_network(specs, tmp_path / "net")

    def run(code: str) -> list[str]:
        return admit(office_runs(consortium, specs, qbft, folders, code), "MT")

    governance = Governance(consortium.backend, consortium.deployment)

    run("EM")
    run("AU")
    assert "MT" not in [office.code for office in governance.offices()]
    wo = run("WO")  # admitted; WO proposes MT's signer, funds MT, reloads; MT is no peer yet
    assert governance.office("MT").status is OfficeStatus.ACTIVE
    assert any("step 3/3 waiting: MT's node is not a peer" in line for line in wo)
    assert newcomer.enode in qbft.loaded["WO"] and qbft.votes == {}
    assert consortium.backend.get_balance(admin.address) > 0
    for code in ("EM", "AU"):
        run(code)  # they vote for the signer and reload their allowlists
    assert signer.address in governance.office("MT").signers

    qbft.peers.add(newcomer.node_public_key)  # MT's operator started its node; it synced
    for code in ("EM", "AU", "RU"):
        run(code)
    assert newcomer.validator.lower() in qbft.validators
    done = run("WO")
    assert any("step 3/3 done" in line for line in done)
    assert qbft.violations == [] and qbft.votes == {}
    for code in FOUNDERS:
        assert newcomer.enode in qbft.loaded[code]


@pytest.mark.anvil
def test_an_office_cannot_run_its_own_suspension(
    network: tuple[Consortium, list[OfficeNodeSpec]], tmp_path: Path
) -> None:
    from ipchain.errors import InvalidInputError

    consortium, specs = network
    qbft, folders = start_network(specs, tmp_path / "net")
    with pytest.raises(InvalidInputError, match="its own membership"):
        suspend(office_runs(consortium, specs, qbft, folders, "RU"), "RU")
