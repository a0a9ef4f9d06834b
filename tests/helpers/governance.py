"""Helpers for governance and attestation tests: pass proposals, approve the standard schemas,
move chain time (anvil only), and anchor one register event."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import pytest

from ipchain.attestations import STANDARD_SCHEMAS, Attestations, approve_schemas
from ipchain.chain.base import ChainBackend, Receipt
from ipchain.contracts.bindings import send_and_confirm
from ipchain.contracts.office_registry import Governance
from ipchain.contracts.register_ledger import AnchoredEvent
from ipchain.encoding import ZERO_HASH, event_code_bytes8
from ipchain.errors import ContractRevertError
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import EventToAnchor, Ledger
from tests.helpers.consortium import Consortium, new_key


def governance(consortium: Consortium) -> Governance:
    return Governance(consortium.backend, consortium.deployment)


def attestations(consortium: Consortium) -> Attestations:
    return Attestations(consortium.backend, consortium.deployment)


def pass_proposal(gov: Governance, proposal_id: int, voters: Sequence[OfficeKey]) -> None:
    """Vote until the proposal executes; fail the test if it does not."""
    for voter in voters:
        if gov.vote(voter, proposal_id):
            return
    raise AssertionError(f"proposal {proposal_id} did not pass with {len(voters)} more votes")


def approve_standard_schemas(consortium: Consortium) -> None:
    gov = governance(consortium)
    assert len(approve_schemas(gov, list(consortium.admins.values()))) == len(STANDARD_SCHEMAS)
    assert all(gov.schema_definition(schema.uid) for schema in STANDARD_SCHEMAS)
    assert approve_schemas(gov, list(consortium.admins.values())) == []  # idempotent


def anchor_one(ledger: Ledger, key: OfficeKey, record_key: str, text: str) -> AnchoredEvent:
    digest = hashlib.sha256(text.encode()).digest()
    (entry,) = ledger.anchor(key, [EventToAnchor(record_key, "A10", digest)])
    return entry


def record_event_directly(ledger: Ledger, key: OfficeKey, record_key: str, text: str) -> Receipt:
    """Call ``recordEvents`` with one first entry, bypassing the Ledger's own checks, so the
    contract alone decides."""
    digest = hashlib.sha256(text.encode()).digest()
    entry = (record_key, event_code_bytes8("A10"), digest, ZERO_HASH, b"")
    return send_and_confirm(
        ledger.backend,
        key,
        to=ledger.ledger_address,
        data=ledger.ledger.encode_call("recordEvents", [entry]),
        gas=300_000,
        interfaces=[ledger.ledger, ledger.registry],
    )


def expect_revert(
    error: pytest.ExceptionInfo[ContractRevertError], name: str
) -> tuple[object, ...]:
    assert error.value.error_name == name, str(error.value)
    return error.value.error_args


def advance_time(backend: ChainBackend, seconds: int) -> None:
    """Move chain time forward and mine a block; skips the test on a chain without time control."""
    from ipchain.chain.rpc import RpcChain

    if not isinstance(backend, RpcChain):
        pytest.skip("the embedded chain has no time control (anvil has evm_increaseTime)")
    backend.request("evm_increaseTime", [seconds])
    backend.request("evm_mine", [])


def latest_timestamp(backend: ChainBackend) -> int:
    return backend.get_block(backend.block_number()).timestamp


ZERO_ADDRESS = "0x" + "00" * 20


def raw_propose(
    gov: Governance,
    key: OfficeKey,
    action: int,
    *,
    office: bytes = b"\0\0",
    account: str = ZERO_ADDRESS,
    name: str = "",
    value: int = 0,
    data_hash: bytes = ZERO_HASH,
) -> Receipt:
    """Send ``propose`` as given, past the binding's own checks, so the contract alone decides
    (unknown actions, surplus or missing arguments)."""
    return send_and_confirm(
        gov.backend,
        key,
        to=gov.registry_address,
        data=gov.registry.encode_call("propose", action, office, account, name, value, data_hash),
        gas=1_000_000,
        interfaces=[gov.registry],
    )


def funded_key(backend: ChainBackend) -> OfficeKey:
    """A fresh key with gas money."""
    key = new_key()
    fund(backend, [key.address])
    return key


def tick(backend: ChainBackend) -> None:
    """Let at least one second pass on the chain, so the next block's time is later than the
    latest block's (the embedded chain's blocks always are; anvil's may share a second)."""
    from ipchain.chain.rpc import RpcChain

    if isinstance(backend, RpcChain):
        backend.request("evm_increaseTime", [1])
        backend.request("evm_mine", [])


_parties = itertools.count(1)


def party_claim(office: str) -> dict[str, str]:
    """A fresh ``ipchain/party-identity/v1`` claim by ``office``."""
    return {
        "party_id": f"{office}:applicant:{next(_parties)}",
        "role": "applicant",
        "name": "Example Trading Ltd",
        "office_code": office,
    }
