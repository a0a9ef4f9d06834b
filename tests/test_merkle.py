"""RFC 9162 Merkle trees: transparency-dev conformance vectors and generated proofs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ipchain.errors import InvalidInputError, VerificationError
from ipchain.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    check_consistency,
    check_inclusion,
    consistency_proof,
    consistency_proof_from_leaf_hashes,
    inclusion_proof,
    inclusion_proof_from_leaf_hashes,
    leaf_hash,
    node_hash,
    root,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.helpers.vectors import RFC9162_VECTORS

VECTORS = RFC9162_VECTORS


def _cases(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    for field in ("root", "root1", "root2", "leafHash"):
        if field in case:
            case[field] = base64.b64decode(case[field])
    case["proof"] = [base64.b64decode(element) for element in case["proof"] or []]
    return case


def _case_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


# The leaves behind transparency-dev's (and RFC 6962's) vectors, and the roots of their
# prefixes: roots[k - 1] is the root of the first k leaves.
STANDARD_LEAVES = [
    bytes.fromhex(text)
    for text in [
        *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
        "606162636465666768696a6b6c6d6e6f",
    ]
]
STANDARD_ROOTS = [
    bytes.fromhex(text)
    for text in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


# --- conformance vectors ---------------------------------------------------------------------


def test_vectors_are_present() -> None:
    assert len(_cases("inclusion")) > 80
    assert len(_cases("consistency")) > 80


@pytest.mark.parametrize("path", _cases("inclusion"), ids=_case_id)
def test_inclusion_vector(path: Path) -> None:
    case = _load(path)
    arguments = (case["leafHash"], case["leafIdx"], case["treeSize"], case["proof"], case["root"])

    assert verify_inclusion(*arguments) is not case["wantErr"]
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            check_inclusion(*arguments)
    else:
        check_inclusion(*arguments)


@pytest.mark.parametrize("path", _cases("consistency"), ids=_case_id)
def test_consistency_vector(path: Path) -> None:
    case = _load(path)
    arguments = (case["size1"], case["size2"], case["root1"], case["root2"], case["proof"])

    assert verify_consistency(*arguments) is not case["wantErr"]
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            check_consistency(*arguments)
    else:
        check_consistency(*arguments)


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_generated_proofs_equal_the_vectors_happy_paths(kind: str) -> None:
    compared = 0
    for path in _cases(kind):
        case = _load(path)
        if path.name != "happy-path.json":
            continue
        if kind == "inclusion":
            tree = STANDARD_LEAVES[: case["treeSize"]]
            assert leaf_hash(STANDARD_LEAVES[case["leafIdx"]]) == case["leafHash"]
            assert root(tree) == case["root"]
            assert inclusion_proof(case["leafIdx"], tree) == case["proof"]
        else:
            tree = STANDARD_LEAVES[: case["size2"]]
            assert root(tree[: case["size1"]]) == case["root1"]
            assert root(tree) == case["root2"]
            assert consistency_proof(case["size1"], tree) == case["proof"]
        compared += 1
    assert compared == 5


# --- tree hashing ----------------------------------------------------------------------------


def test_roots_of_the_standard_leaves() -> None:
    assert (
        root([])
        == EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    for size, expected in enumerate(STANDARD_ROOTS, start=1):
        assert root(STANDARD_LEAVES[:size]) == expected


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    # A two-leaf root must not equal the leaf hash of the two children concatenated.
    assert root([b"a", b"b"]) == node_hash(left, right)
    assert node_hash(left, right) != leaf_hash(left + right)
    assert root_from_leaf_hashes([left, right]) == root([b"a", b"b"])


# --- generated proofs, all shapes up to 64 leaves --------------------------------------------

LEAVES_64 = [f"entry {number}".encode() for number in range(64)]
LEAF_HASHES_64 = [leaf_hash(data) for data in LEAVES_64]
ROOTS_64 = [root_from_leaf_hashes(LEAF_HASHES_64[:size]) for size in range(65)]


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_verifies_and_only_for_its_leaf(size: int) -> None:
    tree = LEAF_HASHES_64[:size]
    for index in range(size):
        proof = inclusion_proof_from_leaf_hashes(index, tree)
        assert verify_inclusion(tree[index], index, size, proof, ROOTS_64[size])
        # The same proof must not vouch for a neighbour or under another root. (It may fit
        # another tree size: a proof for leaf 0 of 7 also fits "leaf 0 of 8 with root(7)";
        # the size is only as trustworthy as the checkpoint pairing it with the root.)
        other = (index + 1) % size
        if other != index:
            assert not verify_inclusion(tree[other], index, size, proof, ROOTS_64[size])
            assert not verify_inclusion(tree[index], other, size, proof, ROOTS_64[size])
        assert not verify_inclusion(tree[index], index, size, proof, ROOTS_64[size - 1])
    assert inclusion_proof(size - 1, LEAVES_64[:size]) == inclusion_proof_from_leaf_hashes(
        size - 1, tree
    )


@pytest.mark.parametrize("size2", range(1, 65))
def test_every_consistency_proof_verifies_and_only_for_its_sizes(size2: int) -> None:
    tree = LEAF_HASHES_64[:size2]
    for size1 in range(1, size2 + 1):
        proof = consistency_proof_from_leaf_hashes(size1, tree)
        assert verify_consistency(size1, size2, ROOTS_64[size1], ROOTS_64[size2], proof)
        if size1 < size2:
            assert proof
            assert not verify_consistency(size1, size2, ROOTS_64[size1 + 1], ROOTS_64[size2], proof)
            assert not verify_consistency(size1, size2, ROOTS_64[size1], ROOTS_64[size2 - 1], proof)
    assert consistency_proof(1, LEAVES_64[:size2]) == consistency_proof_from_leaf_hashes(1, tree)


def test_any_flipped_bit_in_a_proof_is_caught() -> None:
    tree = LEAF_HASHES_64[:45]
    inclusion = inclusion_proof_from_leaf_hashes(27, tree)
    consistency = consistency_proof_from_leaf_hashes(13, tree)
    for position in range(len(inclusion)):
        tampered = list(inclusion)
        tampered[position] = bytes([tampered[position][0] ^ 1]) + tampered[position][1:]
        assert not verify_inclusion(tree[27], 27, 45, tampered, ROOTS_64[45])
    for position in range(len(consistency)):
        tampered = list(consistency)
        tampered[position] = tampered[position][:-1] + bytes([tampered[position][-1] ^ 0x80])
        assert not verify_consistency(13, 45, ROOTS_64[13], ROOTS_64[45], tampered)


def test_a_rewritten_history_is_not_consistent() -> None:
    rewritten = list(LEAF_HASHES_64[:20])
    rewritten[3] = leaf_hash(b"a different entry 3")
    proof = consistency_proof_from_leaf_hashes(10, rewritten)

    # The new tree is internally consistent with its own old root, not with the published one.
    new_root = root_from_leaf_hashes(rewritten)
    assert verify_consistency(10, 20, root_from_leaf_hashes(rewritten[:10]), new_root, proof)
    assert not verify_consistency(10, 20, ROOTS_64[10], new_root, proof)
    with pytest.raises(VerificationError, match="first root does not match"):
        check_consistency(10, 20, ROOTS_64[10], new_root, proof)


def test_proofs_outside_the_tree_cannot_be_made() -> None:
    with pytest.raises(InvalidInputError):
        inclusion_proof(3, LEAVES_64[:3])
    with pytest.raises(InvalidInputError):
        inclusion_proof(0, [])
    with pytest.raises(InvalidInputError, match="0 < size1 <= size2"):
        consistency_proof(0, LEAVES_64[:3])
    with pytest.raises(InvalidInputError, match="0 < size1 <= size2"):
        consistency_proof(4, LEAVES_64[:3])


# --- the incremental tree --------------------------------------------------------------------


def test_incremental_tree_gives_the_same_roots_and_proofs_for_every_past_size() -> None:
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT
    for number, data in enumerate(LEAVES_64):
        assert tree.append(data) == number
    assert tree.size == 64

    for size2 in range(1, 65):
        leaves = LEAF_HASHES_64[:size2]
        assert tree.root(size2) == ROOTS_64[size2]
        for index in range(size2):
            assert tree.inclusion_proof(index, size2) == inclusion_proof_from_leaf_hashes(
                index, leaves
            )
        for size1 in range(1, size2 + 1):
            assert tree.consistency_proof(size1, size2) == consistency_proof_from_leaf_hashes(
                size1, leaves
            )
    assert tree.root() == ROOTS_64[64]
    # Built in bulk, then grown leaf by leaf: the same tree at every size.
    grown = MerkleTree(LEAF_HASHES_64[:37])
    for hash_ in LEAF_HASHES_64[37:]:
        grown.append_leaf_hash(hash_)
    assert [grown.root(size) for size in range(65)] == ROOTS_64
    assert grown.inclusion_proof(36) == tree.inclusion_proof(36)
    assert tree.leaf_hash(5) == LEAF_HASHES_64[5]


def test_incremental_tree_refuses_sizes_and_hashes_it_does_not_have() -> None:
    tree = MerkleTree(LEAF_HASHES_64[:5])
    with pytest.raises(InvalidInputError):
        tree.root(6)
    with pytest.raises(InvalidInputError):
        tree.inclusion_proof(5)
    with pytest.raises(InvalidInputError):
        tree.consistency_proof(3, 6)
    with pytest.raises(InvalidInputError, match="32 bytes"):
        tree.append_leaf_hash(b"short")
    assert tree.size == 5
