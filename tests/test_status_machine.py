"""One status machine, read strictly (submission) or leniently (what the chain already holds)."""

from __future__ import annotations

import random

import pytest

from ipchain.errors import InvalidInputError
from ipchain.register.catalog import IpType, RecordStatus, event_catalog
from ipchain.register.history import RecordState, derive_status, next_status, replay_codes

TRADEMARK_CODES = sorted(
    code for code, info in event_catalog().codes.items() if IpType.TRADEMARK in info.ip_types
)


def histories(seed: int, count: int = 3000) -> list[list[str]]:
    """Random code sequences, most starting with a filing, some with codes not in the catalogue."""
    generator = random.Random(seed)
    codes = [*TRADEMARK_CODES, "Z99", "a10", ""]
    result = []
    for _ in range(count):
        history = [generator.choice(codes) for _ in range(generator.randint(0, 10))]
        if history and generator.random() < 0.7:
            history[0] = "A10"
        result.append(history)
    return result


@pytest.mark.parametrize("seed", range(2))
def test_the_lenient_reading_agrees_wherever_the_strict_one_accepts(seed: int) -> None:
    accepted = 0
    for codes in histories(seed):
        lenient = replay_codes(codes, strict=False)
        assert lenient.event_count == len(codes)
        assert derive_status(codes, strict=False) is lenient.status
        try:
            strict = replay_codes(codes)
        except InvalidInputError:
            continue
        accepted += 1
        assert strict == lenient
    assert accepted > 100


def test_lenient_effects() -> None:
    # Unknown codes are skipped; a transition the catalogue refuses is applied all the same;
    # a return to an earlier status with none to return to leaves the status as it is.
    assert derive_status(["A10", "Z99"], strict=False) is RecordStatus.FILED
    assert derive_status(["A10", "F10", "F10"], strict=False) is RecordStatus.REGISTERED
    assert derive_status(["A10", "Y20"], strict=False) is RecordStatus.FILED
    assert derive_status(["D10"], strict=False) is RecordStatus.EXAMINATION
    assert derive_status([], strict=False) is None
    assert replay_codes(["A10", "D10", "B20"], strict=False) == RecordState(
        status=RecordStatus.REFUSED,
        earlier_statuses=(RecordStatus.FILED, RecordStatus.EXAMINATION),
        event_count=3,
    )


def test_next_status_is_the_one_statement_of_the_machine() -> None:
    codes = event_catalog().codes
    assert next_status(None, (), codes["A10"]) == (RecordStatus.FILED, ())
    assert next_status(RecordStatus.FILED, (), codes["D10"]) == (
        RecordStatus.EXAMINATION,
        (RecordStatus.FILED,),
    )
    assert next_status(RecordStatus.FILED, (), codes["Y20"], strict=False) == (
        RecordStatus.FILED,
        (),
    )
