"""The one-pass JSON encoder writes exactly what the json_safe walk writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any

import pytest

from trading_core.domain.market import Timeframe
from trading_core.storage.rows import dumps_json, json_safe


class Colour(Enum):
    RED = "red"


class Level(IntEnum):
    HIGH = 2


class Kind(StrEnum):
    ENTRY = "entry"


CASES: list[Any] = [
    {"a": Decimal("1.2300"), "b": [1, 2.5, "x", None, True], "c": (1, 2)},
    {"when": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "kind": Kind.ENTRY, "lvl": Level.HIGH},
    {"colour": Colour.RED, "nested": {"deep": [{"d": Decimal("-0.00000001")}]}},
    {"set": frozenset({3})},
    {"nan": float("nan"), "inf": float("inf"), "ok": 1.5},  # NaN and infinity become null
    {1: "int key", Kind.ENTRY: "enum key"},
    [Timeframe.M5, {"features": {"ma": 0.1, "rsi": None}}],
]


@pytest.mark.parametrize("value", CASES)
def test_the_fast_path_matches_the_walk(value: Any) -> None:
    walked = json.dumps(json_safe(value), separators=(",", ":"), allow_nan=False)
    assert dumps_json(value) == walked


def test_what_json_cannot_hold_is_still_refused() -> None:
    with pytest.raises(TypeError, match="cannot store object"):
        dumps_json({"x": object()})
