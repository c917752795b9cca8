"""base.py: what the Decimal and UTC field types accept and refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from trading_core.domain.base import Money, NonNegativeDecimal, PositiveDecimal, UtcDatetime
from trading_core.domain.fill import Fill
from trading_core.domain.order import Side

money: TypeAdapter[Decimal] = TypeAdapter(Money)
positive: TypeAdapter[Decimal] = TypeAdapter(PositiveDecimal)
non_negative: TypeAdapter[Decimal] = TypeAdapter(NonNegativeDecimal)
utc: TypeAdapter[datetime] = TypeAdapter(UtcDatetime)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.1, "0.1"),  # not 0.1000000000000000055511151231257827...
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-7, "1E-7"),
        (-2.5, "-2.5"),
        (100.0, "100.0"),
    ],
)
def test_floats_become_their_repr_decimal(raw: float, expected: str) -> None:
    result = money.validate_python(raw)

    assert isinstance(result, Decimal)
    assert result == Decimal(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (7, Decimal(7)),
        (Decimal("1.2300"), Decimal("1.2300")),
        ("42.5", Decimal("42.5")),
        ("  3.25\n", Decimal("3.25")),
        ("1e3", Decimal(1000)),
        ("-0.5", Decimal("-0.5")),
    ],
)
def test_ints_decimals_and_numeric_strings_are_accepted(raw: Any, expected: Decimal) -> None:
    assert money.validate_python(raw) == expected


def test_decimal_input_keeps_its_exponent() -> None:
    assert str(money.validate_python(Decimal("1.2300"))) == "1.2300"


@pytest.mark.parametrize(
    "raw",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        "nan",
        "Infinity",
        "-inf",
    ],
    ids=repr,
)
def test_non_finite_numbers_are_refused(raw: Any) -> None:
    with pytest.raises(ValidationError, match="finite"):
        money.validate_python(raw)


@pytest.mark.parametrize("raw", [True, False], ids=repr)
def test_booleans_are_refused(raw: bool) -> None:
    with pytest.raises(ValidationError, match="booleans"):
        money.validate_python(raw)


@pytest.mark.parametrize("raw", ["", "   ", "abc", "1,5", "12.3.4", "$5", "0x10"], ids=repr)
def test_bad_strings_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="not a decimal number"):
        money.validate_python(raw)


@pytest.mark.parametrize("raw", [None, [1], {"v": 1}, b"1", object()], ids=repr)
def test_other_types_are_refused(raw: Any) -> None:
    with pytest.raises(ValidationError, match="not a decimal number"):
        money.validate_python(raw)


def test_numpy_float_from_pandas_becomes_its_repr_decimal() -> None:
    assert money.validate_python(np.float64(0.1)) == Decimal("0.1")


@pytest.mark.parametrize("raw", [0, "0", Decimal("-0.0"), -1, "-0.0001"], ids=repr)
def test_positive_decimal_refuses_zero_and_below(raw: Any) -> None:
    with pytest.raises(ValidationError, match="greater than zero"):
        positive.validate_python(raw)


def test_positive_decimal_accepts_a_tiny_amount() -> None:
    assert positive.validate_python("0.00000001") == Decimal("0.00000001")


def test_non_negative_decimal_accepts_zero_and_refuses_below() -> None:
    assert non_negative.validate_python(0) == Decimal(0)
    with pytest.raises(ValidationError, match="must not be negative"):
        non_negative.validate_python("-0.01")


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        utc.validate_python(datetime(2024, 1, 1, 12, 0))


def test_aware_timestamps_are_converted_to_utc() -> None:
    new_york = timezone(timedelta(hours=-5))

    result = utc.validate_python(datetime(2024, 1, 1, 9, 30, tzinfo=new_york))

    assert result == datetime(2024, 1, 1, 14, 30, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


def test_decimals_serialize_to_json_as_strings_and_round_trip() -> None:
    fill = Fill(
        fill_id="f1",
        order_id="o1",
        client_order_id="c1",
        symbol="XYZ",
        side=Side.BUY,
        quantity=0.1,
        price="20000.50",
        commission=Decimal("0.0020"),
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
    )

    payload = fill.model_dump_json()

    assert '"quantity":"0.1"' in payload
    assert '"price":"20000.50"' in payload
    assert '"commission":"0.0020"' in payload
    assert Fill.model_validate_json(payload) == fill
    assert isinstance(fill.model_dump()["price"], Decimal)
