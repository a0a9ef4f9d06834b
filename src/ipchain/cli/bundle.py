"""``ipchain bundle RECORD_KEY``: write a record's proof bundle, built from the chain alone.

Uses the node's chain connection and deployment (``--data-dir``, ``--rpc``); the bundle goes to
``--out FILE`` or standard output. Anyone can then check it with ``ipchain verify``.

Exit codes: 0 written; 2 nothing to write (a malformed record key, a record with no anchored
event, an uninitialised data directory, an unreachable chain): one line on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Final

from ipchain.config import Settings
from ipchain.errors import IpchainError
from ipchain.register.catalog import RecordKey
from ipchain.verification import build_bundle, dump_bundle

EXIT_WRITTEN: Final = 0
"""The bundle was written."""
EXIT_BAD_INPUT: Final = 2
"""No bundle: bad input, or the chain could not be read."""


def run_bundle(settings: Settings, record_key: str, out: Path | None) -> int:
    """Build the proof bundle of ``record_key`` and write it; returns the exit code."""
    try:
        key = str(RecordKey.parse(record_key))
        if not settings.deployment_file.exists():
            raise IpchainError(
                f"{settings.data_dir} is not an initialised node: run 'ipchain init', or give "
                "the --data-dir of the node whose chain holds the record"
            )
        from ipchain.node.setup import Node

        node = Node.open(settings)
        try:
            bundle = build_bundle(node.backend, node.deployment, key)
        finally:
            node.close()
        content = dump_bundle(bundle)
        if out is None:
            sys.stdout.write(content.decode("utf-8"))
            sys.stdout.flush()
        else:
            _write(out, content)
            count = len(bundle["entries"])
            print(f"{key}: proof bundle of {count} event(s) written to {out}", file=sys.stderr)
    except IpchainError as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    except OSError as error:
        _error(f"cannot write {out}: {error.strerror or error}")
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: still one line
        _error(f"bundle aborted by an internal error ({type(error).__name__}: {error})")
        return EXIT_BAD_INPUT
    return EXIT_WRITTEN


def _write(path: Path, content: bytes) -> None:
    """Write through a temporary file, so a failure never leaves half a bundle."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(content)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
