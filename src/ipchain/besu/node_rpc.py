"""Talking to a Besu node's JSON-RPC as its operator: JWT keys, tokens, and a small client.

Besu checks a bearer token on every method not listed as needing none: an RS256 JWT with an
``exp`` claim and a ``permissions`` claim (``qbft:*``, ``perm:reloadPermissionsFromFile``, …),
signed by the private key whose public half the node's config names. Each office creates its
own pair next to its node key (``ipchain besu node-key``) and never shares the private half.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ipchain.besu.files import JWT_PRIVATE_KEY_FILE, JWT_PUBLIC_KEY_FILE
from ipchain.errors import ChainUnavailableError, InvalidInputError, IpchainError

OPERATOR_PERMISSIONS = (
    "eth:*",
    "net:*",
    "web3:*",
    "qbft:*",
    "admin:peers",
    "admin:nodeInfo",
    "perm:getNodesAllowlist",
    "perm:getAccountsAllowlist",
    "perm:reloadPermissionsFromFile",
)
"""What the office's operator tools may call on its validator. Not PERM's add/remove methods:
the allowlists are only ever written from the registry, by file."""
AUDITOR_PERMISSIONS = ("eth:*", "net:*", "web3:*")
"""What an auditor's token allows (an auditor node serves nothing else anyway)."""


class NodeRpcError(IpchainError):
    """A Besu node answered a JSON-RPC call with an error."""

    code = "node-rpc-error"

    def __init__(self, message: str, *, rpc_code: int | None = None) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code


def generate_rpc_key(directory: Path) -> Path:
    """Create the node's JWT key pair (RSA 2048) unless it exists: ``rpc-jwt.key.pem`` (0600,
    the operator's) and ``rpc-jwt.pub.pem`` (Besu's). Returns the public key's path."""
    directory = Path(directory)
    private_path = directory / JWT_PRIVATE_KEY_FILE
    public_path = directory / JWT_PUBLIC_KEY_FILE
    if private_path.exists():
        key = load_rpc_key(private_path)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    if not public_path.exists():
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return public_path


def load_rpc_key(path: Path) -> rsa.RSAPrivateKey:
    """The node's JWT signing key."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError:
        raise InvalidInputError(
            f"{path} not found: the JWT key is made by 'ipchain besu node-key'"
        ) from None
    except (OSError, ValueError, TypeError):
        raise InvalidInputError(f"{path} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInputError(f"{path} is not an RSA key (Besu's JWT algorithm is RS256)")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(
    key_path: Path,
    permissions: Sequence[str] = OPERATOR_PERMISSIONS,
    lifetime_seconds: int = 600,
    now: int | None = None,
) -> str:
    """An RS256 JWT for Besu's JSON-RPC authentication, valid ``lifetime_seconds``."""
    if lifetime_seconds < 1:
        raise InvalidInputError("a token must live at least one second")
    key = load_rpc_key(key_path)
    issued = int(time.time()) if now is None else now
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"permissions": list(permissions), "iat": issued, "exp": issued + lifetime_seconds}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class NodeRpc:
    """JSON-RPC calls to one node, with a bearer token when given."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 15.0,
        ca_file: Path | None = None,
    ) -> None:
        self.url = url
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._verify: bool | str = str(ca_file) if ca_file else True
        self._timeout = timeout
        self._id = 0

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """The result of ``method``; :class:`NodeRpcError` for a JSON-RPC error,
        :class:`ChainUnavailableError` when nothing JSON-RPC answers."""
        self._id += 1
        payload: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": self._id,
            "method": method,
            "params": list(params),
        }
        try:
            reply = self._session.post(
                self.url, json=payload, timeout=self._timeout, verify=self._verify
            )
        except requests.RequestException as error:
            raise ChainUnavailableError(
                f"{self.url} does not answer ({type(error).__name__})"
            ) from None
        if reply.status_code == 401:
            raise NodeRpcError(
                f"{self.url} refused {method}: not authorised (its operator's JWT key is "
                "needed: --jwt-key)",
                rpc_code=401,
            )
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise ChainUnavailableError(
                f"{self.url} is not a JSON-RPC node (HTTP {reply.status_code} to {method})"
            )
        failure = body.get("error")
        if failure is not None:
            message = failure.get("message", failure) if isinstance(failure, dict) else failure
            code = failure.get("code") if isinstance(failure, dict) else None
            raise NodeRpcError(f"{self.url}: {method} failed: {message!s:.200}", rpc_code=code)
        return body["result"]

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()
