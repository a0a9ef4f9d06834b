"""The network spec: which offices run which Besu nodes, and the keys that name those nodes.

A spec (node_config/besu/network.example.json) lists the chain id and, per office, its ST.3
code, name, accounts, and its nodes: the office's validator (``host``, ``p2p_port``,
``rpc_port``, ``node_public_key``) and any auditor nodes (non-validators for auditors and the
office's ipchain API). Everything here is checked before anything is written: a bad spec fails
with one :class:`~ipchain.errors.InvalidInputError` naming the office and the problem.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coincurve
from eth_keys.datatypes import PrivateKey, PublicKey
from eth_utils import ValidationError, is_address, to_checksum_address

from ipchain.encoding import office_code_bytes2
from ipchain.errors import InvalidInputError, UnknownOfficeError

CONSORTIUM_CHAIN_ID = 27_182_818
"""Default chain id (e·10⁷): not mainnet, not 1337/31337 (dev chains), not the embedded chain's
31415926. A consortium checks chainlist.org before launch and may choose another."""

_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
"""An IP address or DNS name; nothing that could break out of an enode URL or TOML string."""
_AUDITOR_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")

VALIDATOR = "validator"
AUDITOR = "auditor"


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


def _public_key_bytes(public_key: str, owner: str = "") -> bytes:
    text = public_key.lower().removeprefix("0x") if isinstance(public_key, str) else ""
    try:
        raw = bytes.fromhex(text)
        coincurve.PublicKey(b"\x04" + raw)  # rejects points off the curve
    except ValueError:
        raw = b""
    if len(raw) != 64:
        prefix = f"{owner}: " if owner else ""
        raise InvalidInputError(
            f"{prefix}node public key {public_key!r:.24} is not 128 hex digits of a secp256k1 "
            "point",
            field="node_public_key",
        )
    return raw


def validator_address(public_key: str) -> str:
    """The address a node signs QBFT blocks with (keccak of its public key)."""
    return PublicKey(_public_key_bytes(public_key)).to_checksum_address()


def is_ip_address(host: str) -> bool:
    """An IPv4/IPv6 literal, as opposed to a DNS name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def enode_url(public_key: str, host: str, port: int) -> str:
    """``enode://<public key>@<host>:<port>`` (IPv6 addresses in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"enode://{_public_key_bytes(public_key).hex()}@{shown}:{port}"


# ------------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class AuditorNodeSpec:
    """A non-validator node an office runs for auditors and for its ipchain API."""

    name: str
    """Short name, e.g. ``audit``; the node's folder is ``{office}-{name}``."""
    host: str
    """Address peers and clients reach it at (IP address, or DNS name)."""
    p2p_port: int
    """Besu P2P port."""
    rpc_port: int
    """JSON-RPC port (TLS, JWT): the one port auditors reach."""
    node_public_key: str
    """The node key's public key (128 hex digits)."""


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
    auditor_nodes: tuple[AuditorNodeSpec, ...] = ()
    """Non-validator nodes the office runs (auditors, its ipchain API)."""

    @property
    def enode(self) -> str:
        """The validator node's enode URL."""
        return enode_url(self.node_public_key, self.host, self.p2p_port)

    @property
    def validator(self) -> str:
        """The QBFT validator address: the node key's address."""
        return validator_address(self.node_public_key)

    @property
    def accounts(self) -> tuple[str, ...]:
        """Admin and signer accounts, checksummed."""
        return tuple(to_checksum_address(a) for a in (self.admin_address, *self.signer_addresses))

    @property
    def nodes(self) -> tuple[NodeSpec, ...]:
        """The validator, then the auditor nodes."""
        code = self.code
        first = (
            code,
            code,
            VALIDATOR,
            self.host,
            self.p2p_port,
            self.rpc_port,
            self.node_public_key,
        )
        auditors = [
            (code, f"{code}-{a.name}", AUDITOR, a.host, a.p2p_port, a.rpc_port, a.node_public_key)
            for a in self.auditor_nodes
        ]
        return tuple(NodeSpec(*fields) for fields in [first, *auditors])


@dataclass(frozen=True)
class NodeSpec:
    """One Besu node of the network: an office's validator or one of its auditor nodes."""

    office: str
    """ST.3 code of the office that runs it."""
    name: str
    """Its folder name: the office code (validator) or ``{code}-{name}`` (auditor node)."""
    role: str
    """``validator`` or ``auditor``."""
    host: str
    """P2P host (IP address or DNS name)."""
    p2p_port: int
    """P2P port."""
    rpc_port: int
    """JSON-RPC port."""
    node_public_key: str
    """Public key of its node key."""

    @property
    def enode(self) -> str:
        """Its enode URL."""
        return enode_url(self.node_public_key, self.host, self.p2p_port)

    @property
    def uses_dns(self) -> bool:
        """Whether peers reach it by DNS name."""
        return not is_ip_address(self.host)


def all_nodes(offices: Sequence[OfficeNodeSpec]) -> list[NodeSpec]:
    """Every node of every office, validators first within each office."""
    return [node for office in offices for node in office.nodes]


def check_offices(offices: Sequence[OfficeNodeSpec]) -> None:
    """Refuse a spec Besu could not run: one error naming the office and the problem."""
    if not offices:
        raise InvalidInputError("a network needs at least one office", field="offices")
    for office in offices:
        try:
            office_code_bytes2(office.code)
        except UnknownOfficeError as error:
            raise InvalidInputError(str(error), field="code") from None
        for account in (office.admin_address, *office.signer_addresses):
            if not isinstance(account, str) or not is_address(account):
                raise InvalidInputError(
                    f"{office.code}: bad account {account!r:.50}", field="account"
                )
        names = [auditor.name for auditor in office.auditor_nodes]
        for name in names:
            if not isinstance(name, str) or _AUDITOR_NAME.fullmatch(name) is None:
                raise InvalidInputError(
                    f"{office.code}: auditor node name {name!r:.30} is not 1-20 of a-z, 0-9, -",
                    field="auditor_nodes",
                )
        if len(set(names)) != len(names):
            raise InvalidInputError(f"{office.code}: two auditor nodes share a name")
    for node in all_nodes(offices):
        for port in (node.p2p_port, node.rpc_port):
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise InvalidInputError(f"{node.name}: port {port!r} is out of range", field="port")
        if not isinstance(node.host, str) or _HOST.fullmatch(node.host) is None:
            raise InvalidInputError(f"{node.name}: bad host {node.host!r:.60}", field="host")
        _public_key_bytes(node.node_public_key, node.name)
    _refuse_duplicates(offices)


def _refuse_duplicates(offices: Sequence[OfficeNodeSpec]) -> None:
    nodes = all_nodes(offices)
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        ("office code", [(o.code, o.code) for o in offices]),
        (
            "node public key",
            [(n.node_public_key.lower().removeprefix("0x"), n.name) for n in nodes],
        ),
        ("account", [(a.lower(), o.code) for o in offices for a in o.accounts]),
        # Besu matches peers to its allowlist by IP address and port: two nodes at one
        # host:port could not be told apart.
        ("host and P2P port", [(f"{n.host.lower()}:{n.p2p_port}", n.name) for n in nodes]),
        ("host and RPC port", [(f"{n.host.lower()}:{n.rpc_port}", n.name) for n in nodes]),
    ]
    for label, values in groups:
        seen: dict[str, str] = {}
        for value, owner in values:
            if value in seen:
                shown = value if label not in ("node public key", "account") else value[:12] + "…"
                raise InvalidInputError(
                    f"the same {label} {shown} appears twice ({seen[value]}, {owner})",
                    field="offices",
                )
            seen[value] = owner


def load_network_spec(path: Path) -> tuple[int, list[OfficeNodeSpec]]:
    """Read and check a network spec: chain id and offices."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path}: cannot read it ({type(error).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("offices"), list):
        raise InvalidInputError(f"{path}: not a network spec (no 'offices' list)", field="spec")
    chain_id = data.get("chain_id", CONSORTIUM_CHAIN_ID)
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 2**63:
        raise InvalidInputError(f"{path}: chain_id {chain_id!r:.30} is not a positive integer")
    offices = [_office(path, number, raw) for number, raw in enumerate(data["offices"], 1)]
    check_offices(offices)
    return chain_id, offices


def _office(path: Path, number: int, raw: Any) -> OfficeNodeSpec:
    where = f"{path}: office {number}"
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} is not an object", field="spec")
    where = f"{path}: office {raw.get('code', number)!s:.10}"
    try:
        signers = raw["signer_addresses"]
        auditors = raw.get("auditor_nodes", [])
        if not isinstance(signers, list) or not isinstance(auditors, list):
            raise TypeError("signer_addresses and auditor_nodes are lists")
        return OfficeNodeSpec(
            code=raw["code"],
            name=str(raw.get("name", "")),
            host=raw["host"],
            p2p_port=raw["p2p_port"],
            rpc_port=raw["rpc_port"],
            admin_address=raw["admin_address"],
            signer_addresses=tuple(signers),
            node_public_key=raw["node_public_key"],
            founding=bool(raw.get("founding", True)),
            auditor_nodes=tuple(
                AuditorNodeSpec(
                    name=a["name"],
                    host=a["host"],
                    p2p_port=a["p2p_port"],
                    rpc_port=a["rpc_port"],
                    node_public_key=a["node_public_key"],
                )
                for a in auditors
            ),
        )
    except KeyError as error:
        raise InvalidInputError(f"{where}: missing {error}", field="spec") from None
    except TypeError as error:
        raise InvalidInputError(f"{where}: {error}", field="spec") from None


def find_node(offices: Sequence[OfficeNodeSpec], name: str) -> NodeSpec:
    """The node called ``name`` (``EM`` or ``EM-audit``) in the spec."""
    for node in all_nodes(offices):
        if node.name == name:
            return node
    raise InvalidInputError(f"the network spec has no node {name!r:.30}", field="node")


def find_office(offices: Sequence[OfficeNodeSpec], code: str) -> OfficeNodeSpec:
    """The office with this ST.3 code in the spec."""
    for office in offices:
        if office.code == code:
            return office
    raise InvalidInputError(f"the network spec has no office {code!r:.10}", field="office")
