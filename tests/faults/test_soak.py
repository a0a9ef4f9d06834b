"""The fault and load suite, ``scripts/soak.py --short``, as part of the normal test run: a
real ``ipchain serve`` (embedded chain, SQLite) killed process by process, its disks filled
(root only: tmpfs), its chain stopped, then a one-minute soak; every accepted event anchored
exactly once. The script prints a table and exits 0 only when every check passed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "soak.py"
BUDGET_SECONDS = 180
"""The short profile's promise: the whole run in 3 minutes on a 2-core machine."""


@pytest.mark.timeout(BUDGET_SECONDS + 120)
def test_the_short_soak_passes_every_scenario(tmp_path: Path) -> None:
    scenarios = ["kill", "unreachable", "soak"]
    if os.geteuid() == 0:  # the disk scenario mounts tmpfs
        scenarios.insert(1, "disk")
    output = tmp_path / "soak.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--short", "--scenarios", ",".join(scenarios)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        process.wait(timeout=BUDGET_SECONDS)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: the script then stops its node and unmounts its tmpfs.
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        pytest.fail(f"the short soak took over {BUDGET_SECONDS} s:\n{output.read_text()[-6000:]}")
    text = output.read_text()
    assert "soak results" in text, text[-6000:]
    table = text[text.index("soak results") :]
    for name in [*scenarios, "end checks (all)"]:
        assert f"│ {name} " in table, table
    assert process.returncode == 0, text[-6000:]
