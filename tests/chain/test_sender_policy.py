"""The sender rules of ``ipchain chain serve`` in one process: office accounts follow the
OfficeRegistry block by block (a suspended office's keys are refused at once), the deployer is
learned from its first contract and kept on disk, and a resend of a mined transaction passes.
(tests/chain/test_chain_node.py checks the same rules over HTTP, against real processes.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipchain.chain.embedded import FAUCET_ADDRESS, EmbeddedChain
from ipchain.chain.rpc import RpcChain
from ipchain.chain.rpc_server import serve_embedded_rpc
from ipchain.chain.sender_policy import CONSORTIUM_FILE, SenderPolicy, SenderRefusedError
from ipchain.contracts.bindings import FoundingOffice, deploy_consortium, load_interface
from ipchain.contracts.office_registry import Governance
from ipchain.errors import ChainMismatchError, InvalidInputError, TransactionRejectedError
from ipchain.keys import OfficeKey
from ipchain.node.setup import fund
from ipchain.register.ledger import Ledger
from tests.helpers.consortium import Consortium, deploy_test_consortium, new_key
from tests.helpers.governance import anchor_one


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    opened = EmbeddedChain.open(tmp_path / "chain")
    try:
        yield opened
    finally:
        opened.close()


def policy_of(chain: EmbeddedChain, consortium: Consortium) -> SenderPolicy:
    return SenderPolicy(
        chain,
        load_interface("OfficeRegistry"),
        state_file=chain.data_dir / CONSORTIUM_FILE,
        office_registry=consortium.deployment.address("OfficeRegistry"),
    )


def transfer(chain: EmbeddedChain, key: OfficeKey) -> bytes:
    """A zero-value transfer to itself, at the sender's next nonce."""
    return key.sign_transaction(
        {
            "type": 2,
            "chainId": chain.chain_id,
            "nonce": chain.get_nonce(key.address),
            "to": key.address,
            "value": 0,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 0,
        }
    )


def allows(policy: SenderPolicy, key: OfficeKey) -> bool:
    return policy.refusal(key.address, creates=False, has_data=True) is None


def test_a_suspended_offices_keys_are_refused_from_the_next_block(chain: EmbeddedChain) -> None:
    consortium = deploy_test_consortium(chain)
    policy = policy_of(chain, consortium)
    keys = [*consortium.admins.values(), *consortium.signers.values()]
    assert all(allows(policy, key) for key in keys)
    assert not allows(policy, consortium.outsider)
    governance = Governance(chain, consortium.deployment)
    proposal = governance.propose_suspend_office(consortium.admins["AU"], "EM")
    assert governance.vote(consortium.admins["RU"], proposal)
    for key in (consortium.admins["EM"], consortium.signers["EM"]):
        assert policy.refusal(key.address, creates=False, has_data=True) == (
            f"sender {key.address} is not bound to an active office"
        )
    assert allows(policy, consortium.admins["AU"]) and allows(policy, consortium.signers["RU"])


def test_a_mined_transaction_may_be_resent_by_a_refused_sender(chain: EmbeddedChain) -> None:
    consortium = deploy_test_consortium(chain)
    policy = policy_of(chain, consortium)
    signer = consortium.signers["EM"]
    raw = transfer(chain, signer)
    chain.send_raw_transactions([raw])
    governance = Governance(chain, consortium.deployment)
    proposal = governance.propose_revoke_signer(consortium.admins["EM"], "EM", signer.address)
    assert governance.vote(consortium.admins["AU"], proposal)
    policy.check_raw(raw)  # already mined: nothing new would reach the chain
    fresh = transfer(chain, signer)
    with pytest.raises(SenderRefusedError, match=f"sender {signer.address} is not bound"):
        policy.check_raw(fresh)


def test_the_deployer_is_learned_kept_and_retired(chain: EmbeddedChain) -> None:
    deployer, admin, signer = new_key(), new_key(), new_key()
    fund(chain, [deployer.address, admin.address, signer.address])
    interface = load_interface("OfficeRegistry")
    policy = SenderPolicy.load(chain, interface, deployer.address)
    assert policy.refusal(FAUCET_ADDRESS, creates=False, has_data=False) is None
    assert policy.refusal(signer.address, creates=False, has_data=True) == (
        f"sender {signer.address} is not allowed: no consortium is deployed on this chain yet "
        f"and only the deployer {deployer.address} may send until it creates one"
    )
    assert not policy.set_up_complete()
    server, url = serve_embedded_rpc(chain, policy=policy)
    backend = RpcChain.connect(url)
    try:
        founder = FoundingOffice(
            code="EM", name="EM", admin=admin.address, signers=(signer.address,)
        )
        deployment = deploy_consortium(backend, deployer, [founder])
        registry = deployment.address("OfficeRegistry")
        assert policy.office_registry == registry and policy.set_up_complete()
        kept = json.loads((chain.data_dir / CONSORTIUM_FILE).read_text())
        assert kept == {"deployer": deployer.address, "officeRegistry": registry}
        with pytest.raises(TransactionRejectedError, match=f"sender {deployer.address} is the"):
            backend.send_raw_transactions([transfer(chain, deployer)])
        anchor_one(Ledger(backend, deployment), signer, "EM/TM/1", "a signer writes")
    finally:
        backend.close()
        server.stop()
    reloaded = SenderPolicy.load(chain, interface)
    assert (reloaded.deployer, reloaded.office_registry) == (deployer.address, registry)
    assert reloaded.refusal(deployer.address, creates=True, has_data=True) is not None
    with pytest.raises(InvalidInputError, match="is not the deployer"):
        SenderPolicy.load(chain, interface, new_key().address)


def test_a_consortium_file_of_another_chain_is_refused(chain: EmbeddedChain) -> None:
    (chain.data_dir / CONSORTIUM_FILE).write_text(
        json.dumps({"deployer": new_key().address, "officeRegistry": new_key().address})
    )
    with pytest.raises(ChainMismatchError, match="which this chain does not hold"):
        SenderPolicy.load(chain, load_interface("OfficeRegistry"))


def test_office_accounts_are_read_again_only_after_a_registry_log(
    chain: EmbeddedChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    consortium = deploy_test_consortium(chain)
    policy = policy_of(chain, consortium)
    calls: list[bytes] = []
    call = chain.call

    def counting(to: str, data: bytes, **options: Any) -> bytes:
        calls.append(data)
        return call(to, data, **options)

    monkeypatch.setattr(chain, "call", counting)
    signer = consortium.signers["AU"]
    assert allows(policy, signer) and len(calls) == 1
    chain.fund(new_key().address, 1)  # a block with no OfficeRegistry log
    anchor_one(consortium.ledger, consortium.signers["RU"], "RU/TM/1", "a register write")
    calls.clear()
    assert allows(policy, signer) and calls == []  # still cached
    governance = Governance(chain, consortium.deployment)
    proposal = governance.propose_revoke_signer(consortium.admins["AU"], "AU", signer.address)
    assert governance.vote(consortium.admins["RU"], proposal)
    calls.clear()
    assert not allows(policy, signer) and len(calls) >= 1
