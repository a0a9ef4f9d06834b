"""ipchain — a permissioned-blockchain register of trademark and design events for IP offices."""

import os

# Keccak through pysha3 (C) rather than pycryptodome: about five times faster per hash, and
# anchoring hashes every record key, entry and address. Must be set before eth-hash loads.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

__version__ = "0.1.0"
