"""A minimal Ethereum JSON-RPC server over an :class:`EmbeddedChain`.

For the "several offices, one machine" topology: one process holds the embedded chain and
serves it; each office's ipchain node (or web3.py, or a wallet) talks to it over HTTP like to
any node. Only what those clients use is implemented (see :data:`METHODS`).

Raw transactions that arrive close together — from one JSON-RPC batch or from several offices
at once — are mined into one block: a single miner thread takes everything queued, waits a few
milliseconds for stragglers, mines, and answers each ``eth_sendRawTransaction`` with its hash
(or why it was rejected) once its block is on disk. So a client that saw the hash can read the
receipt and the next nonce immediately; there is no pending pool to reason about.

Given a :class:`~ipchain.chain.sender_policy.SenderPolicy` (as ``ipchain chain serve`` does),
the server refuses a raw transaction whose sender the policy does not allow before it is
queued, with a JSON-RPC error naming the sender and why; read-only methods stay public.
"""

from __future__ import annotations

import functools
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth_utils.address import to_canonical_address, to_checksum_address

from ipchain.chain._pyevm_chain import transaction_chain_id
from ipchain.chain.base import LogEntry
from ipchain.chain.embedded import CALL_GAS, EmbeddedChain, TransactionDetails
from ipchain.chain.sender_policy import (
    JSON_RPC_TRANSACTION_REJECTED,
    SenderPolicy,
    SenderRefusedError,
)
from ipchain.errors import (
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    TransactionRejectedError,
)

BATCH_WINDOW_SECONDS = 0.003
"""How long the miner waits, after the first transaction, for others to share its block."""

MAX_TRANSACTIONS_PER_BLOCK = 2_000
"""Cap on one block, so a flood of clients still gets answers block by block."""


class RpcError(Exception):
    """A JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


# --- value encoding ----------------------------------------------------------------------------


def _quantity(value: int) -> str:
    return hex(value)


def _data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _to_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    raise RpcError(-32602, f"expected a hex quantity, got {value!r}")


def _to_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(-32602, f"expected 0x-prefixed hex data, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise RpcError(-32602, f"invalid hex data {value!r}") from None


def _block(header: BlockHeaderAPI, transactions: list[Any]) -> dict[str, Any]:
    block: dict[str, Any] = {
        "number": _quantity(header.block_number),
        "hash": _data(header.hash),
        "parentHash": _data(header.parent_hash),
        "nonce": _data(header.nonce),
        "mixHash": _data(header.mix_hash),
        "sha3Uncles": _data(header.uncles_hash),
        "logsBloom": _data(header.bloom.to_bytes(256, "big")),
        "transactionsRoot": _data(header.transaction_root),
        "stateRoot": _data(header.state_root),
        "receiptsRoot": _data(header.receipt_root),
        "miner": to_checksum_address(header.coinbase),
        "difficulty": _quantity(header.difficulty),
        "totalDifficulty": _quantity(0),
        "extraData": _data(header.extra_data),
        "size": _quantity(len(transactions) * 120 + 600),  # nobody relies on it; kept cheap
        "gasLimit": _quantity(header.gas_limit),
        "gasUsed": _quantity(header.gas_used),
        "timestamp": _quantity(header.timestamp),
        "transactions": transactions,
        "uncles": [],
        "withdrawals": [],
    }
    optional: dict[str, tuple[str, Callable[[Any], str]]] = {
        "baseFeePerGas": ("base_fee_per_gas", _quantity),
        "withdrawalsRoot": ("withdrawals_root", _data),
        "blobGasUsed": ("blob_gas_used", _quantity),
        "excessBlobGas": ("excess_blob_gas", _quantity),
        "parentBeaconBlockRoot": ("parent_beacon_block_root", _data),
        "requestsHash": ("requests_hash", _data),
    }
    for name, (attribute, encode) in optional.items():
        value = getattr(header, attribute, None)
        if value is not None:
            block[name] = encode(value)
    return block


def _transaction(
    transaction: SignedTransactionAPI,
    header: BlockHeaderAPI,
    index: int,
    effective_gas_price: int,
) -> dict[str, Any]:
    type_id = transaction.type_id or 0
    encoded: dict[str, Any] = {
        "type": _quantity(type_id),
        "hash": _data(transaction.hash),
        "nonce": _quantity(transaction.nonce),
        "blockHash": _data(header.hash),
        "blockNumber": _quantity(header.block_number),
        "transactionIndex": _quantity(index),
        "from": to_checksum_address(transaction.sender),
        "to": to_checksum_address(transaction.to) if transaction.to else None,
        "value": _quantity(transaction.value),
        "gas": _quantity(transaction.gas),
        "gasPrice": _quantity(effective_gas_price),
        "input": _data(transaction.data),
        "r": _quantity(transaction.r),
        "s": _quantity(transaction.s),
    }
    chain_id = transaction_chain_id(transaction)
    if chain_id is not None:
        encoded["chainId"] = _quantity(chain_id)
    if type_id == 0:
        encoded["v"] = _quantity(transaction.v)  # type: ignore[attr-defined]
    else:
        encoded["v"] = encoded["yParity"] = _quantity(transaction.y_parity)
        encoded["accessList"] = [
            {
                "address": to_checksum_address(address),
                "storageKeys": [_data(key.to_bytes(32, "big")) for key in keys],
            }
            for address, keys in transaction.access_list
        ]
    if type_id >= 2:
        encoded["maxFeePerGas"] = _quantity(transaction.max_fee_per_gas)
        encoded["maxPriorityFeePerGas"] = _quantity(transaction.max_priority_fee_per_gas)
    return encoded


def _log(log: LogEntry) -> dict[str, Any]:
    return {
        "address": log.address,
        "topics": [_data(topic) for topic in log.topics],
        "data": _data(log.data),
        "blockNumber": _quantity(log.block_number),
        "blockHash": _data(log.block_hash),
        "transactionHash": _data(log.transaction_hash),
        "transactionIndex": _quantity(log.transaction_index),
        "logIndex": _quantity(log.log_index),
        "removed": False,
    }


def _receipt(details: TransactionDetails) -> dict[str, Any]:
    transaction, receipt = details.transaction, details.receipt
    return {
        "transactionHash": _data(receipt.transaction_hash),
        "transactionIndex": _quantity(details.transaction_index),
        "blockHash": _data(receipt.block_hash),
        "blockNumber": _quantity(receipt.block_number),
        "from": to_checksum_address(transaction.sender),
        "to": to_checksum_address(transaction.to) if transaction.to else None,
        "cumulativeGasUsed": _quantity(details.cumulative_gas_used),
        "gasUsed": _quantity(receipt.gas_used),
        "effectiveGasPrice": _quantity(details.effective_gas_price),
        "contractAddress": receipt.contract_address,
        "logs": [_log(log) for log in receipt.logs],
        "logsBloom": _data(details.logs_bloom.to_bytes(256, "big")),
        "status": _quantity(receipt.status),
        "type": _quantity(transaction.type_id or 0),
    }


def _revert(error: ContractRevertError) -> RpcError:
    revert_data = error.error_args[0] if error.error_args else b""
    data = revert_data if isinstance(revert_data, bytes) else b""
    # geth's shape: web3.py finds the custom error in "data".
    return RpcError(3, "execution reverted", _data(data))


# --- the methods -------------------------------------------------------------------------------


class EmbeddedRpcHandlers:
    """The JSON-RPC methods, over one chain, with the miner thread that batches transactions."""

    def __init__(
        self,
        chain: EmbeddedChain,
        batch_window: float = BATCH_WINDOW_SECONDS,
        policy: SenderPolicy | None = None,
    ) -> None:
        self.chain = chain
        self.policy = policy
        """Who may send transactions (None: anyone)."""
        self._batch_window = batch_window
        self._incoming: queue.Queue[tuple[bytes, Future[bytes]] | None] = queue.Queue()
        self._miner = threading.Thread(target=self._mine_forever, name="rpc-miner", daemon=True)
        self._miner.start()

    def stop(self) -> None:
        self._incoming.put(None)
        self._miner.join(timeout=30)

    def _mine_forever(self) -> None:
        try:
            self._mine_until_stopped()
        finally:
            # Whatever arrives after stop() must not wait for a miner that is gone.
            while True:
                try:
                    item = self._incoming.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].set_exception(ChainUnavailableError("the JSON-RPC server stopped"))

    def _mine_until_stopped(self) -> None:
        while True:
            first = self._incoming.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._batch_window
            stopping = False
            while len(batch) < MAX_TRANSACTIONS_PER_BLOCK:
                try:
                    item = self._incoming.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._mine(batch)
            if stopping:
                return

    def _mine(self, batch: Sequence[tuple[bytes, Future[bytes]]]) -> None:
        try:
            outcomes = self.chain.submit_raw_transactions([raw for raw, _ in batch])
        except Exception as error:  # the chain itself failed: every sender must hear it
            for _, future in batch:
                future.set_exception(error)
            return
        if self.policy is not None:
            # Before any sender hears its transaction was mined: the deployer's next
            # transaction must already find the OfficeRegistry it created.
            try:
                self.policy.mined([outcome for outcome in outcomes if isinstance(outcome, bytes)])
            except Exception as error:  # the policy's bookkeeping must not lose the block
                print(f"sender policy: {type(error).__name__}: {error}", file=sys.stderr)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, bytes):
                future.set_result(outcome)
            else:
                future.set_exception(outcome)

    def _block_number(self, tag: Any) -> int:
        if tag in (None, "latest", "pending", "safe", "finalized"):
            return self.chain.block_number()
        if tag == "earliest":
            return 0
        if isinstance(tag, dict):  # EIP-1898
            if "blockHash" in tag:
                header = self.chain.header_by_hash(_to_bytes(tag["blockHash"]))
                if header is None:
                    raise RpcError(-32000, f"unknown block {tag['blockHash']}")
                return int(header.block_number)
            return self._block_number(tag.get("blockNumber"))
        number = _to_int(tag)
        if number > self.chain.block_number():
            raise RpcError(-32000, f"block {number} does not exist yet")
        return number

    # Each method takes the JSON-RPC params list.

    def eth_chainId(self) -> str:
        return _quantity(self.chain.chain_id)

    def net_version(self) -> str:
        return str(self.chain.chain_id)

    def web3_clientVersion(self) -> str:
        return "ipchain-embedded/py-evm"

    def eth_syncing(self) -> bool:
        return False

    def eth_accounts(self) -> list[str]:
        return []

    def eth_blockNumber(self) -> str:
        return _quantity(self.chain.block_number())

    def eth_getBlockByNumber(self, tag: Any, full: bool = False) -> dict[str, Any] | None:
        try:
            number = self._block_number(tag)
        except RpcError:
            return None
        return self._block_object(number, full)

    def eth_getBlockByHash(self, block_hash: str, full: bool = False) -> dict[str, Any] | None:
        header = self.chain.header_by_hash(_to_bytes(block_hash))
        return None if header is None else self._block_object(header.block_number, full)

    def _block_object(self, number: int, full: bool) -> dict[str, Any]:
        header = self.chain.header(number)
        if not full:
            hashes = self.chain.get_block(number).transaction_hashes
            return _block(header, [_data(h) for h in hashes])
        transactions = self.chain.block_transactions(number)
        base_fee = header.base_fee_per_gas or 0
        return _block(
            header,
            [_transaction(t, header, i, _price(t, base_fee)) for i, t in enumerate(transactions)],
        )

    def eth_getTransactionCount(self, address: str, tag: Any = "latest") -> str:
        return _quantity(self.chain.get_nonce(address, self._block_number(tag)))

    def eth_getBalance(self, address: str, tag: Any = "latest") -> str:
        return _quantity(self.chain.get_balance(address, self._block_number(tag)))

    def eth_getCode(self, address: str, tag: Any = "latest") -> str:
        return _data(self.chain.get_code(address, self._block_number(tag)))

    def eth_getStorageAt(self, address: str, slot: str, tag: Any = "latest") -> str:
        value = self.chain.get_storage_at(address, _to_int(slot), self._block_number(tag))
        return _data(value.to_bytes(32, "big"))

    def eth_call(self, request: dict[str, Any], tag: Any = "latest") -> str:
        try:
            return _data(
                self.chain.call(
                    request.get("to") or "",
                    _call_data(request),
                    sender=request.get("from"),
                    block_number=self._block_number(tag),
                    value=_to_int(request.get("value", "0x0")),
                    gas=min(_to_int(request.get("gas", hex(CALL_GAS))), CALL_GAS),
                )
            )
        except ContractRevertError as error:
            raise _revert(error) from None

    def eth_estimateGas(self, request: dict[str, Any], tag: Any = "latest") -> str:
        try:
            return _quantity(
                self.chain.estimate_gas(
                    request.get("to"),
                    _call_data(request),
                    sender=request.get("from"),
                    value=_to_int(request.get("value", "0x0")),
                    block_number=self._block_number(tag),
                )
            )
        except ContractRevertError as error:
            raise _revert(error) from None

    def eth_sendRawTransaction(self, raw: str) -> str:
        return self.sent(self.enqueue(raw))

    def enqueue(self, raw: str) -> Future[bytes]:
        """Queue a raw transaction for the next block (see :meth:`sent`), once the sender
        policy, if any, allows its sender."""
        encoded = _to_bytes(raw)
        if self.policy is not None:
            try:
                self.policy.check_raw(encoded)
            except SenderRefusedError as error:
                raise RpcError(JSON_RPC_TRANSACTION_REJECTED, str(error)) from None
            except Exception as error:  # cannot tell who may send: refuse (fail closed)
                raise RpcError(
                    -32603, f"cannot check the sender ({type(error).__name__}: {error})"
                ) from None
        future: Future[bytes] = Future()
        self._incoming.put((encoded, future))
        return future

    @staticmethod
    def sent(future: Future[bytes]) -> str:
        """The ``eth_sendRawTransaction`` result once the transaction's block is mined."""
        try:
            return _data(future.result(timeout=300))
        except TransactionRejectedError as error:
            raise RpcError(-32000, str(error)) from None
        except TimeoutError:
            raise RpcError(-32000, "the transaction was not mined within 300 s") from None

    def eth_getTransactionReceipt(self, transaction_hash: str) -> dict[str, Any] | None:
        details = self.chain.transaction_details(_to_bytes(transaction_hash))
        return None if details is None else _receipt(details)

    def eth_getTransactionByHash(self, transaction_hash: str) -> dict[str, Any] | None:
        details = self.chain.transaction_details(_to_bytes(transaction_hash))
        if details is None:
            return None
        return _transaction(
            details.transaction,
            details.header,
            details.transaction_index,
            details.effective_gas_price,
        )

    def eth_getLogs(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        if "blockHash" in query:
            header = self.chain.header_by_hash(_to_bytes(query["blockHash"]))
            if header is None:
                raise RpcError(-32000, f"unknown block {query['blockHash']}")
            first = last = int(header.block_number)
        else:
            first = self._block_number(query.get("fromBlock", "latest"))
            last = self._block_number(query.get("toBlock", "latest"))
        address = query.get("address")
        addresses = None
        if address:
            listed = [address] if isinstance(address, str) else address
            addresses = frozenset(to_canonical_address(a) for a in listed)
        topics = [
            None
            if wanted is None
            else frozenset(_to_bytes(t) for t in ([wanted] if isinstance(wanted, str) else wanted))
            for wanted in query.get("topics") or []
        ]
        logs = self.chain.find_logs(
            addresses=addresses, from_block=first, to_block=last, topics=topics
        )
        return [_log(log) for log in logs]

    def eth_gasPrice(self) -> str:
        return _quantity(self.chain.base_fee_per_gas())

    def eth_maxPriorityFeePerGas(self) -> str:
        # Every valid transaction goes into the next block: a tip buys nothing here.
        return _quantity(0)

    def eth_feeHistory(
        self, block_count: Any, newest: Any, percentiles: Sequence[float] | None = None
    ) -> dict[str, Any]:
        last = self._block_number(newest)
        count = max(1, min(_to_int(block_count), 1024, last + 1))
        first = last - count + 1
        headers = [self.chain.header(n) for n in range(first, last + 1)]
        next_base_fee = self.chain.base_fee_per_gas() if last == self.chain.block_number() else None
        base_fees = [h.base_fee_per_gas or 0 for h in headers]
        base_fees.append(next_base_fee if next_base_fee is not None else base_fees[-1])
        history: dict[str, Any] = {
            "oldestBlock": _quantity(first),
            "baseFeePerGas": [_quantity(fee) for fee in base_fees],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers],
        }
        if percentiles:
            history["reward"] = [[_quantity(0)] * len(percentiles) for _ in headers]
        return history


METHODS = frozenset(
    name
    for name in vars(EmbeddedRpcHandlers)
    if name.startswith(("eth_", "net_", "web3_")) and callable(vars(EmbeddedRpcHandlers)[name])
)
"""The JSON-RPC methods served."""


def _price(transaction: SignedTransactionAPI, base_fee: int) -> int:
    if transaction.type_id in (None, 0, 1):
        return int(transaction.gas_price)
    return int(min(transaction.max_fee_per_gas, transaction.max_priority_fee_per_gas + base_fee))


def _call_data(request: dict[str, Any]) -> bytes:
    data = request.get("input") or request.get("data") or "0x"
    return _to_bytes(data)


# --- HTTP --------------------------------------------------------------------------------------


def _answer_batch(handlers: EmbeddedRpcHandlers, requests: list[Any]) -> list[dict[str, Any]]:
    """Responses to a JSON-RPC batch. Its raw transactions are all queued before any is
    waited for, so they are mined together, in the batch's order."""
    queued: dict[int, Callable[[], Any]] = {}
    for position, request in enumerate(requests):
        if _is_send(request):
            # Malformed or refused, it is answered (as an error) below, in its place.
            try:
                future = handlers.enqueue(request["params"][0])
            except RpcError as error:
                queued[position] = functools.partial(_raise, error)
            else:
                queued[position] = functools.partial(handlers.sent, future)
    answers = []
    for position, request in enumerate(requests):
        if position in queued:
            answer = _answer(handlers, request, queued[position])
        else:
            answer = _answer(handlers, request)
        if answer is not None:
            answers.append(answer)
    return answers


def _raise(error: RpcError) -> Any:
    raise error


def _is_send(request: Any) -> bool:
    return (
        isinstance(request, dict)
        and request.get("method") == "eth_sendRawTransaction"
        and isinstance(request.get("params"), list)
        and len(request["params"]) == 1
    )


def _answer(
    handlers: EmbeddedRpcHandlers, request: Any, run: Callable[[], Any] | None = None
) -> dict[str, Any] | None:
    """The response to one JSON-RPC request object (None for a notification). ``run``, when
    given, produces the result instead of calling the method."""
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "bad request"}}
    request_id = request.get("id")
    method = request["method"]
    params = request.get("params") or []
    try:
        if method not in METHODS:
            raise RpcError(-32601, f"method {method} is not supported by the embedded chain")
        function: Callable[..., Any] = getattr(handlers, method)
        if not isinstance(params, list):
            raise RpcError(-32602, "params must be a list")
        try:
            result = run() if run is not None else function(*params)
        except TypeError as error:
            raise RpcError(-32602, f"invalid params for {method}: {error}") from None
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "result": result}
    except RpcError as error:
        response = {"jsonrpc": "2.0", "id": request_id, "error": _error_object(error)}
    except (ChainError, ValueError) as error:
        response = {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": -32000, "message": str(error)},
        }
    return response if "id" in request else None


def _error_object(error: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return body


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    server: EmbeddedRpcServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length))
        except ValueError:
            self._send(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            )
            return
        handlers = self.server.handlers
        if isinstance(request, list):
            self._send(_answer_batch(handlers, request))
        else:
            self._send(_answer(handlers, request) or {})

    def _send(self, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the node's own log


class EmbeddedRpcServer(ThreadingHTTPServer):
    """The HTTP server; :meth:`stop` shuts it down and stops its miner (the chain stays open)."""

    daemon_threads = True

    def __init__(
        self, chain: EmbeddedChain, host: str, port: int, policy: SenderPolicy | None = None
    ) -> None:
        super().__init__((host, port), _RequestHandler)
        self.handlers = EmbeddedRpcHandlers(chain, policy=policy)
        self._thread = threading.Thread(target=self.serve_forever, name="rpc-http", daemon=True)

    @property
    def url(self) -> str:
        """``http://host:port`` the server listens on."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.handlers.stop()

    def __enter__(self) -> EmbeddedRpcServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_embedded_rpc(
    chain: EmbeddedChain,
    host: str = "127.0.0.1",
    port: int = 0,
    policy: SenderPolicy | None = None,
) -> tuple[EmbeddedRpcServer, str]:
    """Serve ``chain`` over JSON-RPC in background threads; return the server (call
    ``stop()``, or use it as a context manager) and its URL. Port 0 picks a free port.
    ``policy`` decides who may send transactions (default: anyone)."""
    server = EmbeddedRpcServer(chain, host, port, policy)
    server.start()
    return server, server.url
