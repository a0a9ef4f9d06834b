"""Account addresses in their EIP-55 form, as every backend reports them."""

from __future__ import annotations

from functools import lru_cache

from eth_utils import to_checksum_address


@lru_cache(maxsize=4096)
def checksum_address(address: str) -> str:
    """EIP-55 form of an address, cached: a node sees the same few accounts over and over, and
    each checksum costs a keccak."""
    return to_checksum_address(address)
