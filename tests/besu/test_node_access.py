"""Who may call a node's JSON-RPC: the JWT key pair and tokens Besu checks (RS256, ``exp``,
``permissions``), and the folder changes that must precede a DNS-named newcomer."""

from __future__ import annotations

import base64
import json
import stat
import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ipchain import besu
from ipchain.besu import Allowlists, OfficeNodeSpec, generate_network, generate_node_key
from ipchain.besu.node_rpc import (
    AUDITOR_PERMISSIONS,
    OPERATOR_PERMISSIONS,
    generate_rpc_key,
    make_token,
)
from ipchain.errors import InvalidInputError
from tests.helpers.consortium import new_key


def _decode(part: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_jwt_key_pair_is_private_and_kept(tmp_path: Path) -> None:
    public_path = generate_rpc_key(tmp_path)
    private_path = tmp_path / "rpc-jwt.key.pem"
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")  # Besu's PEM reader
    before = private_path.read_bytes()
    assert generate_rpc_key(tmp_path) == public_path and private_path.read_bytes() == before


def test_token_is_an_rs256_jwt_besu_can_check(tmp_path: Path) -> None:
    generate_rpc_key(tmp_path)
    token = make_token(tmp_path / "rpc-jwt.key.pem", OPERATOR_PERMISSIONS, 600, now=1_000)
    header, claims, signature = token.split(".")
    assert _decode(header) == {"alg": "RS256", "typ": "JWT"}
    assert _decode(claims) == {
        "permissions": list(OPERATOR_PERMISSIONS),
        "iat": 1_000,
        "exp": 1_600,
    }
    public = serialization.load_pem_public_key((tmp_path / "rpc-jwt.pub.pem").read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public.verify(raw, f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())


def test_tokens_grant_no_allowlist_writes() -> None:
    # The allowlists are only ever written from the registry, by file: PERM's add/remove
    # methods stay out of every token, and auditors get ETH, NET and WEB3 only.
    assert not [p for p in OPERATOR_PERMISSIONS if p in ("*:*", "perm:*")]
    assert "perm:reloadPermissionsFromFile" in OPERATOR_PERMISSIONS
    assert "qbft:*" in OPERATOR_PERMISSIONS
    assert set(AUDITOR_PERMISSIONS) == {"eth:*", "net:*", "web3:*"}


def test_token_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_rpc_key(tmp_path)
    assert besu.main(["token", "--node-dir", str(tmp_path), "--auditor", "--minutes", "5"]) == 0
    claims = _decode(capsys.readouterr().out.strip().split(".")[1])
    assert claims["permissions"] == list(AUDITOR_PERMISSIONS)
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["exp"] - claims["iat"] == 300
    assert besu.main(["token", "--node-dir", str(tmp_path / "nowhere")]) == 2
    assert "the JWT key is made by 'ipchain besu node-key'" in capsys.readouterr().err


def test_node_key_command_makes_both_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert besu.main(["node-key", str(tmp_path / "EM")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"node_public_key", "validator", "rpc_jwt_public_key"}
    assert (tmp_path / "EM" / "key").exists() and (tmp_path / "EM" / "rpc-jwt.key.pem").exists()
    assert "PRIVATE" not in json.dumps(printed)  # only public values are printed


def spec(code: str, port: int, host: str, folder: Path, founding: bool = True) -> OfficeNodeSpec:
    return OfficeNodeSpec(
        code=code,
        host=host,
        p2p_port=30303 + port,
        rpc_port=8545 + port,
        admin_address=new_key().address,
        signer_addresses=(new_key().address,),
        node_public_key=generate_node_key(folder / "keys" / code),
        founding=founding,
    )


def test_a_dns_named_newcomer_needs_refreshed_configs_first(tmp_path: Path) -> None:
    founders = [spec("EM", 0, "10.0.0.1", tmp_path), spec("AU", 1, "10.0.0.2", tmp_path)]
    folders = generate_network(founders, 1234, tmp_path / "net")
    newcomer = spec("MT", 2, "besu.mt.example", tmp_path, founding=False)
    offices = [*founders, newcomer]
    admitted = Allowlists(
        accounts=tuple(a for o in offices for a in o.accounts),
        nodes=tuple(o.enode for o in offices),
    )
    before = {p: p.read_bytes() for folder in folders.values() for p in folder.iterdir()}
    # EM's node would refuse the DNS enode at its next start: refused, nothing written.
    with pytest.raises(InvalidInputError, match="refresh-config"):
        besu.write_node_allowlists(list(folders.values()), admitted, offices)
    assert {p: p.read_bytes() for p in before} == before
    # refresh-config turns DNS on and leaves the allowlists and genesis alone.
    for folder in folders.values():
        besu.refresh_config(offices, 1234, folder)
        config = tomllib.loads((folder / "config.toml").read_text())
        assert config["Xdns-enabled"] is True
        assert (folder / "permissions_config.toml").read_bytes() == before[
            folder / "permissions_config.toml"
        ]
    besu.write_node_allowlists(list(folders.values()), admitted, offices)
    static = json.loads((folders["EM"] / "static-nodes.json").read_text())
    assert newcomer.enode in static


def test_refresh_config_refuses_another_networks_spec(tmp_path: Path) -> None:
    founders = [spec("EM", 0, "10.0.0.1", tmp_path), spec("AU", 1, "10.0.0.2", tmp_path)]
    folders = generate_network(founders, 1234, tmp_path / "net")
    with pytest.raises(InvalidInputError, match="genesis is not the one the node runs"):
        besu.refresh_config(founders, 4321, folders["EM"])
