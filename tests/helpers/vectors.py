"""The external conformance vectors copied into ``tests/vectors`` (provenance in its README)."""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
RFC8785_VECTORS = VECTORS / "rfc8785"
"""JSON Canonicalization Scheme: ``input/X.json`` canonicalizes to ``output/X.json``."""
RFC9162_VECTORS = VECTORS / "rfc9162"
"""Merkle inclusion and consistency proofs, one JSON case per file."""
