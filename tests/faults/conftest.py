"""A small filesystem of its own that a test can fill: a tmpfs mounted for the test (root only:
CI runs as root), unmounted afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_CHUNK = 64 * 1024


@dataclass
class SmallDisk:
    """A mounted tmpfs: ``path`` is its root; :meth:`fill` takes every free byte, :meth:`free`
    gives them back."""

    path: Path

    @property
    def filler(self) -> Path:
        return self.path / "filler"

    def fill(self) -> None:
        """Write a file until the filesystem is full (ENOSPC), down to its last byte."""
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = _CHUNK
            while size:
                try:
                    os.write(descriptor, b"\0" * size)
                except OSError:
                    size //= 2
        finally:
            os.close(descriptor)
        assert self.free_bytes() == 0

    def free(self) -> None:
        """Delete the filler."""
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize


def _mount(target: Path, size_mb: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(target)],
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def small_disk(target: Path, size_mb: int) -> Iterator[SmallDisk]:
    """A tmpfs of ``size_mb`` MiB mounted at ``target`` for the duration."""
    if os.geteuid() != 0:
        pytest.skip("disk-full tests mount a small tmpfs, which needs root (CI runs as root)")
    _mount(target, size_mb)
    try:
        yield SmallDisk(target)
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


from tests.api.conftest import (  # noqa: E402, F401 - fixtures, found by name
    database,
    node_template,
    signer_keys,
    start_node,
)
from tests.db.conftest import database_url, sessions  # noqa: E402, F401 - fixtures
