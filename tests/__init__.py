"""The test suite. Before anything hashes: libraries' keccak (py-evm's embedded chain,
eth-utils) through pysha3, as the ``ipchain`` command chooses (see ipchain.encoding)."""

from ipchain.encoding import prefer_pysha3_for_libraries

prefer_pysha3_for_libraries()
