"""The verifier's canonical-form check takes a fast path through the C JSON codec; it must never
call canonical what RFC 8785 does not, and must accept everything RFC 8785 produces."""

from __future__ import annotations

import json
from pathlib import Path

from ipchain.encoding import canonical_bytes, parse_json_strict
from ipchain.encoding import is_canonical as fast_is_canonical
from ipchain.verification.bundle import canonical_problem
from tests.helpers.vectors import RFC8785_VECTORS

VECTORS = RFC8785_VECTORS


def vector_files(folder: str) -> list[Path]:
    return sorted((VECTORS / folder).glob("*.json"))


def is_canonical(document: bytes) -> bool:
    try:
        return canonical_bytes(parse_json_strict(document)) == document
    except ValueError:
        return False


def test_canonical_vectors_pass_and_their_inputs_do_not() -> None:
    for output in vector_files("output"):
        canonical = output.read_bytes()
        assert canonical_problem(canonical) is None, output.name
        source = (VECTORS / "input" / output.name).read_bytes()
        if source != canonical:
            assert canonical_problem(source) is not None, output.name


def _tricky_documents() -> list[bytes]:
    characters = [chr(code) for code in range(0x20)] + [
        '"',
        "\\",
        "/",
        "\x7f",
        "\u00e9",
        "\u2028",
        "\u2029",
        "\ud7ff",
        "\ue000",
        "\uffff",
        "\U0001f600",
        "€",
        "商",
    ]
    documents: list[object] = [
        {character: character for character in characters},
        [f"a{character}b" for character in characters],
        {"\ue000": 1, "\U0001f600": 2, "a": [True, False, None, 0, -1, 9007199254740991]},
        {"n": 1.5, "e": 1e21, "z": -0.0, "i": 10},
        {"b": {"d": [], "c": {}}, "a": ""},
    ]
    texts = []
    for document in documents:
        texts.append(canonical_bytes(document))
        texts.append(json.dumps(document, ensure_ascii=False).encode())
        texts.append(json.dumps(document, ensure_ascii=True, sort_keys=True).encode())
        texts.append(
            json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        )
    texts += [b'{"a":1,"a":2}', b'{"a":NaN}', b" {}", b'{"a":"\\u00e9"}', b'{"a":1.0}']
    texts += [p.read_bytes() for p in vector_files("input") + vector_files("output")]
    return texts


def test_fast_path_agrees_with_rfc8785() -> None:
    for text in _tricky_documents():
        if fast_is_canonical(text):
            assert is_canonical(text), text
        assert (canonical_problem(text) is None) == is_canonical(text), text


def test_fast_path_is_taken_for_ordinary_documents() -> None:
    document = {"record_key": "EM/TM/1", "text": 'Ünïcødé ✓ 商标\n\t"q"', "n": [1, 22]}
    assert fast_is_canonical(canonical_bytes(document))
