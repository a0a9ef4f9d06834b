"""A chain backend over any standard Ethereum JSON-RPC node (anvil, Hyperledger Besu, ...)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import requests
from hexbytes import HexBytes

from ipchain.chain.addresses import checksum_address
from ipchain.chain.base import (
    BlockInfo,
    Call,
    ChainBackend,
    GetBlock,
    GetCode,
    LogEntry,
    Read,
    Receipt,
    Topic,
)
from ipchain.errors import (
    ChainError,
    ChainMismatchError,
    ChainUnavailableError,
    ContractRevertError,
    ReceiptTimeoutError,
    TransactionRejectedError,
)

# Receipts are polled, not pushed: HTTP is the one transport every node (and Besu behind a
# firewall) offers. The interval keeps latency low without flooding the node.
_POLL_INTERVAL_SECONDS = 0.02
_MAX_BATCH_REQUESTS = 100
_MAX_BATCH_BYTES = 512 * 1024  # raw bytes; hex-encoded on the wire, so about 1 MB of body
_MAX_BATCH_READS = 500  # per batch request of read_batch: within Besu's and anvil's limits


def _bytes(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text[2:])


def _log_from_rpc(raw: Any) -> LogEntry:
    return LogEntry(
        address=checksum_address(raw["address"]),
        topics=tuple(_bytes(topic) for topic in raw["topics"]),
        data=_bytes(raw["data"]),
        block_number=int(raw["blockNumber"], 16),
        block_hash=_bytes(raw["blockHash"]),
        transaction_hash=_bytes(raw["transactionHash"]),
        transaction_index=int(raw["transactionIndex"], 16),
        log_index=int(raw["logIndex"], 16),
    )


class RpcChain(ChainBackend):
    """A JSON-RPC node reached over HTTP.

    Construct with :meth:`connect`, which checks the node answers and, when ``expected_chain_id``
    is given, that it is the expected chain. It speaks JSON-RPC directly over one pooled HTTP
    session, batch requests included (:meth:`send_raw_transactions`, :meth:`read_batch`).
    """

    def __init__(self, url: str, session: requests.Session, chain_id: int, timeout: float) -> None:
        self.url = url
        self._session = session
        self._chain_id = chain_id
        self._timeout = timeout
        self._request_id = 0

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        expected_chain_id: int | None = None,
        timeout: float = 30.0,
        token: str | None = None,
    ) -> RpcChain:
        """Connect to ``url``; raise :class:`ChainUnavailableError` if it does not answer.
        ``token`` is sent as a bearer token (a Besu node with JWT authentication)."""
        session = requests.Session()
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        chain = cls(url, session, 0, timeout)
        try:
            chain._chain_id = int(chain._rpc("eth_chainId", []), 16)
        except ChainError as error:
            chain.close()
            if isinstance(error, ChainUnavailableError):
                raise
            raise ChainUnavailableError(
                f"{url} is not an Ethereum JSON-RPC node ({error})"
            ) from None
        if expected_chain_id is not None and chain._chain_id != expected_chain_id:
            chain.close()
            raise ChainMismatchError(
                f"JSON-RPC node at {url} is chain id {chain._chain_id}, "
                f"expected {expected_chain_id}"
            )
        return chain

    @property
    def endpoint(self) -> str:
        return self.url

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def _post(self, payload: Any, timeout: float | None = None) -> Any:
        try:
            reply = self._session.post(self.url, json=payload, timeout=timeout or self._timeout)
            reply.raise_for_status()
            return reply.json()
        except (requests.RequestException, ValueError) as error:
            raise ChainUnavailableError(
                f"JSON-RPC node at {self.url} does not answer ({type(error).__name__})"
            ) from None

    def _rpc(self, method: str, params: list[Any]) -> Any:
        self._request_id += 1
        response = self._post(
            {"jsonrpc": "2.0", "id": self._request_id, "method": method, "params": params}
        )
        return _result(method, response)

    def request(self, method: str, params: list[Any]) -> Any:
        """Any JSON-RPC method (e.g. ``anvil_setBalance`` in dev set-ups)."""
        return self._rpc(method, params)

    def block_number(self) -> int:
        return int(self._rpc("eth_blockNumber", []), 16)

    def block_number_within(self, seconds: float) -> int:
        self._request_id += 1
        payload = {"jsonrpc": "2.0", "id": self._request_id, "method": "eth_blockNumber"}
        response = self._post({**payload, "params": []}, timeout=seconds)
        return int(_result("eth_blockNumber", response), 16)

    def get_block(self, number: int) -> BlockInfo:
        return _block(number, self._rpc("eth_getBlockByNumber", [hex(number), False]))

    def get_nonce(self, address: str) -> int:
        return int(self._rpc("eth_getTransactionCount", [address, "pending"]), 16)

    def get_balance(self, address: str) -> int:
        return int(self._rpc("eth_getBalance", [address, "latest"]), 16)

    def get_code(self, address: str, block_number: int | None = None) -> bytes:
        block = "latest" if block_number is None else hex(block_number)
        return bytes(HexBytes(self._rpc("eth_getCode", [address, block])))

    def call(
        self, to: str, data: bytes, *, sender: str | None = None, block_number: int | None = None
    ) -> bytes:
        transaction: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
        if sender is not None:
            transaction["from"] = sender
        block = "latest" if block_number is None else hex(block_number)
        return bytes(HexBytes(self._rpc("eth_call", [transaction, block])))

    def send_raw_transactions(self, raw_transactions: Sequence[bytes]) -> list[bytes]:
        hashes: list[bytes] = []
        # JSON-RPC batch requests: one HTTP round trip per chunk keeps submission off the
        # critical path; chunks stay under the request count and body size limits nodes set
        # (anvil refuses bodies of a few MB).
        chunk: list[bytes] = []
        chunk_bytes = 0
        for raw in raw_transactions:
            if chunk and (
                len(chunk) >= _MAX_BATCH_REQUESTS or chunk_bytes + len(raw) > _MAX_BATCH_BYTES
            ):
                hashes += self._send_chunk(chunk)
                chunk, chunk_bytes = [], 0
            chunk.append(raw)
            chunk_bytes += len(raw)
        if chunk:
            hashes += self._send_chunk(chunk)
        return hashes

    def _send_chunk(self, raw_transactions: Sequence[bytes]) -> list[bytes]:
        payload = [
            {
                "jsonrpc": "2.0",
                "id": index,
                "method": "eth_sendRawTransaction",
                "params": ["0x" + raw.hex()],
            }
            for index, raw in enumerate(raw_transactions)
        ]
        responses = self._post(payload)
        if not isinstance(responses, list):
            error = responses.get("error", responses) if isinstance(responses, dict) else responses
            raise TransactionRejectedError(f"node rejected the batch: {error}")
        hashes: list[bytes] = []
        for response in sorted(responses, key=lambda item: int(item["id"])):
            if "error" in response:
                message = response["error"].get("message", str(response["error"]))
                raise TransactionRejectedError(f"node rejected transaction: {message}")
            hashes.append(bytes(HexBytes(response["result"])))
        return hashes

    def get_receipt(self, transaction_hash: bytes) -> Receipt | None:
        raw = self._rpc("eth_getTransactionReceipt", ["0x" + transaction_hash.hex()])
        if raw is None or raw.get("blockNumber") is None:
            return None
        contract_address = raw.get("contractAddress")
        return Receipt(
            transaction_hash=bytes(HexBytes(raw["transactionHash"])),
            block_number=int(raw["blockNumber"], 16),
            block_hash=bytes(HexBytes(raw["blockHash"])),
            status=int(raw["status"], 16),
            gas_used=int(raw["gasUsed"], 16),
            logs=tuple(_log_from_rpc(log) for log in raw["logs"]),
            revert_data=None,
            contract_address=checksum_address(contract_address) if contract_address else None,
        )

    def wait_for_receipts(
        self, transaction_hashes: Sequence[bytes], timeout: float = 120.0
    ) -> list[Receipt]:
        deadline = time.monotonic() + timeout
        found: dict[bytes, Receipt] = {}
        pending = list(transaction_hashes)
        while pending:
            still_pending = []
            for transaction_hash in pending:
                receipt = self.get_receipt(transaction_hash)
                if receipt is None:
                    still_pending.append(transaction_hash)
                else:
                    found[transaction_hash] = receipt
            pending = still_pending
            if pending:
                if time.monotonic() > deadline:
                    raise ReceiptTimeoutError(
                        f"{len(pending)} transaction(s) not mined after {timeout:.0f} s, "
                        f"first 0x{pending[0].hex()}"
                    )
                time.sleep(_POLL_INTERVAL_SECONDS)
        return [found[transaction_hash] for transaction_hash in transaction_hashes]

    def get_logs(
        self,
        *,
        address: str | Sequence[str],
        from_block: int,
        to_block: int,
        topics: Sequence[Topic] | None = None,
    ) -> list[LogEntry]:
        addresses = [address] if isinstance(address, str) else list(address)
        log_filter: dict[str, Any] = {
            "address": addresses,
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        if topics is not None:
            log_filter["topics"] = [_topic_json(topic) for topic in topics]
        raw_logs = self._rpc("eth_getLogs", [log_filter])
        return [_log_from_rpc(raw) for raw in raw_logs]

    def read_batch(self, reads: Sequence[Read]) -> list[Any]:
        """The reads as JSON-RPC batch requests (one round trip per 500)."""
        answers: list[Any] = []
        for start in range(0, len(reads), _MAX_BATCH_READS):
            chunk = reads[start : start + _MAX_BATCH_READS]
            payload = [
                {"jsonrpc": "2.0", "id": number, "method": method, "params": params}
                for number, (method, params) in enumerate(map(_request, chunk))
            ]
            responses = self._post(payload)
            if not isinstance(responses, list):
                raise ChainUnavailableError(
                    f"JSON-RPC node at {self.url} does not answer batch requests"
                )
            by_id = {item.get("id"): item for item in responses if isinstance(item, dict)}
            answers += [_answer(read, by_id.get(n)) for n, read in enumerate(chunk)]
        return answers

    def close(self) -> None:
        self._session.close()


# --- JSON-RPC forms of reads and answers ------------------------------------------------------


def _result(method: str, response: Any) -> Any:
    """The result of one JSON-RPC response, or the error it carries, raised."""
    if not isinstance(response, dict):
        raise ChainError(f"{method}: malformed JSON-RPC response")
    if "error" in response:
        error = response["error"]
        if method == "eth_call" and isinstance(error, dict) and "data" in error:
            data = error["data"]
            revert = bytes(HexBytes(data)) if isinstance(data, str) else b""
            raise ContractRevertError(f"call reverted: {error.get('message', '')}", args=(revert,))
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        raise ChainError(f"{method} failed: {message}")
    return response.get("result")


def _block(number: int, raw: Any) -> BlockInfo:
    if raw is None:
        raise ChainError(f"block {number} does not exist")
    return BlockInfo(
        number=int(raw["number"], 16),
        hash=bytes(HexBytes(raw["hash"])),
        parent_hash=bytes(HexBytes(raw["parentHash"])),
        timestamp=int(raw["timestamp"], 16),
        transaction_hashes=tuple(bytes(HexBytes(h)) for h in raw["transactions"]),
    )


def _topic_json(topic: Topic) -> str | list[str] | None:
    if topic is None:
        return None
    if isinstance(topic, bytes):
        return "0x" + topic.hex()
    return ["0x" + value.hex() for value in topic]


def _request(read: Read) -> tuple[str, list[Any]]:
    if isinstance(read, Call):
        block = "latest" if read.block_number is None else hex(read.block_number)
        return "eth_call", [{"to": read.to, "data": "0x" + read.data.hex()}, block]
    if isinstance(read, GetCode):
        return "eth_getCode", [read.address, "latest"]
    if isinstance(read, GetBlock):
        return "eth_getBlockByNumber", [hex(read.number), False]
    log_filter = {
        "address": read.address,
        "fromBlock": hex(read.from_block),
        "toBlock": hex(read.to_block),
        "topics": [_topic_json(topic) for topic in read.topics],
    }
    return "eth_getLogs", [log_filter]


def _answer(read: Read, response: dict[str, Any] | None) -> Any:
    """One read's answer from its response: the value, or the ChainError it met."""
    method = _request(read)[0]
    if response is None:
        return ChainError(f"{method}: the node left a request of the batch unanswered")
    try:
        result = _result(method, response)
        if isinstance(read, Call | GetCode):
            return bytes(HexBytes(result))
        if isinstance(read, GetBlock):
            return _block(read.number, result)
        return [_log_from_rpc(raw) for raw in result]
    except ChainError as error:
        return error
    except (TypeError, KeyError, ValueError):
        return ChainError(f"malformed answer to {method}")
