"""Canonical bytes and hashes: RFC 8785 conformance and the contract's entry hash."""

from __future__ import annotations

import hashlib
import json
import random
from collections import OrderedDict
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

import pytest
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak

from ipchain.encoding import (
    ZERO_HASH,
    _nesting_within_limit,
    canonical_bytes,
    canonical_bytes_from_json,
    document_hash,
    document_hash_hex,
    entry_hash,
    event_code_bytes8,
    event_code_from_bytes8,
    hash_from_hex,
    hash_to_hex,
    office_code_bytes2,
    parse_json_strict,
    record_id,
)
from ipchain.errors import (
    CanonicalizationError,
    InvalidInputError,
    InvalidRecordKeyError,
    UnknownOfficeError,
)
from tests.helpers.vectors import RFC8785_VECTORS

VECTORS = RFC8785_VECTORS
VECTOR_NAMES = sorted(path.stem for path in (VECTORS / "input").glob("*.json"))


# --- RFC 8785 conformance --------------------------------------------------------------------


def test_vectors_are_present() -> None:
    assert len(VECTOR_NAMES) >= 6, f"RFC 8785 vectors missing from {VECTORS}"


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_rfc8785_vector(name: str) -> None:
    expected = (VECTORS / "output" / f"{name}.json").read_bytes()
    source = (VECTORS / "input" / f"{name}.json").read_bytes()

    assert canonical_bytes(parse_json_strict(source)) == expected
    assert canonical_bytes_from_json(source) == expected
    # outhex is the same bytes written as hex, so a mismatch there means a broken checkout.
    hex_text = (VECTORS / "outhex" / f"{name}.txt").read_text()
    assert bytes.fromhex("".join(hex_text.split())) == expected


def test_key_order_is_by_utf16_code_units_not_code_points() -> None:
    # U+1F602 is the surrogate pair D83D DE02 in UTF-16, so it sorts before U+FB33.
    assert canonical_bytes({"\ufb33": 1, "\U0001f602": 2}) == (
        b'{"' + "\U0001f602".encode() + b'":2,"' + "\ufb33".encode() + b'":1}'
    )


def test_mapping_order_and_kind_do_not_change_the_hash() -> None:
    document = {"b": [1, 2.5, None], "a": {"y": True, "x": "é"}}
    reordered = OrderedDict([("a", MappingProxyType({"x": "é", "y": True})), ("b", (1, 2.5, None))])

    assert canonical_bytes(reordered) == canonical_bytes(document)
    assert canonical_bytes(document) == b'{"a":{"x":"\xc3\xa9","y":true},"b":[1,2.5,null]}'


def test_document_hash_is_sha256_of_canonical_bytes() -> None:
    document = {"recordKey": "EM/TM/018123456", "eventCode": "A10", "classes": [9, 42]}
    canonical = b'{"classes":[9,42],"eventCode":"A10","recordKey":"EM/TM/018123456"}'

    assert document_hash(document) == hashlib.sha256(canonical).digest()
    assert document_hash_hex(document) == "0x" + hashlib.sha256(canonical).hexdigest()


def test_str_enum_values_serialise_as_their_string() -> None:
    class Kind(StrEnum):
        TRADEMARK = "TM"

    assert canonical_bytes({"kind": Kind.TRADEMARK}) == b'{"kind":"TM"}'


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"a": [1, float("nan")]}, "$.a[1]"),
        ({"a": {"b": float("inf")}}, "$.a.b"),
        ({"big": 2**53}, "$.big"),
        ({"small": -(2**53)}, "$.small"),
        ({"text": "x\ud800y"}, "$.text"),
        ({"raw": b"bytes"}, "$.raw"),
        ({"amount": Decimal("1.5")}, "$.amount"),
        ({"a": {1: "integer key"}}, "$.a"),
    ],
)
def test_values_jcs_cannot_represent_are_refused_with_their_place(
    document: object, where: str
) -> None:
    with pytest.raises(CanonicalizationError) as raised:
        canonical_bytes(document)
    assert str(raised.value).startswith(where + ":")
    assert raised.value.field == where


def test_largest_safe_integers_are_accepted() -> None:
    assert canonical_bytes([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"


# --- strict parsing --------------------------------------------------------------------------


def test_duplicate_keys_are_refused_and_named() -> None:
    with pytest.raises(InvalidInputError, match="duplicate key 'name'"):
        parse_json_strict('{"name": "A", "other": {}, "name": "B"}')
    with pytest.raises(InvalidInputError, match="duplicate key 'x'"):
        parse_json_strict(b'[{"x": 1, "x": 1}]')


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e400", "[-1e999]"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    with pytest.raises(CanonicalizationError):
        parse_json_strict(text)


@pytest.mark.parametrize("text", ["9007199254740992", "[-9007199254740992]", "1" + "0" * 5000])
def test_integers_beyond_double_precision_are_refused(text: str) -> None:
    with pytest.raises(CanonicalizationError, match="outside"):
        parse_json_strict(text)


@pytest.mark.parametrize(
    "text", ['"\\ud800"', '{"\\udfff": 1}', '["ok", "\\ud83d x"]', '["raw \ud800"]']
)
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(CanonicalizationError, match="lone surrogate"):
        parse_json_strict(text)


def test_surrogate_pairs_are_one_character() -> None:
    assert parse_json_strict('"\\ud83d\\ude02"') == "\U0001f602"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"\xff{}", "not valid UTF-8"),
        ("\ufeff{}".encode(), "byte-order mark"),
        ('{"a": 1,}', "invalid JSON at line 1"),
        ("", "invalid JSON"),
    ],
)
def test_malformed_text_is_refused(text: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_json_strict(text)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_refused_without_crashing_the_process(opener: str) -> None:
    # Imports of eth_account raise the recursion limit so far that json's C decoder would
    # overflow the stack (a segfault) on this input instead of raising RecursionError.
    with pytest.raises(InvalidInputError, match="nested more than 256 levels"):
        parse_json_strict(opener * 100_000)


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine() -> None:
    assert parse_json_strict("[" * 256 + "]" * 256) is not None
    flat = [r"[\"\\", "[[[[{{{{", "]"] * 200
    assert parse_json_strict(json.dumps(flat)) == flat


@pytest.mark.parametrize("depth", [255, 256, 257, 300])
@pytest.mark.parametrize("seed", range(4))
def test_nesting_depth_is_counted_outside_strings_only(depth: int, seed: int) -> None:
    # Strings full of brackets, quotes and backslashes around a value ``depth`` deep.
    generator = random.Random(seed)
    noise = '[]{}"\\/x'

    def text() -> str:
        return "".join(generator.choice(noise) for _ in range(generator.randint(0, 12)))

    value: object = text()
    for level in range(depth):
        value = [text(), value, text()] if level % 2 else {text() + "k": value, "s": text()}
    for spelling in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        # The quick check settles it (a token-by-token walk is far slower), and right.
        assert _nesting_within_limit(spelling.encode()) == (depth <= 256)
        if depth <= 256:
            assert parse_json_strict(spelling) == json.loads(spelling)
        else:
            with pytest.raises(InvalidInputError, match="nested more than 256 levels"):
                parse_json_strict(spelling)


@pytest.mark.parametrize(
    "text", ["[" * 300 + "]" * 299, "]" * 300 + "[" * 300, '["' + "[" * 300 + '"' + "]" * 300]
)
def test_unbalanced_brackets_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_json_strict(text)


# --- hex form of hashes ----------------------------------------------------------------------


def test_hash_hex_round_trip_and_accepted_forms() -> None:
    digest = hashlib.sha256(b"x").digest()
    written = hash_to_hex(digest)

    assert written == "0x" + digest.hex()
    assert hash_from_hex(written) == digest
    assert hash_from_hex(digest.hex().upper()) == digest  # what sha256sum-style tools print
    for bad in ["0x" + "0" * 63, "0x" + "g" * 64, "", "0x" + "0" * 66]:
        with pytest.raises(InvalidInputError):
            hash_from_hex(bad)
    with pytest.raises(InvalidInputError):
        hash_to_hex(b"short")


# --- contract identifiers and the entry hash -------------------------------------------------


def test_record_id_is_keccak_of_the_utf8_key() -> None:
    assert record_id("EM/TM/018123456") == keccak(b"EM/TM/018123456")
    assert record_id("EM/TM/018123456") != record_id("EM/TM/18123456")
    with pytest.raises(InvalidRecordKeyError):
        record_id("EM/TM/\ud800")


def test_event_code_bytes8_round_trip() -> None:
    assert event_code_bytes8("A10") == b"A10\0\0\0\0\0"
    assert event_code_bytes8("W9999999") == b"W9999999"
    assert event_code_from_bytes8(b"A10\0\0\0\0\0") == "A10"


@pytest.mark.parametrize("code", ["", "A100000000", "Ä10", "A\x0010", "A 1\n"])
def test_event_codes_the_contract_cannot_hold_are_refused(code: str) -> None:
    with pytest.raises(InvalidInputError, match="event code"):
        event_code_bytes8(code)


@pytest.mark.parametrize("raw", [bytes(8), b"A10", b"A\x001\0\0\0\0\0"])
def test_malformed_bytes8_event_codes_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInputError):
        event_code_from_bytes8(raw)


@pytest.mark.parametrize("code", ["em", "E", "EMX", "E1", ""])
def test_office_codes_must_be_st3_shaped(code: str) -> None:
    with pytest.raises(UnknownOfficeError):
        office_code_bytes2(code)


def test_entry_hash_matches_abi_encode_as_in_register_ledger() -> None:
    rid = record_id("EM/TM/018123456")
    code = event_code_bytes8("A10")
    doc = document_hash({"recordKey": "EM/TM/018123456", "eventCode": "A10"})
    prev = hashlib.sha256(b"previous").digest()

    # What RegisterLedger._entryHash does: keccak256(abi.encode(...)) of the six fields.
    expected = keccak(
        abi_encode(
            ["bytes32", "uint64", "bytes8", "bytes32", "bytes32", "bytes2"],
            [rid, 7, code, doc, prev, b"EM"],
        )
    )

    assert entry_hash(rid, 7, code, doc, prev, "EM") == expected
    # Every field is bound: changing any one changes the hash.
    variants = {
        entry_hash(rid, 8, code, doc, prev, "EM"),
        entry_hash(rid, 7, event_code_bytes8("A11"), doc, prev, "EM"),
        entry_hash(rid, 7, code, prev, prev, "EM"),
        entry_hash(rid, 7, code, doc, ZERO_HASH, "EM"),
        entry_hash(rid, 7, code, doc, prev, "EU"),
        entry_hash(record_id("EM/TM/1"), 7, code, doc, prev, "EM"),
    }
    assert expected not in variants
    assert len(variants) == 6


def test_entry_hash_at_uint64_boundary_matches_abi_encode() -> None:
    largest = 2**64 - 1
    expected = keccak(
        abi_encode(
            ["bytes32", "uint64", "bytes8", "bytes32", "bytes32", "bytes2"],
            [ZERO_HASH, largest, b"Y\0\0\0\0\0\0\0", ZERO_HASH, ZERO_HASH, b"WO"],
        )
    )
    assert entry_hash(ZERO_HASH, largest, b"Y\0\0\0\0\0\0\0", ZERO_HASH, ZERO_HASH, "WO") == (
        expected
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ((b"short", 1, b"A10\0\0\0\0\0", ZERO_HASH, ZERO_HASH, "EM"), "recordId"),
        ((ZERO_HASH, -1, b"A10\0\0\0\0\0", ZERO_HASH, ZERO_HASH, "EM"), "seq"),
        ((ZERO_HASH, 2**64, b"A10\0\0\0\0\0", ZERO_HASH, ZERO_HASH, "EM"), "seq"),
        ((ZERO_HASH, True, b"A10\0\0\0\0\0", ZERO_HASH, ZERO_HASH, "EM"), "seq"),
        ((ZERO_HASH, 1, b"A10", ZERO_HASH, ZERO_HASH, "EM"), "eventCode"),
        ((ZERO_HASH, 1, b"A10\0\0\0\0\0", bytes(31), ZERO_HASH, "EM"), "documentHash"),
        ((ZERO_HASH, 1, b"A10\0\0\0\0\0", ZERO_HASH, "0x00", "EM"), "prevEntryHash"),
        ((ZERO_HASH, 1, b"A10\0\0\0\0\0", ZERO_HASH, ZERO_HASH, "EMX"), "office"),
    ],
)
def test_entry_hash_refuses_values_the_contract_cannot_take(
    arguments: tuple[object, ...], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        entry_hash(*arguments)  # type: ignore[arg-type]
    assert raised.value.field == field
