"""OfficeRegistry's checked constructor and its refusals of malformed proposals (issue 14), at
contract level on both backends: every refusal is the exact custom error, sent past the
Python binding's own checks so that the contract alone decides."""

from __future__ import annotations

from typing import Any

import pytest

from ipchain.chain.base import ChainBackend
from ipchain.chain.rpc import RpcChain
from ipchain.contracts.bindings import (
    Deployment,
    FoundingOffice,
    deploy_consortium,
    load_interface,
    revert_error,
    send_and_confirm,
)
from ipchain.contracts.office_registry import (
    MAX_VOTING_PERIOD,
    MIN_VOTING_PERIOD,
    Governance,
    ProposalAction,
)
from ipchain.encoding import ZERO_HASH, keccak
from ipchain.errors import ContractRevertError
from ipchain.keys import OfficeKey
from tests.helpers.consortium import Consortium
from tests.helpers.governance import ZERO_ADDRESS, expect_revert, funded_key, raw_propose

DAY = 24 * 3600


def founder(code: str, admin: str, signers: tuple[str, ...] = (), name: str = "An office") -> Any:
    return (code.encode("ascii"), name, admin, list(signers), ZERO_HASH)


def deploy_registry(
    backend: ChainBackend,
    deployer: OfficeKey,
    founders: list[Any],
    threshold_bps: int = 5000,
    voting_period: int = 7 * DAY,
) -> Governance:
    """An OfficeRegistry alone (no AttestationRegistry bound), as given. A refused deployment
    raises the constructor's custom error (on a JSON-RPC node, read from a preflight call: the
    receipt of a failed creation carries no revert data there)."""
    interface = load_interface("OfficeRegistry")
    data = interface.encode_deploy(founders, threshold_bps, voting_period)
    if isinstance(backend, RpcChain):
        creation = {"from": deployer.address, "data": "0x" + data.hex(), "gas": hex(8_000_000)}
        try:
            backend.request("eth_call", [creation, "latest"])
        except ContractRevertError as error:
            raw = error.error_args[0] if error.error_args else None
            raise revert_error(raw if isinstance(raw, bytes) else None, [interface]) from None
    receipt = send_and_confirm(
        backend, deployer, to=None, data=data, gas=8_000_000, interfaces=[interface]
    )
    assert receipt.contract_address is not None
    deployment = Deployment(
        chain_id=backend.chain_id,
        addresses={"OfficeRegistry": receipt.contract_address},
        block_number=receipt.block_number,
    )
    return Governance(backend, deployment)


@pytest.fixture
def keys(module_backend: ChainBackend) -> tuple[OfficeKey, OfficeKey, OfficeKey]:
    """A deployer, an admin and a signer, funded."""
    return funded_key(module_backend), funded_key(module_backend), funded_key(module_backend)


@pytest.mark.parametrize(
    ("period", "accepted"),
    [
        (0, False),
        (MIN_VOTING_PERIOD - 1, False),
        (MIN_VOTING_PERIOD, True),
        (MAX_VOTING_PERIOD, True),
        (MAX_VOTING_PERIOD + 1, False),
        (2**64 - 1, False),  # used to overflow block.timestamp + period in propose
    ],
)
def test_voting_period_is_bounded(
    module_backend: ChainBackend, keys: tuple[OfficeKey, ...], period: int, accepted: bool
) -> None:
    deployer, admin, signer = keys
    founders = [founder("EM", admin.address, (signer.address,))]
    if accepted:
        gov = deploy_registry(module_backend, deployer, founders, voting_period=period)
        assert gov.voting_period() == period
        return
    with pytest.raises(ContractRevertError) as error:
        deploy_registry(module_backend, deployer, founders, voting_period=period)
    assert expect_revert(error, "OfficeRegistryInvalidVotingPeriod") == (period,)


def test_founders_need_a_name_an_admin_and_non_zero_signers(
    module_backend: ChainBackend, keys: tuple[OfficeKey, ...]
) -> None:
    deployer, admin, signer = keys
    cases = [
        (
            [founder("EM", ZERO_ADDRESS, (signer.address,))],
            "OfficeRegistryInvalidFounder",
            (b"EM",),
        ),
        ([founder("EM", admin.address, (ZERO_ADDRESS,))], "OfficeRegistryInvalidFounder", (b"EM",)),
        ([founder("EM", admin.address, name="")], "OfficeRegistryInvalidFounder", (b"EM",)),
        ([founder("em", admin.address)], "OfficeRegistryInvalidCode", (b"em",)),
        (
            [founder("EM", admin.address), founder("AU", admin.address)],
            "OfficeRegistryAccountInUse",
            (admin.address,),
        ),
        (
            [founder("EM", admin.address), founder("EM", signer.address)],
            "OfficeRegistryOfficeExists",
            (b"EM",),
        ),
        ([], "OfficeRegistryNoFounders", ()),
    ]
    for founders, name, args in cases:
        with pytest.raises(ContractRevertError) as error:
            deploy_registry(module_backend, deployer, founders)
        assert expect_revert(error, name) == args, name


@pytest.mark.parametrize("bps", [0, 10_000])
def test_threshold_is_checked_at_deployment(
    module_backend: ChainBackend, keys: tuple[OfficeKey, ...], bps: int
) -> None:
    deployer, admin, _ = keys
    with pytest.raises(ContractRevertError) as error:
        deploy_registry(module_backend, deployer, [founder("EM", admin.address)], bps)
    assert expect_revert(error, "OfficeRegistryInvalidThreshold") == (bps,)


@pytest.mark.parametrize("action", [12, 200, 255])
def test_unknown_actions_are_refused_by_name(shared: Consortium, action: int) -> None:
    gov = Governance(shared.backend, shared.deployment)
    with pytest.raises(ContractRevertError) as error:
        raw_propose(gov, shared.admins["EM"], action)
    assert expect_revert(error, "OfficeRegistryUnknownAction") == (action,)


A = ProposalAction


@pytest.mark.parametrize(
    ("action", "arguments", "error"),
    [
        # An argument the action does not take.
        (
            A.SUSPEND_OFFICE,
            {"office": b"RU", "account": "signer:AU"},
            "OfficeRegistryInvalidProposal",
        ),
        (A.CHANGE_THRESHOLD, {"office": b"RU", "value": 6000}, "OfficeRegistryInvalidProposal"),
        (A.APPROVE_SCHEMA, {"name": "{}", "value": 1}, "OfficeRegistryInvalidProposal"),
        (
            A.ADD_SIGNER,
            {"office": b"RU", "account": "fresh", "name": "x"},
            "OfficeRegistryInvalidProposal",
        ),
        (
            A.REPLACE_ADMIN,
            {"office": b"RU", "account": "fresh", "data_hash": b"\1" * 32},
            "OfficeRegistryInvalidProposal",
        ),
        (
            A.REVOKE_ATTESTATIONS_ISSUED_SINCE,
            {"office": b"RU", "name": "x"},
            "OfficeRegistryInvalidProposal",
        ),
        # An argument the action needs, missing.
        (A.ADMIT_OFFICE, {"office": b"XA", "account": "fresh"}, "OfficeRegistryInvalidProposal"),
        (A.ADMIT_OFFICE, {"office": b"XA", "name": "X"}, "OfficeRegistryInvalidProposal"),
        (A.ADD_SIGNER, {"office": b"RU"}, "OfficeRegistryInvalidProposal"),
        (
            A.READMIT_OFFICE,
            {"office": b"XA", "account": "fresh", "name": "X"},
            "OfficeRegistryUnknownOffice",
        ),
        (A.APPROVE_SCHEMA, {}, "OfficeRegistryInvalidProposal"),
        (A.CHANGE_THRESHOLD, {}, "OfficeRegistryInvalidThreshold"),
        (A.SUSPEND_OFFICE, {}, "OfficeRegistryUnknownOffice"),
        (A.REVOKE_SIGNER, {"office": b"RU"}, "OfficeRegistryUnknownSigner"),
        # Arguments that do not fit the consortium's state.
        (
            A.ADMIT_OFFICE,
            {"office": b"X1", "account": "fresh", "name": "X"},
            "OfficeRegistryInvalidCode",
        ),
        (
            A.ADMIT_OFFICE,
            {"office": b"RU", "account": "fresh", "name": "X"},
            "OfficeRegistryOfficeExists",
        ),
        (A.REINSTATE_OFFICE, {"office": b"RU"}, "OfficeRegistryInvalidStatus"),
        (
            A.READMIT_OFFICE,
            {"office": b"RU", "account": "fresh", "name": "X"},
            "OfficeRegistryInvalidStatus",
        ),
        (A.REVOKE_SIGNER, {"office": b"RU", "account": "signer:AU"}, "OfficeRegistryUnknownSigner"),
        (A.ADD_SIGNER, {"office": b"RU", "account": "signer:AU"}, "OfficeRegistryAccountInUse"),
        (A.REPLACE_ADMIN, {"office": b"RU", "account": "admin:EM"}, "OfficeRegistryAccountInUse"),
        (A.CHANGE_THRESHOLD, {"value": 10_000}, "OfficeRegistryInvalidThreshold"),
    ],
)
def test_malformed_proposals_are_refused_with_the_exact_error(
    shared: Consortium, action: ProposalAction, arguments: dict[str, Any], error: str
) -> None:
    gov = Governance(shared.backend, shared.deployment)
    account = arguments.get("account")
    if account == "fresh":
        arguments = {**arguments, "account": funded_key(shared.backend).address}
    elif isinstance(account, str) and ":" in account:
        role, office = account.split(":")
        keys = shared.signers if role == "signer" else shared.admins
        arguments = {**arguments, "account": keys[office].address}
    count = gov.proposal_count()
    with pytest.raises(ContractRevertError) as refused:
        raw_propose(gov, shared.admins["EM"], int(action), **arguments)
    assert refused.value.error_name == error, str(refused.value)
    assert gov.proposal_count() == count


def test_an_approved_schema_is_not_approved_twice(consortium: Consortium) -> None:
    gov = Governance(consortium.backend, consortium.deployment)
    definition = '{"twice":true}'
    first = gov.propose_approve_schema(consortium.admins["EM"], definition)
    second = gov.propose_approve_schema(consortium.admins["EM"], definition)
    assert gov.vote(consortium.admins["AU"], first)
    with pytest.raises(ContractRevertError) as error:
        gov.vote(consortium.admins["AU"], second)  # the passing vote finds it approved
    uid = keccak(definition.encode("utf-8"))
    assert expect_revert(error, "OfficeRegistrySchemaAlreadyApproved") == (uid,)
    with pytest.raises(ContractRevertError) as error:
        gov.propose_approve_schema(consortium.admins["EM"], definition)
    assert expect_revert(error, "OfficeRegistrySchemaAlreadyApproved") == (uid,)


def test_the_attestation_registry_is_bound_once_and_only_by_the_deployer(
    module_backend: ChainBackend, keys: tuple[OfficeKey, ...]
) -> None:
    deployer, admin, signer = keys
    founders = [FoundingOffice("EM", "EUIPO", admin.address, (signer.address,))]
    deployment = deploy_consortium(module_backend, deployer, founders)
    bound = Governance(module_backend, deployment)
    assert bound.attestation_registry() == deployment.address("AttestationRegistry")
    lone_admin = funded_key(module_backend)
    lone = deploy_registry(module_backend, deployer, [founder("EM", lone_admin.address)])
    assert lone.attestation_registry() is None

    def bind(gov: Governance, key: OfficeKey, target: str) -> None:
        send_and_confirm(
            module_backend,
            key,
            to=gov.registry_address,
            data=gov.registry.encode_call("bindAttestationRegistry", target),
            gas=200_000,
            interfaces=[gov.registry],
        )

    attestations = deployment.address("AttestationRegistry")
    cases = [
        (bound, deployer, attestations, "OfficeRegistryAttestationRegistryBound", (attestations,)),
        (lone, admin, attestations, "OfficeRegistryNotDeployer", (admin.address,)),
        # An AttestationRegistry that trusts another OfficeRegistry, and an account with no code.
        (lone, deployer, attestations, "OfficeRegistryForeignAttestationRegistry", (attestations,)),
        (
            lone,
            deployer,
            admin.address,
            "OfficeRegistryForeignAttestationRegistry",
            (admin.address,),
        ),
    ]
    for gov, key, target, name, args in cases:
        with pytest.raises(ContractRevertError) as error:
            bind(gov, key, target)
        assert expect_revert(error, name) == args
    assert lone.attestation_registry() is None
    # Unbound, the consortium cannot vote revocations: refused as such, not as a bad call.
    for action, arguments in [
        (ProposalAction.REVOKE_ATTESTATION, {"data_hash": b"\1" * 32}),
        (ProposalAction.REVOKE_ATTESTATIONS_ISSUED_SINCE, {"office": b"EM"}),
    ]:
        with pytest.raises(ContractRevertError) as error:
            raw_propose(lone, lone_admin, action, **arguments)
        assert expect_revert(error, "OfficeRegistryAttestationRegistryNotBound") == ()
