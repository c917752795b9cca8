"""Shared base for frozen domain models and the Decimal conventions they use."""

from __future__ import annotations

import math
import numbers
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer


class Frozen(BaseModel):
    """Immutable message: unknown fields rejected; derive with ``model_copy(update=...)``."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def _to_decimal(value: Any) -> Decimal:
    # Floats arrive from the edges (ccxt, pandas); go through repr so 0.1 becomes Decimal("0.1").
    if isinstance(value, bool):
        raise ValueError("booleans are not numbers here")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, numbers.Integral):
        result = Decimal(int(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("number must be finite")
        # float.__repr__, not repr(): numpy scalars repr as "np.float64(0.1)".
        result = Decimal(float.__repr__(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    else:
        raise ValueError(f"not a decimal number: {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("number must be finite")
    return result


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC)


_serialize_decimal = PlainSerializer(lambda d: str(d), return_type=str, when_used="json")

Money = Annotated[Decimal, BeforeValidator(_to_decimal), _serialize_decimal]
"""Any finite Decimal (P&L, cash: may be negative)."""
PositiveDecimal = Annotated[
    Decimal, BeforeValidator(_to_decimal), AfterValidator(_positive), _serialize_decimal
]
NonNegativeDecimal = Annotated[
    Decimal, BeforeValidator(_to_decimal), AfterValidator(_non_negative), _serialize_decimal
]
UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]

ZERO = Decimal(0)
