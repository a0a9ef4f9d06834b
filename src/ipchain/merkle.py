"""RFC 9162 (Certificate Transparency 2.0) Merkle trees: roots, inclusion and consistency proofs.

An office's bulk log of events is a Merkle tree whose checkpoints ``(tree_size, root)`` go
on-chain; auditors then need only a leaf, a proof and a checkpoint. Hashing, as RFC 9162
§2.1.1 (and RFC 6962 before it) defines it with SHA-256::

    leaf hash  = SHA-256(0x00 || leaf data)
    node hash  = SHA-256(0x01 || left child hash || right child hash)
    empty tree = SHA-256("")

The distinct prefixes stop a leaf from posing as an inner node (second-preimage attacks).

Written here by hand: no widely used, well-maintained Python library implements RFC 9162
proofs (the maintained reference is Go's transparency-dev/merkle). Generation follows the
recursive definitions of §2.1.3.1 and §2.1.4.1; verification follows the algorithms of
§2.1.3.2 and §2.1.4.2 step by step, and is tested against transparency-dev's vectors.

Functions that build trees come in two forms: ``root(leaves)`` takes the leaf *data* (the
RFC's ``D[n]``) and hashes it; ``root_from_leaf_hashes(leaf_hashes)`` takes leaf hashes already
computed, for logs that keep only those. :class:`MerkleTree` keeps subtree hashes for logs
that serve many proofs. Verifiers always take the leaf *hash*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Final

from ipchain.errors import InvalidInputError, VerificationError

HASH_LENGTH: Final = 32
"""SHA-256 output length; every proof element is this long."""

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""Root hash of the tree with no leaves (RFC 9162 §2.1.1: the hash of the empty string)."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an inner node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --- building: roots and proofs (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) ------------------------


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash ``MTH(D[n])`` of the leaf data ``leaves``."""
    return root_from_leaf_hashes([leaf_hash(data) for data in leaves])


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a tree given by its leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _recomputed_subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path ``PATH(index, D[n])`` proving leaf ``index`` is in the tree of ``leaves``."""
    return inclusion_proof_from_leaf_hashes(index, [leaf_hash(data) for data in leaves])


def inclusion_proof_from_leaf_hashes(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """:func:`inclusion_proof` for a tree given by its leaf hashes."""
    return _inclusion_path(index, len(leaf_hashes), partial(_recomputed_subtree_root, leaf_hashes))


def consistency_proof(size1: int, leaves: Sequence[bytes]) -> list[bytes]:
    """``PROOF(size1, D[n])``: proves the tree of the first ``size1`` leaves is a prefix of the
    tree of all ``leaves``. Empty when ``size1`` is the whole tree."""
    return consistency_proof_from_leaf_hashes(size1, [leaf_hash(data) for data in leaves])


def consistency_proof_from_leaf_hashes(size1: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """:func:`consistency_proof` for a tree given by its leaf hashes."""
    subtree_root = partial(_recomputed_subtree_root, leaf_hashes)
    return _consistency_path(size1, len(leaf_hashes), subtree_root)


class MerkleTree:
    """An append-only tree that keeps the hash of every complete subtree.

    The one-shot functions above rehash the whole tree for each proof (O(n)); this keeps
    about 2n hashes in memory so that the root and proofs for any tree size up to
    :attr:`size` cost O(log² n): what a log serving many proofs, or an auditor checking a
    million events, needs.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[h][i] is the root of the complete subtree of leaves [i * 2**h, (i+1) * 2**h).
        level = [bytes(hash_) for hash_ in leaf_hashes]
        if any(len(hash_) != HASH_LENGTH for hash_ in level):
            raise InvalidInputError(f"every leaf hash must be {HASH_LENGTH} bytes")
        self._levels: list[list[bytes]] = [level]
        # Level by level: 1.8 s for a million leaves here, against 4.7 s leaf by leaf.
        while len(level) >= 2:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self._levels.append(level)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Add a leaf by its data; return its index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, hash_: bytes) -> int:
        """Add a leaf by its leaf hash; return its index."""
        if len(hash_) != HASH_LENGTH:
            raise InvalidInputError(f"a leaf hash is {HASH_LENGTH} bytes, got {len(hash_)}")
        self._levels[0].append(bytes(hash_))
        height = 0
        # Each leaf that completes a pair completes a subtree one level up, and so on.
        while len(self._levels[height]) % 2 == 0:
            pair = self._levels[height][-2:]
            if height + 1 == len(self._levels):
                self._levels.append([])
            self._levels[height + 1].append(node_hash(pair[0], pair[1]))
            height += 1
        return self.size - 1

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first ``size`` leaves (default: all)."""
        size = self._check_size(size)
        return self._subtree_root(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[size])``, for the tree of the first ``size`` leaves (default: all)."""
        return _inclusion_path(index, self._check_size(size), self._subtree_root)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """``PROOF(size1, D[size2])`` (``size2`` defaults to all leaves)."""
        return _consistency_path(size1, self._check_size(size2), self._subtree_root)

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise InvalidInputError(f"tree size {size} is not in 0..{self.size}", field="size")
        return size

    def _subtree_root(self, start: int, end: int) -> bytes:
        count = end - start
        if count & (count - 1) == 0 and start % count == 0:
            height = count.bit_length() - 1
            return self._levels[height][start >> height]
        # The RFC's split puts a complete, aligned subtree on the left; only the right edge
        # recurses, so this costs O(log n) lookups and hashes.
        split = start + _largest_power_of_two_below(count)
        return node_hash(self._subtree_root(start, split), self._subtree_root(split, end))


SubtreeRoot = Callable[[int, int], bytes]
"""``MTH(D[start:end])`` of a non-empty leaf range, however a tree computes it."""


def _largest_power_of_two_below(count: int) -> int:
    """``k`` of the RFC: the largest power of two smaller than ``count`` (count > 1)."""
    return 1 << ((count - 1).bit_length() - 1)


def _recomputed_subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` for a non-empty range, hashed afresh without copying slices."""
    if end - start == 1:
        return leaf_hashes[start]
    split = start + _largest_power_of_two_below(end - start)
    return node_hash(
        _recomputed_subtree_root(leaf_hashes, start, split),
        _recomputed_subtree_root(leaf_hashes, split, end),
    )


def _inclusion_path(index: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    if not 0 <= index < size:
        raise InvalidInputError(
            f"leaf index {index} is not in a tree of {size} leaves", field="index"
        )
    proof: list[bytes] = []
    _path(index, 0, size, subtree_root, proof)
    return proof


def _consistency_path(size1: int, size2: int, subtree_root: SubtreeRoot) -> list[bytes]:
    # RFC 9162 defines proofs for 0 < size1 <= size2 only: every tree extends the empty one.
    if not 0 < size1 <= size2:
        raise InvalidInputError(
            f"no consistency proof from size {size1} to size {size2}: need 0 < size1 <= size2",
            field="size1",
        )
    proof: list[bytes] = []
    _subproof(size1, 0, size2, True, subtree_root, proof)
    return proof


def _path(index: int, start: int, end: int, subtree_root: SubtreeRoot, out: list[bytes]) -> None:
    """Append ``PATH(index, D[start:end])`` to ``out``, leaf-most sibling first. ``index``
    counts from ``start``."""
    if end - start == 1:
        return
    split = start + _largest_power_of_two_below(end - start)
    if start + index < split:
        _path(index, start, split, subtree_root, out)
        out.append(subtree_root(split, end))
    else:
        _path(start + index - split, split, end, subtree_root, out)
        out.append(subtree_root(start, split))


def _subproof(
    size1: int,
    start: int,
    end: int,
    size1_is_whole_old_tree: bool,
    subtree_root: SubtreeRoot,
    out: list[bytes],
) -> None:
    """Append ``SUBPROOF(size1, D[start:end], b)`` to ``out``."""
    count = end - start
    if size1 == count:
        # The verifier knows the old root itself only when this subtree is the whole old tree.
        if not size1_is_whole_old_tree:
            out.append(subtree_root(start, end))
        return
    split = _largest_power_of_two_below(count)
    if size1 <= split:
        _subproof(size1, start, start + split, size1_is_whole_old_tree, subtree_root, out)
        out.append(subtree_root(start + split, end))
    else:
        _subproof(size1 - split, start + split, end, False, subtree_root, out)
        out.append(subtree_root(start, start + split))


# --- verifying (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows the leaf with ``leaf_hash`` at ``index`` in the tree of
    ``tree_size`` leaves whose root is ``root``. Never raises on bad proofs."""
    return _inclusion_failure(leaf_hash, index, tree_size, proof, root) is None


def check_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """:func:`verify_inclusion`, raising :class:`VerificationError` with the reason."""
    failure = _inclusion_failure(leaf_hash, index, tree_size, proof, root)
    if failure is not None:
        raise VerificationError(f"inclusion proof for leaf {index} of {tree_size}: {failure}")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree (``size1``, ``root1``) is a prefix of the tree
    (``size2``, ``root2``). Never raises on bad proofs.

    Equal sizes need an empty proof and equal roots. Size 0 is refused: every tree extends the
    empty tree, so such a "proof" would prove nothing (RFC 9162 requires 0 < first).
    """
    return _consistency_failure(size1, size2, root1, root2, proof) is None


def check_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """:func:`verify_consistency`, raising :class:`VerificationError` with the reason."""
    failure = _consistency_failure(size1, size2, root1, root2, proof)
    if failure is not None:
        raise VerificationError(f"consistency proof from size {size1} to {size2}: {failure}")


def _inclusion_failure(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> str | None:
    """Why the inclusion proof fails, or None when it holds (RFC 9162 §2.1.3.2)."""
    # Step 1.
    if not 0 <= index < tree_size:
        return "leaf index is outside the tree"
    # With no proof to hash, anything equal to the root would pass as a one-leaf tree's leaf.
    if len(leaf_hash) != HASH_LENGTH:
        return f"leaf hash is not {HASH_LENGTH} bytes"
    if any(len(element) != HASH_LENGTH for element in proof):
        return f"a proof element is not a {HASH_LENGTH}-byte hash"
    # Steps 2 and 3: fn walks the leaf's position up the tree, sn the last leaf's.
    fn, sn = index, tree_size - 1
    computed = leaf_hash
    # Step 4.
    for sibling in proof:
        if sn == 0:
            return "proof is longer than the tree is high"
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            if not fn & 1:
                # A right-edge node with no right sibling: climb past the levels where it is
                # carried up unchanged.
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        return "proof is shorter than the tree is high"
    if computed != root:
        return "computed root does not match"
    return None


def _consistency_failure(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> str | None:
    """Why the consistency proof fails, or None when it holds (RFC 9162 §2.1.4.2)."""
    if size1 <= 0:
        return "a proof from the empty tree proves nothing"
    if size1 > size2:
        return "the second tree is smaller than the first"
    if size1 == size2:
        if proof:
            return "trees of equal size need an empty proof"
        return None if root1 == root2 else "trees of equal size have different roots"
    # Step 1.
    if not proof:
        return "proof is empty"
    if any(len(element) != HASH_LENGTH for element in proof):
        return f"a proof element is not a {HASH_LENGTH}-byte hash"
    # Step 2: when the old tree is a complete subtree its root is the first node of the path.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # Steps 3 and 4.
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5: fr rebuilds the old root, sr the new one.
    fr = sr = path[0]
    # Step 6.
    for node in path[1:]:
        if sn == 0:
            return "proof is longer than the tree is high"
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        return "proof is shorter than the tree is high"
    if fr != root1:
        return "computed first root does not match"
    if sr != root2:
        return "computed second root does not match"
    return None
