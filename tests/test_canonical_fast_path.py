"""The canonical-encoding fast paths (the C JSON codec) must agree with rfc8785 byte for byte.

``canonical_bytes`` writes plain documents with ``json``, and ``is_canonical`` first asks the C
codec; both fall back to rfc8785 for what ``json`` spells differently. Held here to rfc8785
itself on thousands of seeded random documents built to hit the differences: control
characters, DEL, U+2028/2029, lone surrogates, keys beyond the BMP (JCS sorts by UTF-16 code
units), floats, integers at and beyond ±(2**53 - 1), tuples, nesting.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import rfc8785

from ipchain.encoding import (
    MAX_JSON_DEPTH,
    MAX_SAFE_INTEGER,
    canonical_bytes,
    is_canonical,
    parse_json_strict,
)
from ipchain.errors import CanonicalizationError, InvalidInputError
from tests.helpers.vectors import RFC8785_VECTORS

REFERENCE = rfc8785.dumps  # before any test counts its calls
VECTORS = RFC8785_VECTORS

# Characters where JSON encoders disagree, or where key order by code point and by UTF-16
# code unit differ (U+E000..U+FFFF against anything beyond U+FFFF).
TRICKY = (
    [chr(code) for code in range(0x20)]
    + ['"', "\\", "/", "\x7f", "\x80", "\u00e9", "\u2028", "\u2029", "\u20ac", "商"]
    + ["\ud7ff", "\ue000", "\ufb33", "\ufeff", "\uffff", "\U00010000", "\U0001f602"]
)
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
INTEGERS = [0, 1, -1, 9, 10, 2**31, 10**15, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]
UNSAFE_INTEGERS = [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**21, 2**64]
FLOATS = [0.0, -0.0, 1.0, 1.5, 1e21, 1e-7, 333333333.3333333, 5e-324, 1.7976931348623157e308]


class RandomDocuments:
    """Seeded random JSON values; ``unusual`` is the chance of a value rfc8785 refuses or the
    fast path must not take."""

    def __init__(self, seed: int, unusual: float) -> None:
        self.random = random.Random(seed)
        self.unusual = unusual

    def text(self, for_key: bool = False) -> str:
        pick = self.random.random()
        if pick < 0.3:
            alphabet = "abcdefghijklmnopqrstuvwxyz_ABC019"
        elif pick < 0.6:
            alphabet = "".join(TRICKY)
        else:
            alphabet = "aé€商 \n\t" + "".join(self.random.sample(TRICKY, 4))
        characters = [
            self.random.choice(alphabet) for _ in range(self.random.randint(0, 3 if for_key else 8))
        ]
        if self.random.random() < self.unusual / 4:
            characters.insert(0, self.random.choice(LONE_SURROGATES))
        return "".join(characters)

    def scalar(self) -> Any:
        pick = self.random.random()
        if pick < self.unusual / 2:
            return self.random.choice([*FLOATS, *UNSAFE_INTEGERS])
        if pick < 0.4:
            return self.text()
        if pick < 0.7:
            return self.random.choice([*INTEGERS, self.random.randint(-(10**6), 10**6)])
        return self.random.choice([True, False, None])

    def value(self, depth: int = 0) -> Any:
        pick = self.random.random()
        if depth > 4 or pick < 0.4:
            return self.scalar()
        size = self.random.randint(0, 5)
        if pick < 0.75:
            return {self.text(for_key=True): self.value(depth + 1) for _ in range(size)}
        items = [self.value(depth + 1) for _ in range(size)]
        return tuple(items) if self.random.random() < 0.2 else items

    def document(self) -> dict[str, Any]:
        return {self.text(for_key=True): self.value(1) for _ in range(self.random.randint(1, 8))}


def reference(document: Any) -> bytes | None:
    """rfc8785's bytes, or None when it refuses the document."""
    try:
        return REFERENCE(document)
    except (rfc8785.CanonicalizationError, UnicodeError, ValueError):
        return None


def ours(document: Any) -> bytes | None:
    try:
        return canonical_bytes(document)
    except CanonicalizationError:
        return None


@pytest.fixture
def rfc8785_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Documents that reached rfc8785 (the slow path) during the test."""
    calls: list[object] = []

    def counting(document: Any) -> bytes:
        calls.append(document)
        return REFERENCE(document)

    monkeypatch.setattr(rfc8785, "dumps", counting)  # the module ipchain.encoding calls
    return calls


def test_random_plain_documents_match_rfc8785_without_calling_it(
    rfc8785_calls: list[object],
) -> None:
    documents = RandomDocuments(seed=8785, unusual=0.0)
    non_bmp_keys = 0
    for _ in range(1500):
        document = documents.document()
        expected = reference(document)
        assert expected is not None
        assert canonical_bytes(document) == expected, document
        non_bmp_keys += has_key_beyond_the_bmp(document)
    # Only documents with keys beyond the BMP went to rfc8785 (their order differs).
    assert 0 < len(rfc8785_calls) == non_bmp_keys < 1500 // 2


def has_key_beyond_the_bmp(value: Any) -> bool:
    if isinstance(value, dict):
        return any(max(key, default="a") > "\uffff" for key in value) or any(
            has_key_beyond_the_bmp(item) for item in value.values()
        )
    if isinstance(value, list | tuple):
        return any(has_key_beyond_the_bmp(item) for item in value)
    return False


def test_random_documents_with_unusual_values_match_rfc8785() -> None:
    documents = RandomDocuments(seed=59, unusual=0.04)
    refused = 0
    for _ in range(1500):
        document = documents.document()
        expected = reference(document)
        assert ours(document) == expected, document
        refused += expected is None
    assert 100 < refused < 1000  # the generator did produce both kinds


@pytest.mark.parametrize(
    "document",
    [
        {"\ue000": 1, "\U0001f602": 2},  # UTF-16 order puts the smiley first
        {"a": 1.0},
        {"a": -0.0},
        {"a": 1e21},
        {"a": [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]},
        {"a": "\x7f\u2028\u2029\x00\x1f/"},
        ("tuple", ["list", ("nested",)]),
        "top-level string",
        MAX_SAFE_INTEGER,
        None,
    ],
)
def test_edge_documents_match_rfc8785(document: Any) -> None:
    assert canonical_bytes(document) == rfc8785.dumps(document)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"a": ["ok", "\ud800"]}, "$.a[1]"),
        ({"\udfff": 1}, "$"),
        ({"a": {"b": MAX_SAFE_INTEGER + 1}}, "$.a.b"),
        ({"a": float("nan")}, "$.a"),
        ({1: "integer key"}, "$"),
        ({"a": b"bytes"}, "$.a"),
    ],
)
def test_refused_values_still_name_their_place(document: Any, where: str) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonical_bytes(document)
    assert caught.value.field == where


def test_deep_and_cyclic_documents_are_refused_not_crashing() -> None:
    deep: Any = "bottom"
    for _ in range(MAX_JSON_DEPTH * 4):
        deep = [deep]
    assert ours(deep) == reference(deep)
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(CanonicalizationError, match="nested too deeply"):
        canonical_bytes(cyclic)


# --- is_canonical -----------------------------------------------------------------------------


def reference_is_canonical(text: bytes) -> bool:
    try:
        return REFERENCE(parse_json_strict(text)) == text
    except (InvalidInputError, rfc8785.CanonicalizationError):
        return False


def spellings(document: Any) -> list[bytes]:
    """The canonical bytes and a few near misses (key order, escapes, spaces)."""
    canonical = REFERENCE(document)
    return [
        canonical,
        json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass"),
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
        json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        ),
        canonical.replace(b"/", b"\\/"),
        canonical + b" ",
    ]


def test_is_canonical_agrees_with_rfc8785_on_random_texts() -> None:
    documents = RandomDocuments(seed=2025, unusual=0.05)
    accepted = 0
    for _ in range(600):
        document = documents.document()
        if reference(document) is None:
            continue
        for text in spellings(document):
            verdict = is_canonical(text)
            assert verdict == reference_is_canonical(text), text
            accepted += verdict
    assert accepted > 600  # every canonical spelling, and some near misses that are the same


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":1}',  # duplicate keys
        b'{"a":NaN}',
        b'{"a":-0}',
        b'{"a":1.0}',
        b'{"a":9007199254740992}',
        b'{"a":"\\ud800"}',
        b'{"a":"\\u00e9"}',
        b'\xef\xbb\xbf{"a":1}',  # byte-order mark
        b'{"a":"\xff"}',  # not UTF-8
        '["x"]'.encode("utf-16-le"),  # JSON, but not UTF-8
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_is_canonical_refuses(text: bytes) -> None:
    assert not is_canonical(text)


def test_is_canonical_accepts_beyond_the_bmp_and_numbers_of_every_size() -> None:
    for document in ({"\U0001f602": 1, "\ue000": 2}, {"a": [1.5, 1e21, MAX_SAFE_INTEGER]}):
        assert is_canonical(rfc8785.dumps(document))


# --- the RFC 8785 vectors ---------------------------------------------------------------------


def vector_names() -> list[str]:
    return sorted(path.stem for path in (VECTORS / "input").glob("*.json"))


def test_rfc8785_vectors_through_both_paths(rfc8785_calls: list[object]) -> None:
    names = vector_names()
    assert len(names) >= 6
    for name in names:
        source = (VECTORS / "input" / f"{name}.json").read_bytes()
        expected = (VECTORS / "output" / f"{name}.json").read_bytes()
        rfc8785_calls.clear()
        assert canonical_bytes(parse_json_strict(source)) == expected, name
        # Floats and keys beyond the BMP need rfc8785; the rest never reaches it.
        needs_rfc8785 = name in {"structures", "values", "weird"}
        assert bool(rfc8785_calls) == needs_rfc8785, name
        assert is_canonical(expected), name
        assert is_canonical(source) == (source == expected), name
