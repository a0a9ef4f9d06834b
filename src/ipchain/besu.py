"""Configuration of a Hyperledger Besu QBFT network with one validator per office (DESIGN §6).

Across machines the consortium runs Besu instead of the embedded chain. This module writes
what each office's Besu node needs — ``genesis.json`` (QBFT, Prague rules, free gas, funded
office accounts), ``config.toml``, ``permissions_config.toml`` (local node and account
allowlists) and ``static-nodes.json`` — and regenerates the allowlists from OfficeRegistry when
membership changes: Besu deprecated on-chain permissioning in 24.12, so the allowlists are local
files that every node keeps identical. ``python -m ipchain.besu --help`` lists the steps;
node_config/besu/README.md and docs/deployment.md explain them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import coincurve
import rlp
from eth_keys.datatypes import PrivateKey, PublicKey
from eth_utils import ValidationError, is_address, to_checksum_address

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import DEFAULT_MAX_FEE_PER_GAS, Deployment
from ipchain.encoding import office_code_bytes2
from ipchain.errors import InvalidInputError, TransactionRejectedError
from ipchain.keys import OfficeKey

CONSORTIUM_CHAIN_ID = 27_182_818
"""Default chain id (e·10⁷): not mainnet, not 1337/31337 (dev chains), not the embedded chain's
31415926. A consortium checks chainlist.org before launch and may choose another."""
GENESIS_TIMESTAMP = 1_735_689_600
"""2025-01-01T00:00:00Z: fixed, so every office regenerates a byte-identical genesis."""
BLOCK_GAS_LIMIT = 1_000_000_000
"""Per block, like the embedded chain: a block holds thousands of register entries."""
ACCOUNT_BALANCE_WEI = 10**24
"""Genesis balance of each office account. Gas is free (base fee 0, tip 0) but a node still
checks ``balance >= gas × maxFeePerGas`` before accepting a transaction."""
QBFT_PARAMETERS = {"blockperiodseconds": 2, "epochlength": 30_000, "requesttimeoutseconds": 4}
"""Block time 2 s; round timeout twice the block time, as Besu's tuning guide starts from."""
ISTANBUL_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
"""The mixHash every QBFT genesis carries ("ctical byzantine fault tolerance")."""

# Prague needs these system contracts in state (EIP-4788, EIP-2935, EIP-7002, EIP-7251): a
# block whose request system call finds no code is invalid. On QBFT nothing deploys them, so
# the genesis does (the workaround Besu's maintainers give in besu-eth/besu#9409). Runtime code
# from the EIPs' deployment transactions; tests check 4788/2935 against py-evm and anvil.
SYSTEM_CONTRACTS = {
    "0x000f3df6d732807ef1319fb7b8bb8522d0beac02": "3373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff42064281555f359062001fff015500",  # noqa: E501
    "0x0000f90827f1c53a10cb7a02335b175320002935": "3373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f35600143038111604257611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500",  # noqa: E501
    "0x00000961ef480eb55e80d19ad83579a64c007002": "3373fffffffffffffffffffffffffffffffffffffffe1460cb5760115f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff146101f457600182026001905f5b5f82111560685781019083028483029004916001019190604d565b909390049250505036603814608857366101f457346101f4575f5260205ff35b34106101f457600154600101600155600354806003026004013381556001015f35815560010160203590553360601b5f5260385f601437604c5fa0600101600355005b6003546002548082038060101160df575060105b5f5b8181146101835782810160030260040181604c02815460601b8152601401816001015481526020019060020154807fffffffffffffffffffffffffffffffff00000000000000000000000000000000168252906010019060401c908160381c81600701538160301c81600601538160281c81600501538160201c81600401538160181c81600301538160101c81600201538160081c81600101535360010160e1565b910180921461019557906002556101a0565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff14156101cd57505f5b6001546002828201116101e25750505f6101e8565b01600290035b5f555f600155604c025ff35b5f5ffd",  # noqa: E501
    "0x0000bbddc7ce488642fb579f8b00f3a590007251": "3373fffffffffffffffffffffffffffffffffffffffe1460d35760115f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1461019a57600182026001905f5b5f82111560685781019083028483029004916001019190604d565b9093900492505050366060146088573661019a573461019a575f5260205ff35b341061019a57600154600101600155600354806004026004013381556001015f358155600101602035815560010160403590553360601b5f5260605f60143760745fa0600101600355005b6003546002548082038060021160e7575060025b5f5b8181146101295782810160040260040181607402815460601b815260140181600101548152602001816002015481526020019060030154905260010160e9565b910180921461013b5790600255610146565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff141561017357505f5b6001546001828201116101885750505f61018e565b01600190035b5f555f6001556074025ff35b5f5ffd",  # noqa: E501
}

_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
"""An IP address or DNS name; nothing that could break out of an enode URL or TOML string."""

# node_config/besu/config.template.toml is this text (a test keeps them equal).
CONFIG_TEMPLATE = """\
# Besu node of office ${office} (ipchain consortium). Generated by ipchain.besu: regenerate,
# do not edit. Start it from this folder: besu --config-file=config.toml
data-path="data"
genesis-file="genesis.json"
node-private-key-file="key"
# Archive state: auditors verify records against the registry as it was at past blocks.
data-storage-format="FOREST"
sync-mode="FULL"

${p2p_host}
p2p-port=${p2p_port}
discovery-enabled=false
static-nodes-file="static-nodes.json"
# Local permissioning (on-chain permissioning is deprecated since Besu 24.12).
permissions-nodes-config-file-enabled=true
permissions-nodes-config-file="permissions_config.toml"
permissions-accounts-config-file-enabled=true
permissions-accounts-config-file="permissions_config.toml"

# JSON-RPC for this office's ipchain node only: loopback, no browser origins.
rpc-http-enabled=true
rpc-http-host="127.0.0.1"
rpc-http-port=${rpc_port}
rpc-http-api=["ETH","NET","WEB3","QBFT","PERM"]
host-allowlist=["localhost","127.0.0.1"]
revert-reason-enabled=true

# Free gas: the genesis sets zeroBaseFee; every node must accept a zero gas price.
min-gas-price=0
target-gas-limit=${gas_limit}
"""


@dataclass(frozen=True)
class OfficeNodeSpec:
    """One office's Besu node and chain accounts, as the consortium agreed them."""

    code: str
    """WIPO ST.3 code, e.g. ``EM``; also the office's folder name."""
    host: str
    """Address other validators reach its P2P port at (IP address, or DNS name)."""
    p2p_port: int
    """Besu P2P (devp2p) port, e.g. 30303."""
    rpc_port: int
    """Besu JSON-RPC port on the office's own loopback, e.g. 8545."""
    admin_address: str
    """Admin account (governance votes)."""
    signer_addresses: tuple[str, ...]
    """Signer accounts (register events)."""
    node_public_key: str
    """The node key's public key: 128 hex digits (uncompressed, without the 04 prefix)."""
    name: str = ""
    """Office name, used when the consortium is deployed."""
    founding: bool = True
    """A founding office: a genesis validator with funded accounts. Offices admitted later
    (``false``) never change the genesis; they join by governance and validator votes."""

    @property
    def enode(self) -> str:
        """The node's enode URL."""
        return enode_url(self.node_public_key, self.host, self.p2p_port)

    @property
    def validator(self) -> str:
        """The QBFT validator address: the node key's address."""
        return validator_address(self.node_public_key)

    @property
    def accounts(self) -> tuple[str, ...]:
        """Admin and signer accounts, checksummed."""
        return tuple(to_checksum_address(a) for a in (self.admin_address, *self.signer_addresses))


@dataclass(frozen=True)
class Allowlists:
    """What ``permissions_config.toml`` lets in."""

    accounts: tuple[str, ...]
    """Accounts whose transactions nodes accept: admins and signers of Active offices."""
    nodes: tuple[str, ...]
    """Enode URLs of Active offices' nodes."""


# ------------------------------------------------------------------------------- node keys


def generate_node_key(directory: Path) -> str:
    """Create ``directory/key`` (mode 0600, Besu's hex format) unless it exists; return the
    public key. The key never leaves the office: only the public key is shared."""
    path = Path(directory) / "key"
    if path.exists():
        return public_key_of_key_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    private_key = PrivateKey(secrets.token_bytes(32))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("0x" + private_key.to_bytes().hex())
        handle.flush()
        os.fsync(handle.fileno())
    return private_key.public_key.to_bytes().hex()


def public_key_of_key_file(path: Path) -> str:
    """The public key of a Besu node key file."""
    text = Path(path).read_text("ascii").strip().removeprefix("0x")
    try:
        return PrivateKey(bytes.fromhex(text)).public_key.to_bytes().hex()
    except (ValueError, ValidationError):
        raise InvalidInputError(f"{path} is not a Besu node key file", field="key") from None


def _public_key_bytes(public_key: str) -> bytes:
    text = public_key.lower().removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
        coincurve.PublicKey(b"\x04" + raw)  # rejects points off the curve
    except ValueError:
        raw = b""
    if len(raw) != 64:
        raise InvalidInputError(
            "node public key must be 128 hex digits on secp256k1", field="node_public_key"
        )
    return raw


def validator_address(public_key: str) -> str:
    """The address a node signs QBFT blocks with (keccak of its public key)."""
    return PublicKey(_public_key_bytes(public_key)).to_checksum_address()


def enode_url(public_key: str, host: str, port: int) -> str:
    """``enode://<public key>@<host>:<port>`` (IPv6 addresses in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"enode://{_public_key_bytes(public_key).hex()}@{shown}:{port}"


# ------------------------------------------------------------------------------- genesis


def encode_qbft_extra_data(validators: Sequence[str]) -> bytes:
    """QBFT genesis ``extraData``: RLP([32-byte vanity, [validators], no vote, round 0, no
    seals]), as Besu's ``rlp encode --type=QBFT_EXTRA_DATA`` writes it."""
    addresses = [bytes.fromhex(to_checksum_address(v)[2:]) for v in validators]
    return bytes(rlp.encode([b"\0" * 32, addresses, [], 0, []]))


def decode_qbft_extra_data(extra_data: bytes) -> list[str]:
    """The validators in a genesis ``extraData`` (checksummed, in order)."""
    try:
        vanity, validators, vote, round_number, seals = rlp.decode(extra_data)
        shaped = len(vanity) == 32 and all(len(v) == 20 for v in validators)
    except (rlp.DecodingError, ValueError, TypeError):
        shaped = False
    if not shaped or vote != [] or round_number != b"" or seals != []:
        raise InvalidInputError("extraData is not a QBFT genesis", field="extraData")
    return [to_checksum_address(v) for v in validators]


def genesis_document(
    offices: Sequence[OfficeNodeSpec], chain_id: int = CONSORTIUM_CHAIN_ID
) -> dict[str, Any]:
    """The network's genesis: Prague from block 0 (the contracts' ``evmVersion``), QBFT with
    the founding offices' nodes as validators (ascending), free gas, their accounts funded.
    Offices that joined later are left out, so the genesis never changes."""
    _check_offices(offices)
    offices = [office for office in offices if office.founding]
    if not offices:
        raise InvalidInputError("a network needs at least one founding office", field="offices")
    validators = sorted((o.validator for o in offices), key=lambda a: int(a, 16))
    alloc: dict[str, dict[str, str]] = {
        address: {"balance": "0x0", "nonce": "0x1", "code": "0x" + code}
        for address, code in SYSTEM_CONTRACTS.items()
    }
    for office in offices:
        for account in office.accounts:
            alloc[account.lower()] = {"balance": hex(ACCOUNT_BALANCE_WEI)}
    blocks = ["homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople"]
    blocks += ["petersburg", "istanbul", "berlin", "london"]
    config: dict[str, Any] = {"chainId": chain_id, **{f"{b}Block": 0 for b in blocks}}
    config |= {"shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0, "zeroBaseFee": True}
    config["blobSchedule"] = {
        "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3_338_477},
        "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5_007_716},
    }
    config["qbft"] = dict(QBFT_PARAMETERS)
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(GENESIS_TIMESTAMP),
        "gasLimit": hex(BLOCK_GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": ISTANBUL_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "baseFeePerGas": "0x0",
        "extraData": "0x" + encode_qbft_extra_data(validators).hex(),
        "alloc": alloc,
    }


def _check_offices(offices: Sequence[OfficeNodeSpec]) -> None:
    if not offices:
        raise InvalidInputError("a network needs at least one office", field="offices")
    for office in offices:
        office_code_bytes2(office.code)
        for port in (office.p2p_port, office.rpc_port):
            if not 0 < port < 65536:
                raise InvalidInputError(f"{office.code}: port {port} is out of range", field="port")
        if _HOST.fullmatch(office.host) is None:
            raise InvalidInputError(f"{office.code}: bad host {office.host!r:.60}", field="host")
        for account in (office.admin_address, *office.signer_addresses):
            if not is_address(account):
                raise InvalidInputError(
                    f"{office.code}: bad account {account!r:.50}", field="account"
                )
        _public_key_bytes(office.node_public_key)
    for label, values in (
        ("office code", [o.code for o in offices]),
        ("node public key", [o.node_public_key.lower() for o in offices]),
        ("account", [a for o in offices for a in o.accounts]),
    ):
        if len(set(values)) != len(values):
            raise InvalidInputError(f"the same {label} appears twice", field="offices")


# ------------------------------------------------------------------------------- files


def render_config(office: OfficeNodeSpec) -> str:
    """The office's ``config.toml``."""
    try:
        ipaddress.ip_address(office.host)
        p2p_host = f'p2p-host="{office.host}"'
    except ValueError:  # peers name this node by DNS: an early-access Besu feature
        p2p_host = f"# Peers reach this node as {office.host} (a DNS name).\nXdns-enabled=true"
    return Template(CONFIG_TEMPLATE).substitute(
        office=office.code,
        p2p_host=p2p_host,
        p2p_port=office.p2p_port,
        rpc_port=office.rpc_port,
        gas_limit=BLOCK_GAS_LIMIT,
    )


def render_permissions(allowlists: Allowlists) -> str:
    """``permissions_config.toml`` in Besu's local-permissioning format."""

    def toml_list(values: Sequence[str]) -> str:
        return "[\n" + "".join(f"  {json.dumps(v)},\n" for v in values) + "]"

    accounts = [account.lower() for account in allowlists.accounts]  # as Besu's docs write them
    return (
        "# Generated by ipchain.besu from OfficeRegistry: regenerate, do not edit.\n"
        f"accounts-allowlist={toml_list(accounts)}\n\n"
        f"nodes-allowlist={toml_list(allowlists.nodes)}\n"
    )


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, "utf-8")
    temporary.replace(path)


def write_permissions(path: Path, allowlists: Allowlists) -> None:
    """Replace a node's ``permissions_config.toml`` atomically (then reload it in Besu with
    ``perm_reloadPermissionsFromFile``)."""
    _write(Path(path), render_permissions(allowlists))


def generate_network(
    offices: Sequence[OfficeNodeSpec], chain_id: int, out_dir: Path
) -> dict[str, Path]:
    """Write ``out_dir/{code}/`` for each office: genesis.json (the founders'; identical for
    all), config.toml, permissions_config.toml (every listed office, as at founding or right
    after a vote admitted the newcomers; afterwards ``allowlists_from_registry`` is the source)
    and static-nodes.json (the other offices). Regenerating replaces these files and nothing
    else: a ``key`` file or ``data/`` folder already there is left alone."""
    genesis = json.dumps(genesis_document(offices, chain_id), indent=2) + "\n"
    allowlists = Allowlists(
        accounts=tuple(sorted({a for o in offices for a in o.accounts})),
        nodes=tuple(o.enode for o in offices),
    )
    folders: dict[str, Path] = {}
    for office in offices:
        folder = Path(out_dir) / office.code
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "genesis.json", genesis)
        _write(folder / "config.toml", render_config(office))
        write_permissions(folder / "permissions_config.toml", allowlists)
        peers = [other.enode for other in offices if other.code != office.code]
        _write(folder / "static-nodes.json", json.dumps(peers, indent=2) + "\n")
        folders[office.code] = folder
    return folders


def load_network_spec(path: Path) -> tuple[int, list[OfficeNodeSpec]]:
    """Read a network spec (node_config/besu/network.example.json): chain id and offices."""
    data = json.loads(Path(path).read_text("utf-8"))
    try:
        offices = [
            OfficeNodeSpec(
                code=o["code"],
                name=o.get("name", ""),
                host=o["host"],
                p2p_port=int(o["p2p_port"]),
                rpc_port=int(o["rpc_port"]),
                admin_address=o["admin_address"],
                signer_addresses=tuple(o["signer_addresses"]),
                node_public_key=o["node_public_key"],
                founding=bool(o.get("founding", True)),
            )
            for o in data["offices"]
        ]
        chain_id = int(data.get("chain_id", CONSORTIUM_CHAIN_ID))
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(f"{path}: not a network spec ({error})", field="spec") from None
    _check_offices(offices)
    return chain_id, offices


# ------------------------------------------------------------------------------- the chain


def allowlists_from_registry(
    backend: ChainBackend, deployment: Deployment, offices: Sequence[OfficeNodeSpec] = ()
) -> Allowlists:
    """Allowlists as OfficeRegistry says now: the admin and signer accounts of Active offices,
    and the enodes of those ``offices`` (the network spec) that are Active. Suspended, removed
    and not-yet-admitted offices are left out."""
    from ipchain.governance.registry import Governance, OfficeStatus

    active = [
        o for o in Governance(backend, deployment).offices() if o.status is OfficeStatus.ACTIVE
    ]
    codes = {o.code for o in active}
    accounts = {to_checksum_address(a) for o in active for a in (o.admin, *o.signers)}
    nodes = tuple(spec.enode for spec in offices if spec.code in codes)
    return Allowlists(accounts=tuple(sorted(accounts)), nodes=nodes)


def fund_accounts(
    backend: ChainBackend, funder: OfficeKey, addresses: Sequence[str], wei: int
) -> list[str]:
    """Send ``wei`` from ``funder`` to each address holding less than half of it (an office
    admitted after genesis has no balance); return the addresses funded."""
    needy = [str(to_checksum_address(a)) for a in addresses if backend.get_balance(a) < wei // 2]
    nonce = backend.get_nonce(funder.address)
    raws = [
        funder.sign_transaction(
            {
                "type": 2,
                "chainId": backend.chain_id,
                "nonce": nonce + index,
                "to": address,
                "value": wei,
                "gas": 21_000,
                "maxFeePerGas": DEFAULT_MAX_FEE_PER_GAS,
                "maxPriorityFeePerGas": 0,
                "data": b"",
            }
        )
        for index, address in enumerate(needy)
    ]
    receipts = backend.wait_for_receipts(backend.send_raw_transactions(raws)) if raws else []
    if any(receipt.status != 1 for receipt in receipts):
        raise TransactionRejectedError("a funding transfer failed")
    return needy


# ------------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ipchain.besu``: the steps of docs/deployment.md (across machines)."""
    import argparse

    from ipchain.errors import IpchainError

    parser = argparse.ArgumentParser(prog="python -m ipchain.besu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    step = commands.add_parser("node-key", help="create a Besu node key (0600) in FOLDER")
    step.add_argument("folder", type=Path)
    step = commands.add_parser("office-keys", help="create an office's admin and signer keys")
    step.add_argument("office")
    step = commands.add_parser("generate", help="write every office's Besu folder")
    step.add_argument("spec", type=Path)
    step.add_argument("--out", type=Path, required=True)
    step = commands.add_parser("deploy", help="deploy the consortium's founding contracts")
    step.add_argument("spec", type=Path)
    step.add_argument("--deployer", required=True, help="key name, e.g. EM-admin")
    step = commands.add_parser("allowlists", help="permissions file from OfficeRegistry")
    step.add_argument("spec", type=Path)
    step.add_argument("--out", type=Path, required=True)
    step = commands.add_parser("fund", help="send gas money to new offices' accounts")
    step.add_argument("addresses", nargs="+")
    step.add_argument("--funder", required=True, help="key name, e.g. EM-admin")
    step.add_argument("--ether", type=int, default=1_000)
    for name in ("office-keys", "deploy", "allowlists", "fund"):
        commands.choices[name].add_argument("--data-dir", type=Path, help="ipchain data dir")
        commands.choices[name].add_argument("--rpc", help="JSON-RPC URL of the office's Besu")
    arguments = parser.parse_args(argv)
    try:
        print(json.dumps(_run(arguments), indent=2))
    except (IpchainError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _run(arguments: Any) -> Any:
    if arguments.command == "node-key":
        public_key = generate_node_key(arguments.folder)
        return {"node_public_key": public_key, "validator": validator_address(public_key)}
    if arguments.command == "generate":
        chain_id, offices = load_network_spec(arguments.spec)
        folders = generate_network(offices, chain_id, arguments.out)
        return {code: str(folder) for code, folder in folders.items()}
    from ipchain.config import Settings
    from ipchain.keys import admin_key_name, signer_key_name
    from ipchain.node.setup import keystore_password, node_keystore, open_backend

    overrides = {"data_dir": arguments.data_dir, "rpc_url": arguments.rpc}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    keystore = node_keystore(settings)
    if arguments.command == "office-keys":
        office_code_bytes2(arguments.office)
        password = keystore_password(settings, create=True)
        admin, signer = admin_key_name(arguments.office), signer_key_name(arguments.office)
        for name in (admin, signer):
            if name not in keystore.names():
                keystore.create(name, password)
        return {
            "code": arguments.office,
            "admin_address": keystore.address_of(admin),
            "signer_addresses": [keystore.address_of(signer)],
        }
    backend = open_backend(settings)
    try:
        if arguments.command == "deploy":
            return _deploy(settings, backend, arguments.spec, arguments.deployer)
        deployment = Deployment.from_json(json.loads(settings.deployment_file.read_text()))
        if arguments.command == "allowlists":
            _, offices = load_network_spec(arguments.spec)
            allowlists = allowlists_from_registry(backend, deployment, offices)
            write_permissions(arguments.out, allowlists)
            return {"accounts": allowlists.accounts, "nodes": allowlists.nodes}
        funder = keystore.load(arguments.funder, keystore_password(settings))
        return {
            "funded": fund_accounts(backend, funder, arguments.addresses, arguments.ether * 10**18)
        }
    finally:
        backend.close()


def _deploy(settings: Any, backend: ChainBackend, spec: Path, deployer_name: str) -> Any:
    from ipchain.contracts.bindings import FoundingOffice, deploy_consortium
    from ipchain.node.setup import keystore_password, node_keystore

    if settings.deployment_file.exists():
        raise InvalidInputError(f"{settings.deployment_file} exists: already deployed")
    chain_id, offices = load_network_spec(spec)
    if backend.chain_id != chain_id:
        raise InvalidInputError(f"the node runs chain id {backend.chain_id}, not {chain_id}")
    founders = [
        FoundingOffice(o.code, o.name or o.code, o.admin_address, o.signer_addresses)
        for o in offices
        if o.founding
    ]
    deployer = node_keystore(settings).load(deployer_name, keystore_password(settings))
    deployment = deploy_consortium(backend, deployer, founders)
    _write(settings.deployment_file, json.dumps(deployment.to_json(), indent=2) + "\n")
    return deployment.to_json()


if __name__ == "__main__":
    from ipchain.encoding import prefer_pysha3_for_libraries

    prefer_pysha3_for_libraries()
    raise SystemExit(main())
