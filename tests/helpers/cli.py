"""Running the ``ipchain`` command as a user does: a real process, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys

IPCHAIN = [sys.executable, "-m", "api.cli"]


def run(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "IPCHAIN_KEYSTORE_FAST_KDF": "1", **(env or {})}
    return subprocess.run(
        [*IPCHAIN, *arguments], capture_output=True, text=True, env=environment, timeout=300
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]
    assert "Traceback" not in result.stderr
