"""An ipchain node: one chain connection, the consortium's deployment, the office keys it holds.

``init_node`` sets a node up (idempotently); ``Node.open`` opens one that is set up.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_account import Account

from ipchain.chain.anvil import ANVIL_CHAIN_ID
from ipchain.chain.base import ChainBackend
from ipchain.config import DEMO_OFFICES, Settings
from ipchain.contracts.bindings import Deployment, FoundingOffice, deploy_consortium
from ipchain.errors import ChainMismatchError, IpchainError, KeystoreError
from ipchain.governance.dev_setup import set_up_dev_governance
from ipchain.keys import (
    FAST_KDF_ITERATIONS,
    STANDARD_KDF_ITERATIONS,
    Keystore,
    OfficeKey,
    admin_key_name,
    signer_key_name,
)
from ipchain.register.ledger import Ledger

FUNDING_WEI = 10**24
"""What each office account gets on a dev chain (a million ether: gas is never a concern)."""

DEPLOYER_KEY = "deployer"


def open_backend(settings: Settings) -> ChainBackend:
    """The chain the settings point at: a JSON-RPC node, or the embedded chain."""
    if settings.rpc_url:
        from ipchain.chain.rpc import RpcChain

        token = settings.rpc_token.get_secret_value() if settings.rpc_token else None
        return RpcChain.connect(settings.rpc_url, token=token)
    from ipchain.chain.embedded import EmbeddedChain

    return EmbeddedChain.open(settings.chain_dir)


def keystore_password(settings: Settings, *, create: bool = False) -> str:
    """The keystore password: from settings/env, else the node's dev password file."""
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    path = settings.password_file
    if path.exists():
        return path.read_text("utf-8").strip()
    if not create:
        raise KeystoreError(
            f"no keystore password: set IPCHAIN_KEYSTORE_PASSWORD (no {path} either)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    password = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password)
    return password


def fund(backend: ChainBackend, addresses: Sequence[str], wei: int = FUNDING_WEI) -> None:
    """Give accounts gas money on a dev chain: the embedded chain's faucet, or anvil's
    ``anvil_setBalance``. A production consortium funds accounts in its genesis
    (node_config/besu) instead, so elsewhere this does nothing."""
    from ipchain.chain.embedded import EMBEDDED_CHAIN_ID, FAUCET_ADDRESS, faucet_transfers
    from ipchain.chain.rpc import RpcChain

    faucet = getattr(backend, "fund", None)  # the embedded chain has a genesis faucet
    needy = {a: wei for a in addresses if backend.get_balance(a) < wei // 2}
    if not needy:
        return
    if faucet is not None:
        for address in needy:
            faucet(address, wei)
    elif isinstance(backend, RpcChain) and backend.chain_id == ANVIL_CHAIN_ID:
        for address in needy:
            backend.request("anvil_setBalance", [address, hex(wei)])
    elif isinstance(backend, RpcChain) and backend.chain_id == EMBEDDED_CHAIN_ID:
        # An embedded chain served by its own process (ipchain chain serve): the same
        # faucet, its transfers signed here and sent over JSON-RPC.
        max_fee = 2 * int(backend.request("eth_gasPrice", []), 16) + 1
        raws = faucet_transfers(backend.chain_id, backend.get_nonce(FAUCET_ADDRESS), max_fee, needy)
        backend.wait_for_receipts(backend.send_raw_transactions(raws))


def node_keystore(settings: Settings) -> Keystore:
    """The node's keystore, at the scrypt cost its settings ask for new keys."""
    cost = FAST_KDF_ITERATIONS if settings.keystore_fast_kdf else STANDARD_KDF_ITERATIONS
    return Keystore(settings.keystore_dir, kdf_iterations=cost)


@dataclass
class Node:
    """An open node."""

    settings: Settings
    """Where it lives."""
    backend: ChainBackend
    """Its chain connection."""
    deployment: Deployment
    """The consortium's contracts on that chain."""
    ledger: Ledger
    """RegisterLedger/OfficeRegistry bindings."""
    keystore: Keystore
    """The office keystores it holds."""
    _keys: dict[str, OfficeKey] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, settings: Settings, backend: ChainBackend | None = None) -> Node:
        """Open a node set up by :func:`init_node`."""
        if not settings.deployment_file.exists():
            raise IpchainError(f"{settings.data_dir} is not initialised: run 'ipchain init'")
        deployment = Deployment.from_json(json.loads(settings.deployment_file.read_text("utf-8")))
        backend = backend or open_backend(settings)
        try:
            deployment.check(backend)
        except ChainMismatchError:
            backend.close()
            raise
        return cls(
            settings=settings,
            backend=backend,
            deployment=deployment,
            ledger=Ledger(backend, deployment),
            keystore=node_keystore(settings),
        )

    def office_key(self, name: str) -> OfficeKey:
        """One of the node's keys (e.g. ``EM-signer``), decrypted once and kept in memory:
        scrypt makes each unlock cost about a second."""
        if name not in self._keys:
            self._keys[name] = self.keystore.load(name, keystore_password(self.settings))
        return self._keys[name]

    def close(self) -> None:
        """Close the chain connection."""
        self.backend.close()


def deployer_address(settings: Settings) -> str:
    """The address of the key that deploys (or deployed) this node's consortium, made now if
    the node has none yet: a chain node started before ``init`` lets it deploy (and nothing
    else) until the consortium is set up (``ipchain chain serve --deployer``)."""
    keystore = node_keystore(settings)
    if DEPLOYER_KEY not in set(keystore.names()):
        password = keystore_password(settings, create=True)
        keystore.create(DEPLOYER_KEY, password, Account.create().key)
    return keystore.address_of(DEPLOYER_KEY)


def init_node(
    settings: Settings,
    offices: Sequence[tuple[str, str]] = DEMO_OFFICES,
    *,
    backend: ChainBackend | None = None,
) -> Node:
    """Set up a node: data directory, office keys, funding, contracts. Idempotent: an existing
    set-up is checked and reused, never overwritten."""
    # Reach the chain first: an unreachable node or a foreign data directory must leave
    # nothing behind (no keys, no password file).
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backend = backend or open_backend(settings)
    try:
        password = keystore_password(settings, create=True)
        keystore = node_keystore(settings)
        names = [DEPLOYER_KEY]
        for code, _name in offices:
            names += [admin_key_name(code), signer_key_name(code)]
        existing = set(keystore.names())
        # Keys are made only for a consortium this node deploys itself; a node joining an
        # existing deployment (its deployment.json copied in) brings its own office's keys.
        if not settings.deployment_file.exists():
            for name in names:
                if name not in existing:
                    keystore.create(name, password, Account.create().key)
    except BaseException:
        backend.close()
        raise
    try:
        if settings.deployment_file.exists():
            node = Node.open(settings, backend)
            return node
        fund(backend, [keystore.address_of(name) for name in names])
        founders = [
            FoundingOffice(
                code=code,
                name=name,
                admin=keystore.address_of(admin_key_name(code)),
                signers=(keystore.address_of(signer_key_name(code)),),
            )
            for code, name in offices
        ]
        deployer = keystore.load(DEPLOYER_KEY, password)
        deployment = deploy_consortium(backend, deployer, founders)
        # This node holds every founding office's keys: a dev or demo set-up. It approves the
        # standard attestation schemas and binds the offices' demo certificates, before the
        # deployment is recorded, so that a set-up cut short is redone whole.
        keys = {name: keystore.load(name, password) for name in names if name != DEPLOYER_KEY}
        set_up_dev_governance(
            backend,
            deployment,
            settings.data_dir,
            password,
            {
                code: (name, keys[admin_key_name(code)], keys[signer_key_name(code)])
                for code, name in offices
            },
        )
        temporary = settings.deployment_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(deployment.to_json(), indent=2) + "\n", "utf-8")
        temporary.replace(settings.deployment_file)
        node = Node.open(settings, backend)
        node._keys.update(keys)  # unlocked once already (scrypt is slow on purpose)
        return node
    except BaseException:
        backend.close()
        raise
