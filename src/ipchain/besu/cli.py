"""``ipchain besu …`` (also ``python -m ipchain.besu``): the steps of docs/deployment.md §3.

Bad input, an unreachable node, a Besu of another release: one line on stderr, exit code 2, and
nothing written. A rehearsal whose checks fail: its report, exit code 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ipchain.besu.allowlists import (
    allowlists_from_registry,
    fund_accounts,
    read_node_file,
    write_node_allowlists,
)
from ipchain.besu.files import JWT_PRIVATE_KEY_FILE, generate_network, refresh_config
from ipchain.besu.genesis import BESU_VERSION, genesis_document, genesis_validators
from ipchain.besu.network import (
    find_office,
    generate_node_key,
    load_network_spec,
    validator_address,
)
from ipchain.besu.node_rpc import (
    AUDITOR_PERMISSIONS,
    OPERATOR_PERMISSIONS,
    NodeRpc,
    generate_rpc_key,
    make_token,
)
from ipchain.encoding import office_code_bytes2
from ipchain.errors import InvalidInputError, IpchainError

_HELP = {
    "node-key": "create a Besu node key (0600) and the node's JWT key pair in FOLDER",
    "office-keys": "create an office's admin and signer keys",
    "generate": "write every founding node's folder (or --only newcomers')",
    "refresh-config": "rewrite a node's config.toml and start.sh (never its allowlists)",
    "deploy": "deploy the consortium's founding contracts",
    "allowlists": "rewrite node folders' allowlists and static nodes from the registry",
    "fund": "send gas money to new offices' accounts",
    "admit": "admit (or reinstate) an office: vote, allowlists, validator vote",
    "suspend": "suspend (or --remove) an office: vote, validator vote, allowlists",
    "token": "print a JWT for a node's JSON-RPC",
    "check-besu": "check that a Besu binary is the network's release",
    "rehearse": "check a freshly started network and list the drills to run by hand",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ipchain besu", description="Besu QBFT network across machines (docs/deployment.md)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    step = {name: commands.add_parser(name, help=text) for name, text in _HELP.items()}
    step["node-key"].add_argument("folder", type=Path)
    step["office-keys"].add_argument("office")
    step["fund"].add_argument("addresses", nargs="+")
    step["fund"].add_argument("--funder", required=True, help="key name, e.g. EM-admin")
    step["fund"].add_argument("--ether", type=int, default=1_000)
    step["deploy"].add_argument("--deployer", required=True, help="key name, e.g. EM-admin")
    for name in ("generate", "refresh-config", "deploy", "allowlists", "admit", "suspend"):
        step[name].add_argument("spec", type=Path, help="the network spec (network.json)")
    step["generate"].add_argument("--out", type=Path, required=True)
    step["generate"].add_argument("--only", action="append", default=[], metavar="CODE")
    for name in ("refresh-config", "allowlists", "admit", "suspend"):
        step[name].add_argument("--node-dir", type=Path, action="append", required=True)
    for name in ("admit", "suspend"):
        step[name].add_argument("--office", required=True, help="the office admitted/suspended")
        step[name].add_argument("--as", dest="acting", required=True, help="this office")
    step["suspend"].add_argument("--remove", action="store_true", help="remove, not suspend")
    step["allowlists"].add_argument("--reload", action="store_true", help="then reload them")
    for name in ("admit", "suspend", "allowlists", "token"):
        step[name].add_argument("--jwt-key", type=Path, action="append", default=[])
    step["token"].add_argument("--node-dir", type=Path)
    step["token"].add_argument("--auditor", action="store_true", help="ETH, NET, WEB3 only")
    step["token"].add_argument("--minutes", type=int, default=60 * 24 * 30)
    step["check-besu"].add_argument("--besu", default="besu", help="the binary to check")
    rehearse = step["rehearse"]
    rehearse.add_argument("--rpc", action="append", required=True, dest="urls", metavar="URL")
    rehearse.add_argument("--spec", type=Path, required=True)
    rehearse.add_argument("--genesis", type=Path, help="a node folder's genesis.json")
    rehearse.add_argument("--jwt-key", type=Path, action="append", default=[])
    rehearse.add_argument("--ca-file", type=Path, help="CA of auditor nodes' TLS certificates")
    rehearse.add_argument("--as", dest="acting", help="office whose signer anchors the batch")
    rehearse.add_argument("--data-dir", type=Path, help="that office's ipchain data dir")
    for name in ("office-keys", "deploy", "allowlists", "fund", "generate", "admit", "suspend"):
        step[name].add_argument("--data-dir", type=Path, help="ipchain data dir")
        step[name].add_argument("--rpc", help="JSON-RPC URL of the office's Besu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; the exit code."""
    arguments = _parser().parse_args(argv)
    try:
        result = _run(arguments)
    except (IpchainError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if isinstance(result, tuple):  # (lines, exit code)
        print("\n".join(result[0]))
        return int(result[1])
    print(json.dumps(result, indent=2) if not isinstance(result, str) else result)
    return 0


def _settings(arguments: Any, rpc_url: str | None = None) -> Any:
    from ipchain.config import Settings

    overrides = {"data_dir": arguments.data_dir, "rpc_url": arguments.rpc or rpc_url}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _run(arguments: Any) -> Any:
    command = arguments.command
    if command == "node-key":
        public_key = generate_node_key(arguments.folder)
        return {
            "node_public_key": public_key,
            "validator": validator_address(public_key),
            "rpc_jwt_public_key": str(generate_rpc_key(arguments.folder)),
        }
    if command == "check-besu":
        return check_besu(arguments.besu)
    if command == "token":
        return _token(arguments)
    if command == "refresh-config":
        chain_id, offices = load_network_spec(arguments.spec)
        return {str(d): refresh_config(offices, chain_id, d).name for d in arguments.node_dir}
    if command == "generate" and not arguments.only:
        chain_id, offices = load_network_spec(arguments.spec)
        folders = generate_network(offices, chain_id, arguments.out)
        return {name: str(folder) for name, folder in folders.items()}
    if command == "rehearse":
        return _rehearse(arguments)
    if command == "office-keys":
        return _office_keys(arguments)
    return _on_chain(arguments)


def check_besu(binary: str) -> str:
    """``besu --version`` of ``binary`` is the pinned release; InvalidInputError otherwise."""
    try:
        found = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=120, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        raise InvalidInputError(f"cannot run {binary} --version ({type(error).__name__})") from None
    first = found.splitlines()[0] if found else ""
    if not first.startswith(f"besu/v{BESU_VERSION}/"):
        said = f"says {first[:60]!r}" if first else "printed no version"
        raise InvalidInputError(
            f"{binary} --version {said}: this network runs Besu {BESU_VERSION} and nothing else"
        )
    return first


def _token(arguments: Any) -> str:
    keys = arguments.jwt_key or (
        [arguments.node_dir / JWT_PRIVATE_KEY_FILE] if arguments.node_dir else []
    )
    if len(keys) != 1:
        raise InvalidInputError("give the node's JWT key: --node-dir FOLDER or --jwt-key PEM")
    if arguments.minutes < 1:
        raise InvalidInputError("--minutes must be at least 1")
    permissions = AUDITOR_PERMISSIONS if arguments.auditor else OPERATOR_PERMISSIONS
    return make_token(keys[0], permissions, arguments.minutes * 60)


def _office_keys(arguments: Any) -> Any:
    from ipchain.keys import admin_key_name, signer_key_name
    from ipchain.node.setup import keystore_password, node_keystore

    settings = _settings(arguments)
    keystore = node_keystore(settings)
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


def _node_rpc_url(arguments: Any) -> str | None:
    folders = getattr(arguments, "node_dir", None) or []
    return str(read_node_file(folders[0])["rpc_url"]) if folders else None


def _on_chain(arguments: Any) -> Any:
    from ipchain.contracts.bindings import Deployment
    from ipchain.node.setup import keystore_password, node_keystore, open_backend

    command = arguments.command
    spec = getattr(arguments, "spec", None)
    chain_id, offices = load_network_spec(spec) if spec is not None else (0, [])
    settings = _settings(arguments, _node_rpc_url(arguments))
    if command == "generate" and not settings.rpc_url:
        raise InvalidInputError(
            "--only needs --rpc: a newcomer's allowlists come from the registry"
        )
    backend = open_backend(settings)
    try:
        if command == "deploy":
            return _deploy(settings, backend, arguments.spec, arguments.deployer)
        if not settings.deployment_file.exists():
            raise InvalidInputError(f"no {settings.deployment_file}: copy the deployment in first")
        deployment = Deployment.from_json(json.loads(settings.deployment_file.read_text()))
        keystore = node_keystore(settings)
        if command == "fund":
            funder = keystore.load(arguments.funder, keystore_password(settings))
            wei = arguments.ether * 10**18
            return {"funded": fund_accounts(backend, funder, arguments.addresses, wei)}
        allowlists = allowlists_from_registry(backend, deployment, offices)
        if command == "generate":
            folders = generate_network(
                offices, chain_id, arguments.out, only=arguments.only, allowlists=allowlists
            )
            return {name: str(folder) for name, folder in folders.items()}
        if command == "allowlists":
            nodes = write_node_allowlists(arguments.node_dir, allowlists, offices)
            if arguments.reload:
                for folder in arguments.node_dir:
                    _operator_rpc(folder, arguments.jwt_key).call("perm_reloadPermissionsFromFile")
            return {
                "nodes_written": [node.name for node in nodes],
                "reloaded": bool(arguments.reload),
                "accounts": allowlists.accounts,
                "nodes": allowlists.nodes,
            }
        return _membership(arguments, offices, settings, backend, deployment)
    finally:
        backend.close()


def _operator_rpc(folder: Path, jwt_keys: Sequence[Path]) -> NodeRpc:
    key = jwt_keys[0] if jwt_keys else Path(folder) / JWT_PRIVATE_KEY_FILE
    return NodeRpc(str(read_node_file(folder)["rpc_url"]), make_token(key))


def _membership(
    arguments: Any, offices: Any, settings: Any, backend: Any, deployment: Any
) -> tuple[list[str], int]:
    from ipchain.besu.membership import Membership, admit, suspend
    from ipchain.keys import admin_key_name
    from ipchain.node.setup import keystore_password, node_keystore

    find_office(offices, arguments.acting)
    (node_dir,) = arguments.node_dir
    if read_node_file(node_dir).get("role") != "validator":
        raise InvalidInputError(f"{node_dir} is not a validator's folder")
    keystore = node_keystore(settings)
    membership = Membership(
        offices=offices,
        spec_path=arguments.spec,
        acting=arguments.acting,
        backend=backend,
        deployment=deployment,
        admin_key=lambda: keystore.load(
            admin_key_name(arguments.acting), keystore_password(settings)
        ),
        node_dir=node_dir,
        node=_operator_rpc(node_dir, arguments.jwt_key),
    )
    if arguments.command == "admit":
        return admit(membership, arguments.office), 0
    return suspend(membership, arguments.office, remove=arguments.remove), 0


def _deploy(settings: Any, backend: Any, spec: Path, deployer_name: str) -> Any:
    from ipchain.besu.allowlists import write_files_together
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
    text = json.dumps(deployment.to_json(), indent=2) + "\n"
    write_files_together({settings.deployment_file: text})
    return deployment.to_json()


def _rehearse(arguments: Any) -> tuple[list[str], int]:
    from ipchain.besu import rehearse as r

    chain_id, offices = load_network_spec(arguments.spec)
    keys = arguments.jwt_key
    if len(keys) not in (0, 1, len(arguments.urls)):
        raise InvalidInputError("give one --jwt-key for every --rpc, or one for all")
    tokens = [
        make_token(keys[min(i, len(keys) - 1)]) if keys else None
        for i in range(len(arguments.urls))
    ]
    nodes = [
        NodeRpc(url, token, ca_file=arguments.ca_file)
        for url, token in zip(arguments.urls, tokens, strict=True)
    ]
    genesis = json.loads(arguments.genesis.read_text("utf-8")) if arguments.genesis else None
    if genesis is not None and genesis != genesis_document(offices, chain_id):
        raise InvalidInputError(f"{arguments.genesis} is not the genesis of {arguments.spec}")
    r.identify(nodes)
    checks = [r.check_chain_id(nodes, chain_id), r.check_genesis(nodes, genesis)]
    checks += [r.check_head(nodes), r.check_peers(nodes, sum(len(o.nodes) for o in offices))]
    checks += [r.check_allowlists(nodes), r.check_validators(nodes, genesis_validators(offices))]
    checks += [r.check_block_period(nodes[0]), r.check_zero_base_fee(nodes)]
    if arguments.acting:
        settings = _settings(argparse.Namespace(data_dir=arguments.data_dir, rpc=arguments.urls[0]))
        checks += r.round_trip_checks(
            nodes[0], lambda: r.anchor_one_batch(settings, arguments.acting)
        )
    checks.append(r.check_refuses_outsiders(nodes[0], chain_id))
    lines = [check.line() for check in checks]
    if not arguments.acting:
        lines.append("SKIPPED    init + anchored batch: give --as CODE and --data-dir")
    lines += ["", "Drills a script cannot run (do each, then rehearse again):"]
    lines += [f"  [ ] {drill}" for drill in r.DRILLS]
    return lines, 0 if all(check.ok for check in checks) else 1
