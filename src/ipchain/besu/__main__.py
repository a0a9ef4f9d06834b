"""``python -m ipchain.besu``: the same as ``ipchain besu``."""

from ipchain.besu.cli import main
from ipchain.encoding import prefer_pysha3_for_libraries

if __name__ == "__main__":
    prefer_pysha3_for_libraries()
    raise SystemExit(main())
