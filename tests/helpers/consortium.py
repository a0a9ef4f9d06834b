"""A deployed consortium of three offices with their keys, and fresh keys."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account

from ipchain.chain.base import ChainBackend
from ipchain.contracts.bindings import Deployment, FoundingOffice, deploy_consortium
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import Ledger

OFFICES = ("EM", "AU", "RU")


def new_key() -> OfficeKey:
    """A fresh random key (tests need no keystore)."""
    return OfficeKey.from_private_key(bytes(Account.create().key))


@dataclass
class Consortium:
    """A deployed consortium of three offices with their keys."""

    backend: ChainBackend
    deployment: Deployment
    ledger: Ledger
    admins: dict[str, OfficeKey]
    signers: dict[str, OfficeKey]
    outsider: OfficeKey


def deploy_test_consortium(backend: ChainBackend, offices: tuple[str, ...] = OFFICES) -> Consortium:
    deployer = new_key()
    admins = {code: new_key() for code in offices}
    signers = {code: new_key() for code in offices}
    outsider = new_key()
    accounts = [deployer, outsider, *admins.values(), *signers.values()]
    fund(backend, [key.address for key in accounts])
    founders = [
        FoundingOffice(
            code=code,
            name=f"Office {code}",
            admin=admins[code].address,
            signers=(signers[code].address,),
        )
        for code in offices
    ]
    deployment = deploy_consortium(backend, deployer, founders, voting_period_seconds=3600)
    return Consortium(
        backend=backend,
        deployment=deployment,
        ledger=Ledger(backend, deployment),
        admins=admins,
        signers=signers,
        outsider=outsider,
    )
