"""The first-run rehearsal: given the JSON-RPC URLs of a freshly started network, check what a
script can check and list the drills it cannot.

Checks that any Ethereum node answers (chain id, one genesis and one history on every node, an
``ipchain init`` plus one anchored batch) run anywhere, anvil included; the others need Besu
(peers, identical allowlists, the validator set, the block period, zero base fee and fee,
refusal of an account that is not allowlisted) and say so when the nodes are not Besu. A wrong
chain id or a second genesis stops the rehearsal before it writes anything.
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ipchain.besu.genesis import BESU_VERSION, BLOCK_PERIOD_SECONDS
from ipchain.besu.node_rpc import NodeRpc, NodeRpcError
from ipchain.errors import ChainMismatchError, InvalidInputError
from ipchain.keys import OfficeKey

DRILLS = (
    "Stop one validator (of four or more): blocks keep coming; start it again and watch it "
    "catch up (eth_blockNumber).",
    "Stop two validators of four: blocks stop (QBFT needs ⌈2n/3⌉ = 3); start them again: "
    "blocks resume, and a second rehearsal shows one head on every node.",
    "Stop every node and start them all again (./start.sh): same genesis, same head, blocks "
    "resume.",
    "Admit an office with 'ipchain besu admit', then restart every node: each starts (every "
    "static node is allowlisted) and the newcomer's validator is in the validator set.",
    "Suspend it with 'ipchain besu suspend', then restart every node: each starts, the "
    "suspended node no longer peers, its signer's transactions are refused.",
    "Fill blocks for ten minutes (scripts/bench.py against a validator) and grep every "
    "validator's log for round changes; if there are any, lower target-gas-limit and the "
    "genesis gasLimit together, or raise requesttimeoutseconds.",
)


@dataclass(frozen=True)
class Check:
    """One rehearsal check and its outcome."""

    name: str
    ok: bool | None
    """True passed, False failed, None not run (needs Besu)."""
    detail: str

    def line(self) -> str:
        mark = {True: "PASS", False: "FAIL", None: "NEEDS BESU"}[self.ok]
        return f"{mark:10} {self.name}: {self.detail}"


def identify(nodes: Sequence[NodeRpc]) -> None:
    """Refuse (InvalidInputError, one line) any URL that is not a Besu node of the pinned
    release."""
    for node in nodes:
        try:
            version = str(node.call("web3_clientVersion"))
        except NodeRpcError as error:
            raise InvalidInputError(f"{node.url} is not a Besu node ({error})") from None
        if not version.startswith("besu/"):
            raise InvalidInputError(
                f"{node.url} is not a Besu node (web3_clientVersion says {version!r:.60})"
            )
        if not version.startswith(f"besu/v{BESU_VERSION}/"):
            raise InvalidInputError(
                f"{node.url} runs {version.split('/')[1]}, the network pins Besu {BESU_VERSION}"
            )


def _int(value: Any) -> int:
    return int(str(value), 16)


def _same_hex(found: Any, expected: str, *, numeric: bool) -> bool:
    text = str(found or "0x").lower().removeprefix("0x")
    wanted = expected.lower().removeprefix("0x")
    return int(text or "0", 16) == int(wanted or "0", 16) if numeric else text == wanted


def _block(node: NodeRpc, number: int | str) -> dict[str, Any]:
    tag = hex(number) if isinstance(number, int) else number
    block = node.call("eth_getBlockByNumber", [tag, False])
    if not isinstance(block, dict):
        raise ChainMismatchError(f"{node.url} has no block {tag}")
    return block


def check_chain_id(nodes: Sequence[NodeRpc], chain_id: int) -> Check:
    """Every node runs the network's chain id; refuses (ChainMismatchError) otherwise."""
    for node in nodes:
        found = _int(node.call("eth_chainId"))
        if found != chain_id:
            raise ChainMismatchError(
                f"refused: {node.url} runs chain id {found}, the network is {chain_id}"
            )
    return Check("chain id", True, f"{chain_id} on all {len(nodes)} nodes")


def genesis_state_root(genesis: dict[str, Any]) -> str:
    """The state root of a genesis ``alloc`` (Ethereum's state trie, computed with py-evm)."""
    from eth.db.account import AccountDB
    from eth.db.atomic import AtomicDB
    from eth_typing import Address

    state = AccountDB(AtomicDB())
    for address, account in genesis["alloc"].items():
        raw = Address(bytes.fromhex(address.removeprefix("0x")))
        state.set_balance(raw, int(account.get("balance", "0x0"), 16))
        if "nonce" in account:
            state.set_nonce(raw, int(account["nonce"], 16))
        if "code" in account:
            state.set_code(raw, bytes.fromhex(account["code"].removeprefix("0x")))
        for slot, value in account.get("storage", {}).items():
            state.set_storage(raw, int(slot, 16), int(value, 16))
    state.persist()
    return "0x" + state.state_root.hex()


def check_genesis(nodes: Sequence[NodeRpc], genesis: dict[str, Any] | None = None) -> Check:
    """One genesis block on every node and, given the network's genesis.json, that block is
    that file's (header fields and state root). Refuses (ChainMismatchError) otherwise."""
    blocks = {node.url: _block(node, 0) for node in nodes}
    hashes = {url: block["hash"] for url, block in blocks.items()}
    if len(set(hashes.values())) != 1:
        shown = ", ".join(f"{url} {value[:12]}…" for url, value in hashes.items())
        raise ChainMismatchError(f"refused: the nodes have different genesis blocks ({shown})")
    detail = f"block 0 is {next(iter(hashes.values()))} on every node"
    if genesis is not None:
        block = next(iter(blocks.values()))
        expected = {
            "extraData": genesis["extraData"],
            "gasLimit": genesis["gasLimit"],
            "timestamp": genesis["timestamp"],
            "mixHash": genesis["mixHash"],
            "stateRoot": genesis_state_root(genesis),
        }
        for name, value in expected.items():
            if not _same_hex(block.get(name), value, numeric=name != "extraData"):
                raise ChainMismatchError(
                    f"refused: the nodes' genesis is not genesis.json ({name} "
                    f"{str(block.get(name))[:20]}…, the file says {value[:20]}…)"
                )
        detail += ", and it is genesis.json's (header and state root)"
    return Check("genesis", True, detail)


def check_head(nodes: Sequence[NodeRpc]) -> Check:
    """Every node has the same block at the lowest height they all reached."""
    height = min(_int(node.call("eth_blockNumber")) for node in nodes)
    hashes = {node.url: _block(node, height)["hash"] for node in nodes}
    if len(set(hashes.values())) != 1:
        return Check("same history", False, f"the nodes disagree at block {height}: {hashes}")
    return Check("same history", True, f"block {height} is the same on every node")


def check_peers(nodes: Sequence[NodeRpc], expected_nodes: int) -> Check:
    """Each node is connected to every other node it was given (and reports its count)."""
    counts = {node.url: _int(node.call("net_peerCount")) for node in nodes}
    short = {url: count for url, count in counts.items() if count < len(nodes) - 1}
    detail = ", ".join(f"{url}: {count}" for url, count in counts.items())
    detail += f" (the allowlists name {expected_nodes} nodes)"
    return Check("peers", not short, detail)


def _enabled(node: NodeRpc, method: str, params: Sequence[Any] = ()) -> Any | None:
    try:
        return node.call(method, params)
    except NodeRpcError as error:
        if error.rpc_code in (-32604, -32601) or "not enabled" in str(error).lower():
            return None  # an auditor node serves ETH, NET and WEB3 only
        raise


def check_allowlists(
    nodes: Sequence[NodeRpc], expected: tuple[set[str], set[str]] | None = None
) -> Check:
    """The validators hold identical allowlists (and the registry's, when known)."""
    seen: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for node in nodes:
        enodes = _enabled(node, "perm_getNodesAllowlist")
        accounts = _enabled(node, "perm_getAccountsAllowlist")
        if enodes is None or accounts is None:
            continue
        seen[node.url] = (
            frozenset(str(e).lower() for e in enodes),
            frozenset(str(a).lower() for a in accounts),
        )
    if not seen:
        return Check("allowlists", False, "no node serves PERM (validators do, with a token)")
    if len(set(seen.values())) != 1:
        return Check("allowlists", False, "the nodes hold different allowlists")
    nodes_list, accounts_list = next(iter(seen.values()))
    if expected is not None and (nodes_list, accounts_list) != tuple(map(frozenset, expected)):
        return Check("allowlists", False, "identical, but not what the registry says now")
    return Check(
        "allowlists",
        True,
        f"identical on {len(seen)} nodes: {len(nodes_list)} nodes, {len(accounts_list)} accounts",
    )


def check_validators(nodes: Sequence[NodeRpc], expected: Sequence[str]) -> Check:
    """Every validator reports the expected validator set at the latest block."""
    sets = {}
    for node in nodes:
        validators = _enabled(node, "qbft_getValidatorsByBlockNumber", ["latest"])
        if validators is not None:
            sets[node.url] = frozenset(str(v).lower() for v in validators)
    wanted = frozenset(v.lower() for v in expected)
    if not sets:
        return Check("validator set", False, "no node serves QBFT (validators do, with a token)")
    wrong = [url for url, found in sets.items() if found != wanted]
    if wrong:
        return Check("validator set", False, f"{', '.join(wrong)} report another validator set")
    return Check("validator set", True, f"{len(wanted)} validators, as expected, on {len(sets)}")


def check_block_period(node: NodeRpc, blocks: int = 10) -> Check:
    """Consecutive blocks are the configured block period apart."""
    head = _int(node.call("eth_blockNumber"))
    if head < blocks + 1:
        return Check("block period", False, f"only {head} blocks yet: run again in a minute")
    times = [_int(_block(node, n)["timestamp"]) for n in range(head - blocks, head + 1)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    ok = statistics.median(gaps) == BLOCK_PERIOD_SECONDS and min(gaps) >= BLOCK_PERIOD_SECONDS
    return Check("block period", ok, f"gaps of the last {blocks} blocks: {gaps} s")


def check_zero_base_fee(nodes: Sequence[NodeRpc]) -> Check:
    """The latest block's base fee is zero on every node."""
    fees = {node.url: _int(_block(node, "latest").get("baseFeePerGas", "0x0")) for node in nodes}
    return Check("zero base fee", not any(fees.values()), f"latest base fee per node: {fees}")


def check_refuses_outsiders(node: NodeRpc, chain_id: int) -> Check:
    """A transaction from an account no allowlist names is refused by the node."""
    outsider = OfficeKey.generate()
    raw = outsider.sign_transaction(
        {
            "type": 2,
            "chainId": chain_id,
            "nonce": 0,
            "to": outsider.address,
            "value": 0,
            "gas": 21_000,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
            "data": b"",
        }
    )
    try:
        node.call("eth_sendRawTransaction", ["0x" + raw.hex()])
    except NodeRpcError as error:
        refused = error.rpc_code == -32007 or "not authorized" in str(error).lower()
        return Check("outsider refused", refused, str(error)[:160])
    return Check("outsider refused", False, f"{node.url} ACCEPTED a non-allowlisted account")


def round_trip_checks(node: NodeRpc, anchor: Callable[[], str]) -> tuple[Check, Check]:
    """Run ``anchor`` (ipchain init and one batch; returns the transaction hash) and check its
    receipt: status 1, and the fee it cost (zero on the consortium's free-gas chain)."""
    started = time.monotonic()
    transaction_hash = anchor()
    receipt = node.call("eth_getTransactionReceipt", [transaction_hash])
    status = _int(receipt["status"])
    fee = _int(receipt["gasUsed"]) * _int(receipt.get("effectiveGasPrice", "0x0"))
    took = time.monotonic() - started
    trip = Check(
        "init + anchored batch",
        status == 1,
        f"transaction {transaction_hash[:14]}… status {status} ({took:.1f} s)",
    )
    return trip, Check("zero fee", fee == 0, f"the batch cost {fee} wei")


def anchor_one_batch(settings: Any, office: str) -> str:
    """``ipchain init`` against the network, then one hash-only entry anchored by the office's
    signer key (record ``{office}/TM/999999999``, marked as a rehearsal); its transaction hash."""
    from ipchain.keys import signer_key_name
    from ipchain.node.setup import init_node
    from ipchain.register.ledger import EventToAnchor

    node = init_node(settings)
    try:
        marker = f"ipchain rehearsal {time.time_ns()}".encode()
        event = EventToAnchor(f"{office}/TM/999999999", "A10", hashlib.sha256(marker).digest(), b"")
        (anchored,) = node.ledger.anchor(node.office_key(signer_key_name(office)), [event])
        return "0x" + anchored.transaction_hash.hex()
    finally:
        node.close()
