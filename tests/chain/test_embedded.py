"""The embedded py-evm chain: persistence, crash safety, locking, validation, receipts, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ipchain.chain.embedded import (
    DEFAULT_GENESIS,
    FAUCET_ADDRESS,
    FAUCET_PRIVATE_KEY,
    EmbeddedChain,
)
from ipchain.errors import (
    ChainError,
    ChainMismatchError,
    ChainUnavailableError,
    ContractRevertError,
    ReceiptTimeoutError,
    TransactionRejectedError,
)

REPOSITORY = Path(__file__).resolve().parents[2]

# A hand-assembled contract. Runtime: log1(data = calldata word 1, topic = calldata word 0),
# except when word 0 is zero: revert with the 4 bytes 0xdeadbeef (like a custom error).
#   PUSH1 20 CALLDATALOAD PUSH1 0 MSTORE  PUSH1 0 CALLDATALOAD  DUP1 ISZERO PUSH1 14 JUMPI
#   PUSH1 20 PUSH1 0 LOG1 STOP  JUMPDEST PUSH4 deadbeef PUSH1 0 MSTORE PUSH1 4 PUSH1 1c REVERT
RUNTIME = bytes.fromhex("602035600052600035801560145760206000a1005b63deadbeef6000526004601cfd")
# Init code: CODECOPY the runtime (after these 12 bytes) to memory and RETURN it.
INIT_CODE = bytes.fromhex(f"60{len(RUNTIME):02x}600c60003960{len(RUNTIME):02x}6000f3") + RUNTIME
REVERT_DATA = bytes.fromhex("deadbeef")


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[EmbeddedChain]:
    opened = EmbeddedChain.open(tmp_path / "chain", sync=False)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def account(chain: EmbeddedChain) -> LocalAccount:
    new: LocalAccount = Account.create()
    chain.fund(new.address, 10**21)
    return new


def sign(account: LocalAccount, chain: EmbeddedChain, nonce: int, **fields: Any) -> bytes:
    transaction = {
        "type": 2,
        "chainId": chain.chain_id,
        "nonce": nonce,
        "to": "0x" + "11" * 20,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 0,
        **fields,
    }
    if transaction.get("to") is None:
        del transaction["to"]
    if transaction["type"] != 2:
        for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
            del transaction[key]
        transaction.setdefault("gasPrice", 10**10)
        if transaction["type"] == 0:
            del transaction["type"]
    return bytes(account.sign_transaction(transaction).raw_transaction)


def deploy(chain: EmbeddedChain, account: LocalAccount) -> str:
    nonce = chain.get_nonce(account.address)
    raw = sign(account, chain, nonce, to=None, value=0, gas=200_000, data=INIT_CODE)
    (receipt,) = chain.wait_for_receipts(chain.send_raw_transactions([raw]))
    assert receipt.status == 1 and receipt.contract_address is not None
    return receipt.contract_address


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


# --- persistence -------------------------------------------------------------------------------


def test_reopen_keeps_head_balances_and_receipts(tmp_path: Path) -> None:
    directory = tmp_path / "chain"
    sender: LocalAccount = Account.create()
    with EmbeddedChain.open(directory) as chain:
        assert isinstance(chain, EmbeddedChain)
        chain.fund(sender.address, 10**20)
        hashes = chain.send_raw_transactions([sign(sender, chain, n) for n in range(3)])
        head = chain.get_block(chain.block_number())
        balance = chain.get_balance(sender.address)
        receipts = chain.wait_for_receipts(hashes)
    with EmbeddedChain.open(directory) as reopened:
        assert reopened.get_block(reopened.block_number()) == head
        assert reopened.get_balance(sender.address) == balance
        assert reopened.get_nonce(sender.address) == 3
        assert [reopened.get_receipt(h) for h in hashes] == receipts
        # and it keeps mining on top of what it had
        reopened.send_raw_transactions([sign(sender, reopened, 3)])
        assert reopened.block_number() == head.number + 1


KILLED_MINER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ipchain.chain.embedded import EmbeddedChain

    chain = EmbeddedChain.open(Path(sys.argv[1]))
    print("open", flush=True)
    n = 0
    while True:
        receipts = chain.fund_many({"0x%040x" % (n + i + 1): 10**18 for i in range(20)})
        n += 20
        print("mined", receipts[0].block_number, flush=True)
    """
)


def test_kill_9_while_mining_loses_no_reported_block(tmp_path: Path) -> None:
    directory = tmp_path / "chain"
    miner = subprocess.Popen(
        [sys.executable, "-c", KILLED_MINER, str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    reported: list[int] = []
    try:
        assert miner.stdout is not None
        assert miner.stdout.readline().strip() == "open"
        # While it runs, the directory is locked.
        with pytest.raises(ChainUnavailableError, match=f"another process \\(pid {miner.pid}\\)"):
            EmbeddedChain.open(directory)
        while len(reported) < 8:
            line = miner.stdout.readline()
            assert line, "the miner stopped on its own"
            reported.append(int(line.split()[1]))
        time.sleep(0.013)  # land somewhere inside the next block
    finally:
        os.kill(miner.pid, signal.SIGKILL)
        miner.wait()
    with EmbeddedChain.open(directory) as chain:
        head = chain.block_number()
        assert head >= reported[-1]
        mined = 0
        for number in range(1, head + 1):
            block = chain.get_block(number)
            assert len(block.transaction_hashes) == 20  # whole blocks only
            mined += len(block.transaction_hashes)
            assert all(chain.get_receipt(h) is not None for h in block.transaction_hashes)
        assert set(reported) <= set(range(1, head + 1))
        assert chain.get_nonce(FAUCET_ADDRESS) == mined
        assert chain.fund("0x" + "ab" * 20, 5).block_number == head + 1


def test_second_open_of_the_same_directory_is_refused(chain: EmbeddedChain) -> None:
    with pytest.raises(ChainUnavailableError, match="already open"):
        EmbeddedChain.open(chain.data_dir)
    assert chain.block_number() == 0  # the first one is unaffected


def test_closed_chain_refuses_use(tmp_path: Path) -> None:
    chain = EmbeddedChain.open(tmp_path / "chain")
    chain.close()
    chain.close()  # idempotent
    with pytest.raises(ChainUnavailableError, match="closed"):
        chain.block_number()


def write_genesis(path: Path, **changes: Any) -> Path:
    genesis = json.loads(DEFAULT_GENESIS.read_text())
    for key, value in changes.items():
        if key == "chainId":
            genesis["config"]["chainId"] = value
        else:
            genesis[key] = value
    path.write_text(json.dumps(genesis))
    return path


def test_reopening_with_another_genesis_is_a_mismatch(tmp_path: Path) -> None:
    directory = tmp_path / "chain"
    custom = write_genesis(tmp_path / "custom.json", chainId=4242)
    with EmbeddedChain.open(directory, custom) as chain:
        assert chain.chain_id == 4242
    with pytest.raises(ChainMismatchError, match="belongs to chain id 4242, expected 31415926"):
        EmbeddedChain.open(directory, DEFAULT_GENESIS)
    later = write_genesis(tmp_path / "later.json", chainId=4242, timestamp=1_800_000_000)
    with pytest.raises(ChainMismatchError, match="expected genesis 0x"):
        EmbeddedChain.open(directory, later)
    with EmbeddedChain.open(directory) as chain:  # no genesis given: whatever it holds
        assert chain.chain_id == 4242
    with EmbeddedChain.open(directory, custom) as chain:
        assert chain.chain_id == 4242


def test_packaged_default_genesis_is_the_documented_one() -> None:
    documented = REPOSITORY / "node_config" / "embedded" / "genesis.json"
    assert json.loads(documented.read_text()) == json.loads(DEFAULT_GENESIS.read_text())


def test_genesis_is_reproducible_and_funds_the_faucet(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path / "a") as first, EmbeddedChain.open(tmp_path / "b") as second:
        assert first.genesis_hash == second.genesis_hash == first.get_block(0).hash
        assert first.chain_id == 31_415_926
        assert first.get_balance(FAUCET_ADDRESS) >= 10**30
        assert first.get_block(0).timestamp == 1_735_689_600


def test_faucet_address_is_the_faucet_keys() -> None:
    assert Account.from_key(FAUCET_PRIVATE_KEY).address == FAUCET_ADDRESS


# --- sending -----------------------------------------------------------------------------------


def test_a_batch_is_mined_in_one_block(chain: EmbeddedChain, account: LocalAccount) -> None:
    before = chain.block_number()
    hashes = chain.send_raw_transactions([sign(account, chain, n) for n in range(50)])
    assert chain.block_number() == before + 1
    block = chain.get_block(before + 1)
    assert block.transaction_hashes == tuple(hashes)
    receipts = chain.wait_for_receipts(hashes)
    assert all(r.status == 1 and r.gas_used == 21_000 for r in receipts)
    assert chain.get_nonce(account.address) == 50


def test_every_transaction_type_is_accepted(chain: EmbeddedChain, account: LocalAccount) -> None:
    raws = [
        sign(account, chain, 0, type=0),
        sign(account, chain, 1, type=1, accessList=[]),
        sign(account, chain, 2, type=2),
    ]
    receipts = chain.wait_for_receipts(chain.send_raw_transactions(raws))
    assert [r.status for r in receipts] == [1, 1, 1]


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ({"nonce": 7}, "nonce"),
        ({"value": 10**30}, "balance"),
        ({"chainId": 1}, "chain id 1"),
        ({"maxFeePerGas": 1}, "base fee"),
        ({"gas": 2_000_000_000}, "block gas limit"),
    ],
)
def test_an_invalid_transaction_rejects_the_whole_batch(
    chain: EmbeddedChain, account: LocalAccount, problem: dict[str, int], message: str
) -> None:
    head = chain.block_number()
    good = sign(account, chain, 0)
    bad = sign(account, chain, **{"nonce": 1, **problem})
    with pytest.raises(TransactionRejectedError, match=message):
        chain.send_raw_transactions([good, bad])
    assert chain.block_number() == head
    assert chain.get_nonce(account.address) == 0
    # the chain is usable afterwards
    chain.send_raw_transactions([good])
    assert chain.get_nonce(account.address) == 1


def test_garbage_and_bad_signatures_are_rejected(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    with pytest.raises(TransactionRejectedError, match="cannot decode"):
        chain.send_raw_transactions([b"\x02\xc0"])
    raw = bytearray(sign(account, chain, 0))
    raw[-5] ^= 0xFF  # inside s
    with pytest.raises(TransactionRejectedError):
        chain.send_raw_transactions([bytes(raw)])
    assert chain.get_nonce(account.address) == 0


def test_submit_mines_the_valid_and_reports_the_invalid(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    head = chain.block_number()
    outcomes = chain.submit_raw_transactions(
        [sign(account, chain, 0), sign(account, chain, 5), b"junk", sign(account, chain, 1)]
    )
    assert isinstance(outcomes[0], bytes) and isinstance(outcomes[3], bytes)
    assert isinstance(outcomes[1], TransactionRejectedError)
    assert isinstance(outcomes[2], TransactionRejectedError)
    assert chain.block_number() == head + 1
    assert chain.get_nonce(account.address) == 2
    # nothing valid: no empty block
    assert isinstance(chain.submit_raw_transactions([b"junk"])[0], TransactionRejectedError)
    assert chain.block_number() == head + 1


def test_resending_a_mined_transaction_is_harmless(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    raw = sign(account, chain, 0)
    first = chain.send_raw_transactions([raw])
    head = chain.block_number()
    assert chain.send_raw_transactions([raw, raw]) == first * 2
    assert chain.block_number() == head


def test_block_timestamps_increase_and_follow_the_clock(chain: EmbeddedChain) -> None:
    before = int(time.time())
    for n in range(3):
        chain.fund("0x" + "22" * 20, n + 1)
    stamps = [chain.get_block(n).timestamp for n in range(1, 4)]
    assert stamps[0] >= before
    assert stamps[0] < stamps[1] < stamps[2]


def test_a_missing_block_is_an_error(chain: EmbeddedChain) -> None:
    with pytest.raises(ChainError, match="does not exist"):
        chain.get_block(1)


def test_waiting_for_an_unknown_transaction_times_out(chain: EmbeddedChain) -> None:
    assert chain.get_receipt(b"\x01" * 32) is None
    with pytest.raises(ReceiptTimeoutError):
        chain.wait_for_receipts([b"\x01" * 32], timeout=0.05)


# --- contracts, reverts and logs ---------------------------------------------------------------


def test_deployed_code_and_calls(chain: EmbeddedChain, account: LocalAccount) -> None:
    contract = deploy(chain, account)
    assert chain.get_code(contract) == RUNTIME
    assert chain.get_code(contract, block_number=0) == b""
    assert chain.call(contract, word(1) + word(2)) == b""
    with pytest.raises(ContractRevertError) as caught:
        chain.call(contract, word(0), sender=account.address)
    assert caught.value.error_args == (REVERT_DATA,)


def test_a_reverted_transaction_is_mined_with_its_revert_data(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    contract = deploy(chain, account)
    nonce = chain.get_nonce(account.address)
    raws = [
        sign(account, chain, nonce, to=contract, value=0, gas=100_000, data=word(0)),
        sign(account, chain, nonce + 1, to=contract, value=0, gas=100_000, data=word(9)),
    ]
    failed, succeeded = chain.wait_for_receipts(chain.send_raw_transactions(raws))
    assert failed.status == 0 and failed.revert_data == REVERT_DATA and failed.logs == ()
    assert succeeded.status == 1 and succeeded.revert_data is None
    assert failed.block_number == succeeded.block_number
    assert chain.get_nonce(account.address) == nonce + 2


def test_logs_by_range_address_and_topic(chain: EmbeddedChain, account: LocalAccount) -> None:
    contract = deploy(chain, account)
    other = deploy(chain, account)
    nonce = chain.get_nonce(account.address)
    batches = [
        [(contract, 1, 10), (other, 1, 11), (contract, 2, 12)],
        [(contract, 1, 13)],
    ]
    for batch in batches:
        raws = []
        for to, topic, data in batch:
            call = word(topic) + word(data)
            raws.append(sign(account, chain, nonce, to=to, value=0, gas=100_000, data=call))
            nonce += 1
        chain.send_raw_transactions(raws)
    first, second = chain.block_number() - 1, chain.block_number()

    logs = chain.get_logs(address=contract, from_block=0, to_block=second)
    assert [int.from_bytes(log.data, "big") for log in logs] == [10, 12, 13]
    assert [(log.block_number, log.log_index, log.transaction_index) for log in logs] == [
        (first, 0, 0),
        (first, 2, 2),
        (second, 0, 0),
    ]
    receipt = chain.get_receipt(logs[1].transaction_hash)
    assert receipt is not None and receipt.logs == (logs[1],)

    topic_one = chain.get_logs(
        address=[contract, other], from_block=first, to_block=second, topics=[word(1)]
    )
    assert [int.from_bytes(log.data, "big") for log in topic_one] == [10, 11, 13]
    wildcard = chain.get_logs(address=other, from_block=0, to_block=10**9, topics=[None])
    assert [int.from_bytes(log.data, "big") for log in wildcard] == [11]
    assert chain.get_logs(address=contract, from_block=second, to_block=second) == logs[2:]
    assert chain.get_logs(address=contract, from_block=0, to_block=first - 1) == []
    too_many_topics = [word(1), None]
    assert (
        chain.get_logs(address=contract, from_block=0, to_block=second, topics=too_many_topics)
        == []
    )


def test_estimate_gas_covers_what_the_transaction_needs(
    chain: EmbeddedChain, account: LocalAccount
) -> None:
    contract = deploy(chain, account)
    estimate = chain.estimate_gas(contract, word(3) + word(4), sender=account.address)
    raw = sign(
        account,
        chain,
        chain.get_nonce(account.address),
        to=contract,
        value=0,
        gas=estimate,
        data=word(3) + word(4),
    )
    (receipt,) = chain.wait_for_receipts(chain.send_raw_transactions([raw]))
    assert receipt.status == 1 and receipt.gas_used <= estimate
    with pytest.raises(ContractRevertError):
        chain.estimate_gas(contract, word(0))


# --- JSON-RPC server ---------------------------------------------------------------------------


@pytest.fixture
def served(chain: EmbeddedChain) -> Iterator[str]:
    from ipchain.chain.rpc_server import serve_embedded_rpc

    server, url = serve_embedded_rpc(chain)
    try:
        yield url
    finally:
        server.stop()


def test_web3_works_against_the_served_chain(
    chain: EmbeddedChain, account: LocalAccount, served: str
) -> None:
    from web3 import Web3

    web3 = Web3(Web3.HTTPProvider(served))
    assert web3.eth.chain_id == chain.chain_id
    assert web3.eth.block_number == chain.block_number()
    assert web3.eth.get_balance(account.address) == chain.get_balance(account.address)
    transaction = {
        "to": "0x" + "11" * 20,
        "value": 7,
        "from": account.address,
        "nonce": web3.eth.get_transaction_count(account.address),
        "chainId": web3.eth.chain_id,
    }
    transaction["gas"] = web3.eth.estimate_gas(transaction)  # type: ignore[arg-type]
    transaction["maxPriorityFeePerGas"] = web3.eth.max_priority_fee
    transaction["maxFeePerGas"] = 2 * web3.eth.gas_price
    del transaction["from"]
    raw = account.sign_transaction(transaction).raw_transaction
    receipt = web3.eth.wait_for_transaction_receipt(web3.eth.send_raw_transaction(raw))
    assert receipt["status"] == 1
    assert web3.eth.get_balance("0x" + "11" * 20) == 7
    assert web3.eth.get_transaction(receipt["transactionHash"])["from"] == account.address
    block = web3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert block["transactions"][0]["hash"] == receipt["transactionHash"]
    assert web3.eth.get_block(block["hash"])["number"] == block["number"]


def test_served_errors_carry_reasons_and_revert_data(
    chain: EmbeddedChain, account: LocalAccount, served: str
) -> None:
    from web3 import Web3
    from web3.exceptions import ContractCustomError, Web3RPCError

    web3 = Web3(Web3.HTTPProvider(served))
    contract = deploy(chain, account)
    with pytest.raises(ContractCustomError) as caught:
        web3.eth.call({"to": contract, "data": "0x" + word(0).hex()})  # type: ignore[typeddict-item]
    assert REVERT_DATA.hex() in str(caught.value)
    with pytest.raises(Web3RPCError, match="nonce"):
        web3.eth.send_raw_transaction(sign(account, chain, 42))


def test_served_logs_and_receipts_match_the_chain(
    chain: EmbeddedChain, account: LocalAccount, served: str
) -> None:
    from ipchain.chain.rpc import RpcChain

    contract = deploy(chain, account)
    nonce = chain.get_nonce(account.address)
    raws = [
        sign(account, chain, nonce + n, to=contract, value=0, gas=100_000, data=word(n + 1) * 2)
        for n in range(3)
    ]
    remote = RpcChain.connect(served)
    try:
        hashes = remote.send_raw_transactions(raws)
        receipts = remote.wait_for_receipts(hashes, timeout=30)
        assert receipts == chain.wait_for_receipts(hashes)
        head = chain.block_number()
        query = {"address": contract, "from_block": 0, "to_block": head, "topics": [word(2)]}
        assert remote.get_logs(**query) == chain.get_logs(**query)  # type: ignore[arg-type]
        assert len(chain.get_logs(**query)) == 1  # type: ignore[arg-type]
    finally:
        remote.close()


def test_transactions_sent_together_share_a_block(
    chain: EmbeddedChain, account: LocalAccount, served: str
) -> None:
    import httpx

    raws = [sign(account, chain, n) for n in range(10)]
    batch = [
        {"jsonrpc": "2.0", "id": n, "method": "eth_sendRawTransaction", "params": ["0x" + r.hex()]}
        for n, r in enumerate(raws)
    ]
    head = chain.block_number()
    answers = httpx.post(served, json=batch, timeout=30).json()
    assert sorted(answer["id"] for answer in answers) == list(range(10))
    assert all("result" in answer for answer in answers)
    assert chain.block_number() == head + 1
