"""Row <-> model conversion shared by both stores, driven by the column types in ``schema``.

Models go to rows through ``model_dump()`` (Decimals, datetimes and enums kept as objects) and come
back through ``model_validate`` on the decoded row, so a column list that matches the model's fields
is the whole mapping. JSON values are made JSON-safe on the way in: Decimals become strings,
datetimes ISO-8601 text, and NaN/infinity become null (PostgreSQL's JSONB rejects them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from trading_core.storage.schema import Dialect, LogicalType, Table

ModelT = TypeVar("ModelT", bound=BaseModel)


def json_safe(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps`` accepts without loss of the numbers' digits."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return json_safe(value.model_dump(mode="json"))
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def dumps_json(value: Any) -> str:
    """``value`` as compact JSON text, exactly as ``json.dumps(json_safe(value))`` writes it.

    The common case (no NaN, string keys) is encoded in one pass with ``default`` for the
    values JSON lacks; anything else takes the walk through :func:`json_safe`.
    """
    try:
        return json.dumps(
            value,
            separators=(",", ":"),
            allow_nan=False,
            default=_json_default,
            check_circular=False,
        )
    except (ValueError, TypeError, RecursionError):
        return json.dumps(json_safe(value), separators=(",", ":"), allow_nan=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, BaseModel):
        return json_safe(value.model_dump(mode="json"))
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def loads_json(text: str | bytes) -> Any:
    return json.loads(text)


def format_timestamp(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC text (``2024-01-02T03:04:05.000006Z``): text order is time order."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamps must be timezone-aware, got {moment!r}")
    u = moment.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class RowCodec:
    """Encodes Python values to driver parameters and decodes driver values, per dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def encode(self, type_: LogicalType, value: Any) -> Any:
        if value is None:
            return None
        sqlite = self.dialect is Dialect.SQLITE
        if type_ is LogicalType.TEXT:
            return value.value if isinstance(value, Enum) else str(value)
        if type_ is LogicalType.DECIMAL:
            number = _as_decimal(value)
            return str(number) if sqlite else number
        if type_ is LogicalType.TIMESTAMP:
            if not isinstance(value, datetime):
                raise TypeError(f"expected a datetime, got {type(value).__name__}")
            text = format_timestamp(value)  # validates awareness for both dialects
            return text if sqlite else value.astimezone(UTC)
        if type_ is LogicalType.JSON:
            # PostgreSQL's pool codec serialises with dumps_json (see postgres.py).
            return dumps_json(value) if sqlite else value
        if type_ is LogicalType.BOOLEAN:
            return int(bool(value)) if sqlite else bool(value)
        return int(value)

    def decode(self, type_: LogicalType, value: Any) -> Any:
        if value is None or self.dialect is Dialect.POSTGRES:
            # asyncpg already returns Decimal, aware UTC datetime, bool and decoded JSON.
            return value
        if type_ is LogicalType.DECIMAL:
            return Decimal(value)
        if type_ is LogicalType.TIMESTAMP:
            return parse_timestamp(value)
        if type_ is LogicalType.JSON:
            return loads_json(value)
        if type_ is LogicalType.BOOLEAN:
            return bool(value)
        return value

    def encode_row(
        self, table: Table, values: Mapping[str, Any], columns: Sequence[str]
    ) -> tuple[Any, ...]:
        """Parameters for ``columns`` of ``table`` taken from ``values``."""
        return tuple(self.encode(table.column(name).type, values.get(name)) for name in columns)

    def decode_row(self, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self.decode(table.column(name).type, value) for name, value in row.items()}

    def encode_model(
        self, table: Table, model: BaseModel, columns: Sequence[str] | None = None
    ) -> tuple[Any, ...]:
        return self.encode_row(table, model.model_dump(), columns or table.column_names)

    def decode_model(self, model: type[ModelT], table: Table, row: Mapping[str, Any]) -> ModelT:
        return model.model_validate(self.decode_row(table, row))


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"expected a Decimal, got {type(value).__name__}")
