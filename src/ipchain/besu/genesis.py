"""The network's genesis and the Besu release it is written for.

One Besu version runs the whole network (:data:`BESU_VERSION`): Besu releases have changed how a
QBFT chain executes Prague blocks (26.1 stopped the system calls, 26.4 restored them when the
genesis names the system contracts' addresses), so offices on different releases could compute
different state roots from block 1. The generated start script refuses any other version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth_utils import to_checksum_address

from ipchain.besu.network import CONSORTIUM_CHAIN_ID, OfficeNodeSpec, check_offices
from ipchain.errors import InvalidInputError

BESU_VERSION = "26.9.0"
"""The one Besu release every node runs (node_config/besu/BESU_VERSION). Why this one:
node_config/besu/README.md, "The Besu version"."""
JAVA_VERSION = 25
"""Besu 26.6 and later need Java 25."""

GENESIS_TIMESTAMP = 1_735_689_600
"""2025-01-01T00:00:00Z: fixed, so every office regenerates a byte-identical genesis."""
BLOCK_PERIOD_SECONDS = 2
REQUEST_TIMEOUT_SECONDS = 8
"""Round timeout: 4 block periods. It runs from the end of the block period, so it must cover
the proposer's block building (at most half a block period: ``poa-block-txs-selection-max-time``
50 in every config; 5 s on releases hit by besu-eth/besu#11005), the validators' import of the
block and two message rounds."""
BLOCK_GAS_LIMIT = 50_000_000
"""Per block: four default batches of 700-byte documents (600 entries at the measured 72,200 gas
each, ~43 M gas used; Besu admits a batch while its gas limit fits the gas left), chosen so a
validator executes a full block well within one block period (README, "Gas and timing")."""
MAX_TRANSACTION_BYTES = 512 * 1024
"""Besu's transaction pool refuses larger transactions (``tx-pool-max-tx-bytes``, 128 KiB by
default since 26.8.1). A batch at the 16,777,216 gas cap holds at most ~420 KB of calldata (40
gas a byte), and a default batch of 700-byte documents ~150 KB."""
QBFT_PARAMETERS = {
    "blockperiodseconds": BLOCK_PERIOD_SECONDS,
    "epochlength": 30_000,
    "requesttimeoutseconds": REQUEST_TIMEOUT_SECONDS,
}
ACCOUNT_BALANCE_WEI = 10**24
"""Genesis balance of each office account. Gas is free (base fee 0, tip 0) but a node still
checks ``balance >= gas × maxFeePerGas`` before accepting a transaction."""
ISTANBUL_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
"""The mixHash every QBFT genesis carries ("ctical byzantine fault tolerance")."""

# The Prague system contracts (EIP-4788, EIP-2935, EIP-7002, EIP-7251) with the EIPs' runtime
# code. On a QBFT chain Besu makes no system calls unless the genesis config names the
# deposit, withdrawal-request and consolidation-request contract addresses (Besu >= 26.4,
# MainnetProtocolSpecs), and this genesis names none: the code sits in state, inert, so contracts
# and tools see the same Prague world as on py-evm and anvil. The EIP-7002/7251 queues hold the
# excess inhibitor (2**256-1) in slot 0, as Besu's reference Prague genesis sets it, so no
# transaction can queue a request that nothing would ever dequeue.
SYSTEM_CONTRACTS = {
    "0x000f3df6d732807ef1319fb7b8bb8522d0beac02": "3373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff42064281555f359062001fff015500",  # noqa: E501
    "0x0000f90827f1c53a10cb7a02335b175320002935": "3373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f35600143038111604257611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500",  # noqa: E501
    "0x00000961ef480eb55e80d19ad83579a64c007002": "3373fffffffffffffffffffffffffffffffffffffffe1460cb5760115f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff146101f457600182026001905f5b5f82111560685781019083028483029004916001019190604d565b909390049250505036603814608857366101f457346101f4575f5260205ff35b34106101f457600154600101600155600354806003026004013381556001015f35815560010160203590553360601b5f5260385f601437604c5fa0600101600355005b6003546002548082038060101160df575060105b5f5b8181146101835782810160030260040181604c02815460601b8152601401816001015481526020019060020154807fffffffffffffffffffffffffffffffff00000000000000000000000000000000168252906010019060401c908160381c81600701538160301c81600601538160281c81600501538160201c81600401538160181c81600301538160101c81600201538160081c81600101535360010160e1565b910180921461019557906002556101a0565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff14156101cd57505f5b6001546002828201116101e25750505f6101e8565b01600290035b5f555f600155604c025ff35b5f5ffd",  # noqa: E501
    "0x0000bbddc7ce488642fb579f8b00f3a590007251": "3373fffffffffffffffffffffffffffffffffffffffe1460d35760115f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff1461019a57600182026001905f5b5f82111560685781019083028483029004916001019190604d565b9093900492505050366060146088573661019a573461019a575f5260205ff35b341061019a57600154600101600155600354806004026004013381556001015f358155600101602035815560010160403590553360601b5f5260605f60143760745fa0600101600355005b6003546002548082038060021160e7575060025b5f5b8181146101295782810160040260040181607402815460601b815260140181600101548152602001816002015481526020019060030154905260010160e9565b910180921461013b5790600255610146565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff141561017357505f5b6001546001828201116101885750505f61018e565b01600190035b5f555f6001556074025ff35b5f5ffd",  # noqa: E501
}
EXCESS_INHIBITOR_STORAGE = {"0x" + "00" * 32: "0x" + "ff" * 32}
"""Slot 0 of the EIP-7002 and EIP-7251 contracts in Besu's reference Prague genesis."""
_REQUEST_QUEUES = (
    "0x00000961ef480eb55e80d19ad83579a64c007002",
    "0x0000bbddc7ce488642fb579f8b00f3a590007251",
)


def encode_qbft_extra_data(validators: Sequence[str]) -> bytes:
    """QBFT genesis ``extraData``: RLP([32-byte vanity, [validators], no vote, round 0, no
    seals]), as Besu's ``rlp encode --type=QBFT_EXTRA_DATA`` writes it."""
    addresses = [bytes.fromhex(to_checksum_address(v)[2:]) for v in validators]
    return bytes(rlp.encode([b"\0" * 32, addresses, [], 0, []]))


def decode_qbft_extra_data(extra_data: bytes) -> list[str]:
    """The validators in a genesis ``extraData`` (checksummed, in order)."""
    try:
        vanity, validators, vote, round_number, seals = rlp.decode(extra_data)
        shaped = len(vanity) == 32 and all(len(v) == 20 for v in validators)
    except (rlp.DecodingError, ValueError, TypeError):
        shaped = False
    if not shaped or vote != [] or round_number != b"" or seals != []:
        raise InvalidInputError("extraData is not a QBFT genesis", field="extraData")
    return [to_checksum_address(v) for v in validators]


def genesis_validators(offices: Sequence[OfficeNodeSpec]) -> list[str]:
    """The founding offices' validator addresses, ascending (the genesis ``extraData`` order)."""
    return sorted((o.validator for o in offices if o.founding), key=lambda a: int(a, 16))


def genesis_document(
    offices: Sequence[OfficeNodeSpec], chain_id: int = CONSORTIUM_CHAIN_ID
) -> dict[str, Any]:
    """The network's genesis: Prague from block 0 (the contracts' ``evmVersion``), QBFT with
    the founding offices' validator nodes (ascending), free gas, their accounts funded.
    Offices that joined later and auditor nodes are left out, so the genesis never changes."""
    check_offices(offices)
    founders = [office for office in offices if office.founding]
    if not founders:
        raise InvalidInputError("a network needs at least one founding office", field="offices")
    alloc: dict[str, dict[str, Any]] = {}
    for address, code in SYSTEM_CONTRACTS.items():
        alloc[address] = {"balance": "0x0", "nonce": "0x1", "code": "0x" + code}
        if address in _REQUEST_QUEUES:
            alloc[address]["storage"] = dict(EXCESS_INHIBITOR_STORAGE)
    for office in founders:
        for account in office.accounts:
            alloc[account.lower()] = {"balance": hex(ACCOUNT_BALANCE_WEI)}
    blocks = ["homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople"]
    blocks += ["petersburg", "istanbul", "berlin", "london"]
    config: dict[str, Any] = {"chainId": chain_id, **{f"{b}Block": 0 for b in blocks}}
    config |= {"shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0, "zeroBaseFee": True}
    config["blobSchedule"] = {
        "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3_338_477},
        "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5_007_716},
    }
    config["qbft"] = dict(QBFT_PARAMETERS)
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(GENESIS_TIMESTAMP),
        "gasLimit": hex(BLOCK_GAS_LIMIT),
        "difficulty": "0x1",
        "mixHash": ISTANBUL_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "baseFeePerGas": "0x0",
        "extraData": "0x" + encode_qbft_extra_data(genesis_validators(offices)).hex(),
        "alloc": alloc,
    }
