"""The Besu QBFT network configuration: what Besu will read at start, and the allowlists that
follow OfficeRegistry.

Besu itself does not run here; the formats are checked against Besu's documented examples
(QBFT extraData) and the reference implementations at hand (py-evm, anvil).
"""

from __future__ import annotations

import json
import re
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak

from ipchain import besu
from ipchain.besu import (
    Allowlists,
    AuditorNodeSpec,
    OfficeNodeSpec,
    allowlists_from_registry,
    decode_qbft_extra_data,
    encode_qbft_extra_data,
    fund_accounts,
    generate_network,
    generate_node_key,
    genesis_document,
    load_network_spec,
    render_permissions,
    validator_address,
)
from ipchain.besu.files import START_TEMPLATE
from ipchain.chain.anvil import AnvilNode
from ipchain.chain.rpc import RpcChain
from ipchain.contracts.bindings import Deployment
from ipchain.contracts.office_registry import Governance
from ipchain.errors import InvalidInputError
from tests.helpers.consortium import Consortium, deploy_test_consortium, new_key

NODE_CONFIG = Path(__file__).resolve().parents[2] / "node_config" / "besu"
ENODE = re.compile(r"enode://[0-9a-f]{128}@(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}")


def office_spec(code: str, folder: Path, port: int, host: str = "127.0.0.1") -> OfficeNodeSpec:
    return OfficeNodeSpec(
        code=code,
        host=host,
        p2p_port=30303 + port,
        rpc_port=8545 + port,
        admin_address=new_key().address,
        signer_addresses=(new_key().address, new_key().address),
        node_public_key=generate_node_key(folder / code),
        name=f"Office {code}",
    )


@pytest.fixture
def network(tmp_path: Path) -> tuple[list[OfficeNodeSpec], dict[str, Path]]:
    offices = [
        office_spec(code, tmp_path, number) for number, code in enumerate(("EM", "AU", "RU", "WO"))
    ]
    return offices, generate_network(offices, besu.CONSORTIUM_CHAIN_ID, tmp_path)


# ------------------------------------------------------------------------------------ genesis


def test_genesis_is_qbft_prague_with_free_gas(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    _offices, folders = network
    genesis = json.loads((folders["EM"] / "genesis.json").read_text())
    config = genesis["config"]
    assert config["chainId"] == besu.CONSORTIUM_CHAIN_ID
    assert besu.CONSORTIUM_CHAIN_ID not in (1, 1337, 31337, 31415926)  # mainnet, dev chains
    assert config["qbft"] == {
        "blockperiodseconds": 2,
        "epochlength": 30000,
        "requesttimeoutseconds": 8,
    }
    # The round timeout covers at least two block periods (Besu's tuning guide starts there).
    assert config["qbft"]["requesttimeoutseconds"] >= 2 * config["qbft"]["blockperiodseconds"]
    # The contracts are compiled for Prague: every fork up to it is active from genesis.
    assert config["londonBlock"] == config["shanghaiTime"] == config["pragueTime"] == 0
    assert config["zeroBaseFee"] is True
    assert genesis["mixHash"] == besu.ISTANBUL_MIX_HASH and genesis["difficulty"] == "0x1"
    assert int(genesis["gasLimit"], 16) == besu.BLOCK_GAS_LIMIT == 50_000_000
    # No system contract addresses: on QBFT, Besu then makes no Prague system calls.
    assert not {k for k in config if k.endswith("ContractAddress")}
    # Every office starts from byte-identical genesis files.
    texts = {(folder / "genesis.json").read_bytes() for folder in folders.values()}
    assert len(texts) == 1


def test_extra_data_names_the_offices_nodes_as_validators(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    offices, folders = network
    genesis = json.loads((folders["AU"] / "genesis.json").read_text())
    validators = decode_qbft_extra_data(bytes.fromhex(genesis["extraData"][2:]))
    expected = {validator_address(office.node_public_key) for office in offices}
    assert set(validators) == expected and len(validators) == 4
    assert validators == sorted(validators, key=lambda address: int(address, 16))
    # Besu reads the node key file at start: its address must be the validator's.
    key = PrivateKey(bytes.fromhex((folders["RU"] / "key").read_text()[2:]))
    assert key.public_key.to_checksum_address() in validators


def test_extra_data_encoding_matches_besus_documented_example() -> None:
    # From Besu's QBFT docs ("Generate extra data"): besu rlp encode --type=QBFT_EXTRA_DATA.
    validators = [
        "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
        "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
        "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
        "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
    ]
    documented = (
        "f87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e4"
        "5706cc08b8f44b11e43cba0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96"
        "ee02d7bcbc1bf1236b8c15148971e1de94ab5e7f4061c605820d3744227eed91ff8e2c8908c080c0"
    )
    assert encode_qbft_extra_data(validators).hex() == documented
    decoded = decode_qbft_extra_data(bytes.fromhex(documented))
    assert [address.lower() for address in decoded] == validators


def test_extra_data_that_is_not_a_qbft_genesis_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        decode_qbft_extra_data(b"ipchain-embedded")
    sealed = rlp.encode([b"\0" * 32, [b"\1" * 20], [], 0, [b"\2" * 65]])
    short_address = rlp.encode([b"\0" * 32, [b"\1" * 19], [], 0, []])
    for extra_data in (sealed, short_address):
        with pytest.raises(InvalidInputError):
            decode_qbft_extra_data(extra_data)


def test_alloc_funds_every_office_account_and_holds_the_prague_system_contracts(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    offices, folders = network
    alloc = json.loads((folders["WO"] / "genesis.json").read_text())["alloc"]
    for office in offices:
        for account in office.accounts:
            assert int(alloc[account.lower()]["balance"], 16) >= 10**21
    # The Prague system contracts sit in state with the EIPs' code (inert: no system calls).
    for address in besu.SYSTEM_CONTRACTS:
        assert alloc[address]["code"].startswith("0x3373fffffffffffffffffffffffffffffffffffffffe")
    # The request queues hold the excess inhibitor in slot 0, as Besu's reference genesis does.
    inhibitor = {"0x" + "00" * 32: "0x" + "ff" * 32}
    assert alloc["0x00000961ef480eb55e80d19ad83579a64c007002"]["storage"] == inhibitor
    assert alloc["0x0000bbddc7ce488642fb579f8b00f3a590007251"]["storage"] == inhibitor
    assert "storage" not in alloc["0x000f3df6d732807ef1319fb7b8bb8522d0beac02"]
    assert len(alloc) == len(besu.SYSTEM_CONTRACTS) + sum(len(o.accounts) for o in offices)


def test_system_contract_code_is_the_one_other_clients_run() -> None:
    from eth.vm.forks.cancun.constants import BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CONTRACT_CODE
    from eth.vm.forks.prague.constants import (
        HISTORY_STORAGE_ADDRESS,
        HISTORY_STORAGE_CONTRACT_CODE,
    )

    codes = {bytes.fromhex(a[2:]): bytes.fromhex(c) for a, c in besu.SYSTEM_CONTRACTS.items()}
    assert codes[BEACON_ROOTS_ADDRESS] == BEACON_ROOTS_CONTRACT_CODE
    assert codes[HISTORY_STORAGE_ADDRESS] == HISTORY_STORAGE_CONTRACT_CODE
    # EIP-7002 / EIP-7251: the size their deployment transactions copy out (0x1f8, 0x19e).
    assert len(codes[bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002")]) == 0x1F8
    assert len(codes[bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251")]) == 0x19E


def test_offices_admitted_later_do_not_change_the_genesis(tmp_path: Path) -> None:
    founders = [office_spec(code, tmp_path, n) for n, code in enumerate(("EM", "AU", "RU"))]
    newcomer = office_spec("MT", tmp_path, 3)
    late = OfficeNodeSpec(**{**newcomer.__dict__, "founding": False})
    assert genesis_document([*founders, late]) == genesis_document(founders)
    folders = generate_network([*founders, late], besu.CONSORTIUM_CHAIN_ID, tmp_path / "out")
    # At founding only founders get folders, and only founders are allowlisted.
    assert set(folders) == {"EM", "AU", "RU"}
    assert late.enode not in json.loads((folders["EM"] / "static-nodes.json").read_text())
    # The newcomer's folder comes later, with allowlists read from the registry.
    with pytest.raises(InvalidInputError, match="registry"):
        generate_network([*founders, late], 1234, tmp_path / "out", only=["MT"])
    admitted = Allowlists(
        accounts=tuple(a for o in (*founders, late) for a in o.accounts),
        nodes=tuple(o.enode for o in (*founders, late)),
    )
    (folder,) = generate_network(
        [*founders, late],
        besu.CONSORTIUM_CHAIN_ID,
        tmp_path / "out",
        only=["MT"],
        allowlists=admitted,
    ).values()
    assert (folder / "genesis.json").read_bytes() == (folders["EM"] / "genesis.json").read_bytes()
    assert set(json.loads((folder / "static-nodes.json").read_text())) == {
        o.enode for o in founders
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "em"),
        ("host", 'evil"\nrpc-http-host="0.0.0.0'),
        ("p2p_port", 70000),
        ("admin_address", "0x1234"),
        ("node_public_key", "04" * 64),
    ],
)
def test_bad_office_specs_are_refused(tmp_path: Path, field: str, value: object) -> None:
    spec = office_spec("EM", tmp_path, 0)
    with pytest.raises(InvalidInputError):
        generate_network(
            [OfficeNodeSpec(**{**spec.__dict__, field: value})], 1234, tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


def test_the_same_node_key_twice_is_refused(tmp_path: Path) -> None:
    first = office_spec("EM", tmp_path, 0)
    second = OfficeNodeSpec(
        **{**office_spec("AU", tmp_path, 1).__dict__, "node_public_key": first.node_public_key}
    )
    with pytest.raises(InvalidInputError, match="node public key"):
        genesis_document([first, second])


# ------------------------------------------------------------------------ node files and keys


def test_node_key_is_private_and_kept(tmp_path: Path) -> None:
    public_key = generate_node_key(tmp_path / "node")
    key_file = tmp_path / "node" / "key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    text = key_file.read_text()
    assert re.fullmatch(r"0x[0-9a-f]{64}", text)
    assert PrivateKey(bytes.fromhex(text[2:])).public_key.to_bytes().hex() == public_key
    # Asking again never replaces the key (the validator address would change).
    assert generate_node_key(tmp_path / "node") == public_key
    assert key_file.read_text() == text


def test_static_nodes_name_every_other_office(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    offices, folders = network
    for office in offices:
        peers = json.loads((folders[office.code] / "static-nodes.json").read_text())
        assert all(ENODE.fullmatch(peer) for peer in peers)
        assert set(peers) == {other.enode for other in offices if other is not office}


def test_config_points_besu_at_the_generated_files(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    offices, folders = network
    for office in offices:
        folder = folders[office.code]
        config = tomllib.loads((folder / "config.toml").read_text())
        for option in ("genesis-file", "static-nodes-file", "permissions-nodes-config-file"):
            assert (folder / config[option]).exists()
        assert config["node-private-key-file"] == "key"
        assert config["permissions-accounts-config-file-enabled"] is True
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["p2p-host"] == office.host and config["p2p-port"] == office.p2p_port
        assert config["rpc-http-port"] == office.rpc_port
        assert config["min-gas-price"] == 0
        assert config["data-storage-format"] == "FOREST"  # past-block calls for auditors
        assert config["target-gas-limit"] == besu.BLOCK_GAS_LIMIT
        # A batch at the 16,777,216 gas cap (~420 KB) passes Besu's transaction pool.
        assert config["tx-pool-max-tx-bytes"] >= 16_777_216 // 40


def test_validator_rpc_keeps_qbft_and_perm_behind_a_token(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    _offices, folders = network
    config = tomllib.loads((folders["EM"] / "config.toml").read_text())
    assert config["rpc-http-host"] == "127.0.0.1"  # the validator's RPC never faces the network
    assert config["host-allowlist"] == ["localhost", "127.0.0.1"]
    assert {"QBFT", "PERM"} <= set(config["rpc-http-api"])
    assert config["rpc-http-authentication-enabled"] is True
    assert config["rpc-http-authentication-jwt-public-key-file"] == "rpc-jwt.pub.pem"
    assert config["rpc-http-authentication-jwt-algorithm"] == "RS256"
    no_auth = config["rpc-http-api-methods-no-auth"]
    assert not [m for m in no_auth if m.split("_")[0] not in ("eth", "net", "web3")]
    # Everything the office's ipchain node calls is in the list, nothing it does not need.
    source = Path(besu.__file__).parents[1]
    rpc_source = (source / "chain" / "rpc.py").read_text()
    used = set(re.findall(r'"((?:eth|net|web3)_[A-Za-z]+)"', rpc_source))
    for path in source.rglob("*.py"):  # and any raw request an ipchain node makes
        used |= set(re.findall(r'request\(\s*"((?:eth|net|web3)_[A-Za-z]+)"', path.read_text()))
    assert used <= set(no_auth), used - set(no_auth)


def test_auditor_node_profile(tmp_path: Path) -> None:
    spec = office_spec("EM", tmp_path, 0)
    auditor = AuditorNodeSpec(
        "audit", "audit.em.example", 30310, 8550, generate_node_key(tmp_path / "EM-audit")
    )
    offices = [
        OfficeNodeSpec(**{**spec.__dict__, "auditor_nodes": (auditor,)}),
        office_spec("AU", tmp_path, 1),
    ]
    folders = generate_network(offices, 1234, tmp_path / "out")
    assert set(folders) == {"EM", "EM-audit", "AU"}
    config = tomllib.loads((folders["EM-audit"] / "config.toml").read_text())
    assert config["rpc-http-api"] == ["ETH", "NET", "WEB3"]
    assert config["rpc-http-tls-enabled"] is True
    assert config["rpc-http-tls-keystore-file"] == "rpc-tls.p12"
    assert config["rpc-http-authentication-enabled"] is True
    assert "rpc-http-api-methods-no-auth" not in config  # every call needs a token
    assert config["data-storage-format"] == "FOREST" and config["sync-mode"] == "FULL"
    assert config["rpc-http-host"] == "0.0.0.0"
    assert "audit.em.example" in config["host-allowlist"]
    assert config["rpc-gas-cap"] == besu.BLOCK_GAS_LIMIT
    # Not a validator: not in the genesis; in every allowlist, like the validators.
    genesis = json.loads((folders["AU"] / "genesis.json").read_text())
    validators = decode_qbft_extra_data(bytes.fromhex(genesis["extraData"][2:]))
    assert validator_address(auditor.node_public_key) not in validators
    for folder in folders.values():
        permissions = tomllib.loads((folder / "permissions_config.toml").read_text())
        assert offices[0].nodes[1].enode in permissions["nodes-allowlist"]
    start = (folders["EM-audit"] / "start.sh").read_text()
    assert "rpc-tls.p12 rpc-tls.password" in start
    node = json.loads((folders["EM-audit"] / "node.json").read_text())
    assert node["role"] == "auditor" and node["rpc_url"] == "https://audit.em.example:8550"


def test_one_dns_host_enables_dns_on_every_node(tmp_path: Path) -> None:
    offices = [
        office_spec("EM", tmp_path, 0, host="10.0.0.1"),
        office_spec("WO", tmp_path, 1, host="besu.wipo.example"),
        office_spec("AU", tmp_path, 2, host="10.0.0.3"),
        office_spec("RU", tmp_path, 3, host="2001:db8::4"),
    ]
    folders = generate_network(offices, 1234, tmp_path / "out")
    for office in offices:
        config = tomllib.loads((folders[office.code] / "config.toml").read_text())
        assert config["Xdns-enabled"] is True, office.code
        # Each node advertises its own host; p2p-host takes IP addresses only.
        if office.code == "WO":
            assert "p2p-host" not in config
        else:
            assert config["p2p-host"] == office.host
    assert offices[1].enode.endswith("@besu.wipo.example:30304")
    assert offices[3].enode.endswith("@[2001:db8::4]:30306")
    wo_peers = json.loads((folders["EM"] / "static-nodes.json").read_text())
    assert offices[1].enode in wo_peers


def test_without_dns_hosts_dns_stays_off(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    _offices, folders = network
    for folder in folders.values():
        assert "Xdns-enabled" not in tomllib.loads((folder / "config.toml").read_text())


def test_permissions_file_lists_every_founding_account_and_node(
    network: tuple[list[OfficeNodeSpec], dict[str, Path]],
) -> None:
    offices, folders = network
    permissions = tomllib.loads((folders["EM"] / "permissions_config.toml").read_text())
    accounts = {a.lower() for office in offices for a in office.accounts}
    assert set(permissions["accounts-allowlist"]) == accounts
    assert permissions["nodes-allowlist"] == [office.enode for office in offices]


# ------------------------------------------------------------------ committed files in the repo


def test_committed_templates_match_the_generator() -> None:
    assert (NODE_CONFIG / "config.template.toml").read_text() == besu.CONFIG_TEMPLATE
    assert (NODE_CONFIG / "auditor-config.template.toml").read_text() == (
        besu.AUDITOR_CONFIG_TEMPLATE
    )
    assert (NODE_CONFIG / "start.template.sh").read_text() == START_TEMPLATE
    assert (NODE_CONFIG / "BESU_VERSION").read_text().strip() == besu.BESU_VERSION
    chain_id, offices = load_network_spec(NODE_CONFIG / "network.example.json")
    generated = genesis_document(offices, chain_id)
    template = json.loads((NODE_CONFIG / "genesis.template.json").read_text())
    office_accounts = {a.lower() for office in offices for a in office.accounts}
    placeholder = next(key for key in template["alloc"] if key.startswith("GENERATED"))
    assert template["alloc"].pop(placeholder) == {"balance": hex(besu.ACCOUNT_BALANCE_WEI)}
    for account in office_accounts:
        generated["alloc"].pop(account)
    assert template["extraData"].startswith("GENERATED")
    template["extraData"] = generated["extraData"]
    assert template == generated


def test_example_network_holds_only_public_dev_keys() -> None:
    # Every key in the committed example derives from a published phrase: nobody can slip a
    # real office's key into the repository unnoticed.
    _chain_id, offices = load_network_spec(NODE_CONFIG / "network.example.json")

    def dev(label: str) -> PrivateKey:
        return PrivateKey(keccak(text=f"ipchain besu example {label} - public, never use"))

    for office in offices:
        assert office.admin_address == dev(f"{office.code} admin").public_key.to_checksum_address()
        (signer,) = office.signer_addresses
        assert signer == dev(f"{office.code} signer").public_key.to_checksum_address()
        for node in office.nodes:
            assert node.node_public_key == dev(f"{node.name} node").public_key.to_bytes().hex()
    assert any(len(office.nodes) > 1 for office in offices)  # an auditor node, as an example
    assert not list(NODE_CONFIG.rglob("key")) and not list(NODE_CONFIG.rglob("*.pem"))


# ------------------------------------------------------------ allowlists from the OfficeRegistry


@pytest.fixture
def anvil_consortium(anvil: AnvilNode) -> Iterator[Consortium]:
    backend = RpcChain.connect(anvil.url)
    try:
        yield deploy_test_consortium(backend)
    finally:
        backend.close()


def specs_for(consortium: Consortium, folder: Path) -> list[OfficeNodeSpec]:
    return [
        OfficeNodeSpec(
            code=code,
            host=f"10.0.0.{number + 1}",
            p2p_port=30303,
            rpc_port=8545,
            admin_address=consortium.admins[code].address,
            signer_addresses=(consortium.signers[code].address,),
            node_public_key=generate_node_key(folder / code),
        )
        for number, code in enumerate(consortium.admins)
    ]


@pytest.mark.anvil
def test_allowlists_follow_the_registry(anvil_consortium: Consortium, tmp_path: Path) -> None:
    consortium = anvil_consortium
    specs = specs_for(consortium, tmp_path)
    newcomer = office_spec("MT", tmp_path, 9)  # in the spec, not (yet) admitted
    allowlists = allowlists_from_registry(
        consortium.backend, consortium.deployment, [*specs, newcomer]
    )
    expected = {key.address for key in (*consortium.admins.values(), *consortium.signers.values())}
    assert set(allowlists.accounts) == expected and len(allowlists.accounts) == 6
    assert allowlists.nodes == tuple(spec.enode for spec in specs)

    # The consortium suspends AU: its accounts and its node drop out of the allowlists.
    governance = Governance(consortium.backend, consortium.deployment)
    proposal = governance.propose_suspend_office(consortium.admins["EM"], "AU")
    assert governance.vote(consortium.admins["RU"], proposal)
    after = allowlists_from_registry(consortium.backend, consortium.deployment, specs)
    gone = {consortium.admins["AU"].address, consortium.signers["AU"].address}
    assert set(after.accounts) == expected - gone
    assert after.nodes == tuple(spec.enode for spec in specs if spec.code != "AU")

    # Every node's two files are rewritten together and agree: Besu refuses to start when a
    # static node is not allowlisted, so after the suspension every node still restarts.
    folders = generate_network(specs, consortium.backend.chain_id, tmp_path / "net")
    written_nodes = besu.write_node_allowlists(list(folders.values()), after, specs)
    assert [node.name for node in written_nodes] == ["EM", "AU", "RU"]
    for name, folder in folders.items():
        permissions = tomllib.loads((folder / "permissions_config.toml").read_text())
        static = json.loads((folder / "static-nodes.json").read_text())
        assert permissions["accounts-allowlist"] == [a.lower() for a in after.accounts]
        assert permissions["nodes-allowlist"] == list(after.nodes)
        assert set(static) <= set(permissions["nodes-allowlist"]), name
        assert specs[1].enode not in static  # AU is no longer dialled
        own = next(spec for spec in specs if spec.code == name).enode
        assert set(static) == set(after.nodes) - {own}


@pytest.mark.anvil
def test_a_newcomer_gets_gas_money_once(anvil_consortium: Consortium) -> None:
    backend = anvil_consortium.backend
    newcomers = [new_key().address, new_key().address]
    funder = anvil_consortium.admins["EM"]
    assert fund_accounts(backend, funder, newcomers, 10**18) == newcomers
    assert all(backend.get_balance(address) == 10**18 for address in newcomers)
    assert fund_accounts(backend, funder, newcomers, 10**18) == []


def test_empty_allowlists_render_as_valid_toml() -> None:
    text = render_permissions(Allowlists(accounts=(), nodes=()))
    assert tomllib.loads(text) == {"accounts-allowlist": [], "nodes-allowlist": []}


@pytest.mark.anvil
def test_command_line_founds_a_network_and_follows_it(
    anvil: AnvilNode,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The across-machines steps of docs/deployment.md, each office in its own data dir."""
    monkeypatch.setenv("IPCHAIN_KEYSTORE_PASSWORD", "correct horse battery staple")

    def run(*arguments: object) -> Any:
        assert besu.main([str(argument) for argument in arguments]) == 0
        return json.loads(capsys.readouterr().out)

    offices = []
    for number, code in enumerate(("EM", "AU", "RU")):
        node = run("node-key", tmp_path / "besu" / code)
        accounts = run("office-keys", code, "--data-dir", tmp_path / code)
        offices.append(
            {
                **accounts,
                "name": f"Office {code}",
                "host": "127.0.0.1",
                "p2p_port": 30303 + number,
                "rpc_port": 8545 + number,
                "node_public_key": node["node_public_key"],
            }
        )
    spec = tmp_path / "network.json"
    spec.write_text(json.dumps({"chain_id": anvil.chain_id, "offices": offices}))
    folders = run("generate", spec, "--out", tmp_path / "besu")
    assert set(folders) == {"EM", "AU", "RU"}
    assert (tmp_path / "besu" / "EM" / "key").exists()  # generating left the key alone

    # On anvil the genesis alloc does not apply: give EM's admin gas money the dev way.
    backend = RpcChain.connect(anvil.url)
    backend.request("anvil_setBalance", [offices[0]["admin_address"], hex(10**24)])
    deployment = run(
        "deploy", spec, "--deployer", "EM-admin", "--data-dir", tmp_path / "EM", "--rpc", anvil.url
    )
    registry = Governance(backend, Deployment.from_json(deployment))
    assert [office.code for office in registry.offices()] == ["EM", "AU", "RU"]
    # A second deployment would found a second consortium: refused.
    assert (
        besu.main(
            [
                "deploy",
                str(spec),
                "--deployer",
                "EM-admin",
                "--data-dir",
                str(tmp_path / "EM"),
                "--rpc",
                anvil.url,
            ]
        )
        == 2
    )
    capsys.readouterr()

    node_dir = tmp_path / "besu" / "EM"
    listed = run(
        "allowlists",
        spec,
        "--node-dir",
        node_dir,
        "--data-dir",
        tmp_path / "EM",
        "--rpc",
        anvil.url,
    )
    accounts = {a for o in offices for a in (o["admin_address"], *o["signer_addresses"])}
    assert set(listed["accounts"]) == accounts and listed["nodes_written"] == ["EM"]
    permissions = tomllib.loads((node_dir / "permissions_config.toml").read_text())
    assert permissions["nodes-allowlist"] == listed["nodes"]
    static = json.loads((node_dir / "static-nodes.json").read_text())
    assert set(static) == set(listed["nodes"][1:])  # every other node, each allowlisted

    # The network exists now: generating again would reset its permissions. Refused.
    assert besu.main(["generate", str(spec), "--out", str(tmp_path / "besu")]) == 2
    assert "already belongs to a network" in capsys.readouterr().err

    # A newcomer's folder: its allowlists come from the registry (MT is not admitted yet, so
    # it is not listed; it dials the founders, every one of them allowlisted).
    mt_node = run("node-key", tmp_path / "besu" / "MT")
    mt_keys = run("office-keys", "MT", "--data-dir", tmp_path / "MT")
    entry = {**mt_keys, "name": "Office MT", "host": "127.0.0.1", "p2p_port": 30310}
    entry |= {"rpc_port": 8560, "node_public_key": mt_node["node_public_key"], "founding": False}
    spec.write_text(json.dumps({"chain_id": anvil.chain_id, "offices": [*offices, entry]}))
    only = ["generate", spec, "--out", tmp_path / "besu", "--only", "MT"]
    assert besu.main([str(a) for a in only]) == 2  # without the chain: refused
    assert "--only needs --rpc" in capsys.readouterr().err
    only += ["--rpc", anvil.url, "--data-dir", tmp_path / "EM"]
    assert run(*only) == {"MT": str(tmp_path / "besu" / "MT")}
    mt_static = json.loads((tmp_path / "besu" / "MT" / "static-nodes.json").read_text())
    assert mt_static == listed["nodes"]
    assert besu.main([str(a) for a in only]) == 2  # and never twice
    capsys.readouterr()

    newcomer = new_key().address
    funded = run(
        "fund",
        newcomer,
        "--funder",
        "EM-admin",
        "--ether",
        5,
        "--data-dir",
        tmp_path / "EM",
        "--rpc",
        anvil.url,
    )
    assert funded == {"funded": [newcomer]} and backend.get_balance(newcomer) == 5 * 10**18
    backend.close()
