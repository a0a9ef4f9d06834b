"""A py-evm database over LevelDB that writes each block with one atomic, synced write.

py-evm writes trie nodes, headers, receipts and the canonical head through many small
``db[key] = value`` calls spread over a block's execution, some inside its own
``atomic_batch()`` and some not. A crash between two of them would leave a half-written block
on disk. :class:`StagedLevelDB` therefore keeps every write in memory until the embedded chain
calls :meth:`StagedLevelDB.commit` once the block (and ipchain's own index entries for it)
are complete, and then hands LevelDB a single write batch. LevelDB applies a batch
atomically, so after ``kill -9`` (or a power cut, with ``sync=True``) the database holds
either the whole block or none of it. :meth:`StagedLevelDB.discard` drops a block that failed
validation, so a rejected transaction leaves nothing behind.

A write that fails (a full disk, an I/O error) drops the staged block too: nothing of it may
outlive the failure in memory. LevelDB itself must then be closed and opened again
(:meth:`StagedLevelDB.reopen`): after a failed append its log writer no longer knows where
the file ends, so later writes would follow a torn record that recovery may drop with them.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import plyvel
from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB

_DELETED = object()
"""Marker in the staging area for a key deleted since the last commit."""

_READ_CACHE_SIZE = 50_000
"""Committed key/value pairs kept in memory (a few tens of MB at most): headers, receipts and
trie nodes read again and again (the state root's first levels, the latest blocks) cost a dict
lookup instead of a LevelDB read. Keys either never change value or are updated here on
commit, so the cache never serves stale data."""


class StagedLevelDB(BaseAtomicDB):
    """An ``AtomicDatabaseAPI`` for py-evm whose writes reach LevelDB only on :meth:`commit`."""

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        # py-evm's lru_caches keep this object, and so the plyvel handle, alive until the
        # interpreter tears its modules down, where plyvel's __dealloc__ fails noisily
        # ("Error in sys.excepthook"). Holding the handle in a list that close() -- or, for a
        # database nobody closed, an exit hook -- empties frees it while Python still works.
        self.path = path
        self._handles = [plyvel.DB(str(path), create_if_missing=True)]
        weakref.finalize(self, _release, self._handles)
        self._sync = sync
        self._staged: dict[bytes, bytes | object] = {}
        self._read_cache: OrderedDict[bytes, bytes] = OrderedDict()

    # --- reads and writes as py-evm sees them -----------------------------------------------

    def __getitem__(self, key: bytes) -> bytes:
        staged = self._staged.get(key)
        if staged is not None:
            if staged is _DELETED:
                raise KeyError(key)
            return staged  # type: ignore[return-value]
        cached = self._read_cache.get(key)
        if cached is not None:
            return cached
        value = self._handles[0].get(key)
        if value is None:
            raise KeyError(key)
        self._remember(key, value)
        return value  # type: ignore[no-any-return]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._staged[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._staged[key] = _DELETED

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        # py-evm's own batches land in the staging area; durability comes from commit().
        with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
            yield batch

    # --- durability ---------------------------------------------------------------------------

    @property
    def has_staged_writes(self) -> bool:
        """True when writes are waiting for :meth:`commit`."""
        return bool(self._staged)

    def commit(self, extra: Mapping[bytes, bytes] | None = None) -> None:
        """Write every staged change, plus ``extra`` pairs, in one atomic LevelDB batch.

        When LevelDB fails the write (``plyvel.IOError``, an ``OSError``), the staged changes
        are dropped before the error propagates, and the caller must :meth:`reopen` the
        database before writing again."""
        if extra:
            self._staged.update(extra)
        if not self._staged:
            return
        try:
            with self._handles[0].write_batch(transaction=True, sync=self._sync) as batch:
                for key, value in self._staged.items():
                    if value is _DELETED:
                        batch.delete(key)
                    else:
                        batch.put(key, value)
        except BaseException:
            self._staged = {}
            raise
        for key, value in self._staged.items():
            if value is _DELETED:
                self._read_cache.pop(key, None)
            else:
                self._remember(key, value)  # type: ignore[arg-type]
        self._staged = {}

    def discard(self) -> None:
        """Forget every write since the last :meth:`commit`."""
        self._staged = {}

    def get_committed(self, key: bytes) -> bytes | None:
        """A value as it is on disk, ignoring staged writes."""
        value: Any = self._handles[0].get(key)
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close LevelDB; staged writes that were not committed are lost, as after a crash."""
        self._staged = {}
        self._read_cache.clear()
        _release(self._handles)

    def reopen(self) -> None:
        """Close LevelDB and open it again, as a restarted process would: staged writes and
        cached values are forgotten and LevelDB recovers its log (a record torn by a failed
        write is dropped). Raises ``plyvel.Error`` (an ``OSError``) when it cannot be opened
        (a disk still full: opening writes a new log and table); the database then stays
        closed until a later :meth:`reopen` succeeds."""
        self.close()
        self._handles.append(plyvel.DB(str(self.path), create_if_missing=False))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return not self._handles

    def _remember(self, key: bytes, value: bytes) -> None:
        cache = self._read_cache
        cache[key] = value
        if len(cache) > _READ_CACHE_SIZE:
            cache.popitem(last=False)


def _release(handles: list[Any]) -> None:
    """Close the plyvel handles and drop them (see ``StagedLevelDB.__init__``)."""
    for handle in handles:
        if not handle.closed:
            handle.close()
    handles.clear()
