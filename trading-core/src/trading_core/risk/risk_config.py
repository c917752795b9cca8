"""Effective risk limits: the hard caps of ``limits``, optionally tightened by configuration.

Configuration may only tighten: ``effective = min(hard cap, configured)``, a configured value beyond
its cap is refused with a :class:`ConfigurationError` naming key, value and cap, unknown keys are
refused, and a missing key means the hard cap. Parsing only: the caller reads the file or the store.

The circuit breakers are configured the same way under a ``breakers`` table
(:class:`BreakerLimits`), where tighter is a less negative daily-loss threshold, a smaller drawdown
tier, a longer pause or latch; a looser value is refused naming ``breakers.<key>``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pydantic import model_validator

from trading_core.domain.base import Frozen
from trading_core.domain.errors import ConfigurationError
from trading_core.domain.instrument import AssetClass
from trading_core.domain.order import OrderType, TimeInForce
from trading_core.risk import limits
from trading_core.risk.breaker_config import (
    BREAKER_BY_KEY,
    BREAKER_SPECS,
    BREAKERS,
    BreakerLimits,
    breaker_problem,
    order_problem,
)

LimitValue = Decimal | int | tuple[str, ...]
"""A limit as shown to people: a percentage, a count/seconds, or an allow-list."""


class _Kind(StrEnum):
    PERCENT = "percent"
    INTEGER = "integer"
    ALLOW_LIST = "allow_list"


@dataclass(frozen=True)
class _Spec:
    key: str
    kind: _Kind
    cap: Decimal | int | frozenset[str]
    unit: str
    guards: str


def _names(values: Iterable[StrEnum]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


_WINDOW = f"% of equity per {limits.WINDOW_NOTIONAL_SECONDS} s"
_FILLS = f"fills per strategy and symbol per {limits.REPEATED_EXECUTION_SECONDS} s"
SPECS: tuple[_Spec, ...] = (
    _Spec("max_order_notional_pct", _Kind.PERCENT, limits.MAX_ORDER_NOTIONAL_PCT,
          "% of equity", "notional of one order"),
    _Spec("price_collar_pct_equity", _Kind.PERCENT, limits.PRICE_COLLAR_PCT[AssetClass.EQUITY],
          "% from mid", "equity limit price distance from the reference mid"),
    _Spec("price_collar_pct_fx", _Kind.PERCENT, limits.PRICE_COLLAR_PCT[AssetClass.FX],
          "% from mid", "FX limit price distance from the reference mid"),
    _Spec("price_collar_pct_crypto", _Kind.PERCENT, limits.PRICE_COLLAR_PCT[AssetClass.CRYPTO],
          "% from mid", "crypto limit price distance from the reference mid"),
    _Spec("max_reference_age_seconds", _Kind.INTEGER, limits.MAX_REFERENCE_AGE_SECONDS,
          "seconds", "age of the quote an order is price-checked against"),
    _Spec("max_position_pct", _Kind.PERCENT, limits.MAX_POSITION_PCT,
          "% of equity", "position per symbol, projected with open orders"),
    _Spec("max_gross_exposure_pct", _Kind.PERCENT, limits.MAX_GROSS_EXPOSURE_PCT,
          "% of equity", "sum of absolute position values plus open buys"),
    _Spec("max_net_exposure_pct", _Kind.PERCENT, limits.MAX_NET_EXPOSURE_PCT,
          "% of equity", "signed sum of position values plus open buys"),
    _Spec("window_notional_pct", _Kind.PERCENT, limits.WINDOW_NOTIONAL_PCT,
          _WINDOW, "notional sent within a rolling window"),
    _Spec("max_orders_per_second", _Kind.INTEGER, limits.MAX_ORDERS_PER_SECOND,
          "orders per 1 s", "submit rate (excess denied, not queued)"),
    _Spec("max_orders_per_minute", _Kind.INTEGER, limits.MAX_ORDERS_PER_MINUTE,
          "orders per 60 s", "submit rate (excess denied, not queued)"),
    _Spec("max_fills_per_strategy_symbol", _Kind.INTEGER, limits.MAX_FILLS_PER_STRATEGY_SYMBOL,
          _FILLS, "repeated executions; beyond it the strategy and symbol latch HALTED"),
    _Spec("max_open_orders", _Kind.INTEGER, limits.MAX_OPEN_ORDERS,
          "orders", "open orders across all symbols"),
    _Spec("max_open_orders_per_symbol", _Kind.INTEGER, limits.MAX_OPEN_ORDERS_PER_SYMBOL,
          "orders", "open orders on one symbol"),
    _Spec("max_daily_orders", _Kind.INTEGER, limits.MAX_DAILY_ORDERS,
          "orders per UTC day", "orders sent in one day"),
    _Spec("allowed_order_types", _Kind.ALLOW_LIST, _names(limits.ALLOWED_ORDER_TYPES),
          "order types", "order types accepted (market only as a marketable limit)"),
    _Spec("allowed_time_in_force", _Kind.ALLOW_LIST, _names(limits.ALLOWED_TIME_IN_FORCE),
          "time in force", "time-in-force values accepted"),
)  # fmt: skip
_BY_KEY = {spec.key: spec for spec in SPECS}


class RiskLimits(Frozen):
    """Effective limits, each within its hard cap; build with :func:`load_risk_limits`."""

    max_order_notional_pct: Decimal = limits.MAX_ORDER_NOTIONAL_PCT
    price_collar_pct_equity: Decimal = limits.PRICE_COLLAR_PCT[AssetClass.EQUITY]
    price_collar_pct_fx: Decimal = limits.PRICE_COLLAR_PCT[AssetClass.FX]
    price_collar_pct_crypto: Decimal = limits.PRICE_COLLAR_PCT[AssetClass.CRYPTO]
    max_reference_age_seconds: int = limits.MAX_REFERENCE_AGE_SECONDS
    max_position_pct: Decimal = limits.MAX_POSITION_PCT
    max_gross_exposure_pct: Decimal = limits.MAX_GROSS_EXPOSURE_PCT
    max_net_exposure_pct: Decimal = limits.MAX_NET_EXPOSURE_PCT
    window_notional_pct: Decimal = limits.WINDOW_NOTIONAL_PCT
    max_orders_per_second: int = limits.MAX_ORDERS_PER_SECOND
    max_orders_per_minute: int = limits.MAX_ORDERS_PER_MINUTE
    max_fills_per_strategy_symbol: int = limits.MAX_FILLS_PER_STRATEGY_SYMBOL
    max_open_orders: int = limits.MAX_OPEN_ORDERS
    max_open_orders_per_symbol: int = limits.MAX_OPEN_ORDERS_PER_SYMBOL
    max_daily_orders: int = limits.MAX_DAILY_ORDERS
    allowed_order_types: frozenset[OrderType] = limits.ALLOWED_ORDER_TYPES
    allowed_time_in_force: frozenset[TimeInForce] = limits.ALLOWED_TIME_IN_FORCE
    breakers: BreakerLimits = BreakerLimits()
    """The circuit breakers (not pre-trade checks): the ``breakers`` table of the same file."""
    configured_keys: frozenset[str] = frozenset()
    """Keys that came from configuration (the rest are the hard caps); ``breakers`` when the
    breakers table was given (its own ``configured_keys`` say which of its keys)."""

    @model_validator(mode="after")
    def _within_hard_caps(self) -> RiskLimits:
        for spec in SPECS:
            problem = _cap_problem(spec, _shown(getattr(self, spec.key)))
            if problem:
                raise ValueError(f"{spec.key}: {problem}")
        return self

    def collar_pct(self, asset_class: AssetClass) -> Decimal:
        """The price collar for ``asset_class``, in percent from the reference mid."""
        return {
            AssetClass.EQUITY: self.price_collar_pct_equity,
            AssetClass.FX: self.price_collar_pct_fx,
            AssetClass.CRYPTO: self.price_collar_pct_crypto,
        }[asset_class]


class LimitInfo(Frozen):
    """One limit as a person (or a ``get_risk_limits`` tool) sees it."""

    key: str
    hard_cap: LimitValue
    configured: LimitValue | None
    effective: LimitValue
    unit: str
    guards: str


def load_risk_limits(mapping: Mapping[str, object]) -> RiskLimits:
    """Effective limits from configured values; raises :class:`ConfigurationError` when invalid.

    ``mapping[BREAKERS]``, when present, is the breakers table (or already-effective
    :class:`BreakerLimits`, as a reload passes them back) and goes to :func:`load_breaker_limits`.
    """
    unknown = sorted(set(mapping) - set(_BY_KEY) - {BREAKERS})
    if unknown:
        misplaced = sorted(set(unknown) & set(BREAKER_BY_KEY))
        hint = f" (breaker keys go under a [{BREAKERS}] table: {misplaced})" if misplaced else ""
        raise ConfigurationError(
            f"unknown risk limit key(s) {unknown}; known keys: {sorted([*_BY_KEY, BREAKERS])}{hint}"
        )
    effective: dict[str, object] = {}
    for key, raw in mapping.items():
        if key == BREAKERS:
            effective[key] = load_breaker_limits(raw)
            continue
        spec = _BY_KEY[key]
        value = _coerce(spec, raw)
        problem = _cap_problem(spec, value)
        if problem:
            raise ConfigurationError(f"risk limit {key}={raw} refused: {problem}")
        effective[key] = _tightest(spec, value)
    return RiskLimits.model_validate({**effective, "configured_keys": frozenset(mapping)})


def load_breaker_limits(table: object) -> BreakerLimits:
    """Effective breakers from a configured table; :class:`ConfigurationError` when invalid.

    Each key may only tighten its hard value (a looser one is refused naming ``breakers.<key>``
    and the hard value), unknown keys are refused, a missing key means the hard value, and the
    result must stay ordered (warning above critical, drawdown tiers rising, pauses not shorter
    for a higher tier).
    """
    if isinstance(table, BreakerLimits):
        return table
    if not isinstance(table, Mapping):
        raise ConfigurationError(
            f"risk limit {BREAKERS}={table!r} must be a table ([{BREAKERS}] in risk_limits.toml)"
        )
    unknown = sorted(set(table) - set(BREAKER_BY_KEY))
    if unknown:
        raise ConfigurationError(
            f"unknown breaker key(s) {[f'{BREAKERS}.{key}' for key in unknown]}; "
            f"known keys: {sorted(BREAKER_BY_KEY)}"
        )
    values: dict[str, Decimal | int] = {}
    for key, raw in table.items():
        spec = BREAKER_BY_KEY[key]
        name = f"{BREAKERS}.{key}"
        number = _to_decimal(name, raw)
        value: Decimal | int = number
        if isinstance(spec.hard, int):
            if number != number.to_integral_value():
                raise ConfigurationError(f"risk limit {name}={raw!r} must be a whole number")
            value = int(number)
        problem = breaker_problem(spec, value)
        if problem:
            raise ConfigurationError(f"risk limit {name}={raw} refused: {problem}")
        values[key] = value
    defaults = {spec.key: spec.hard for spec in BREAKER_SPECS}
    problem = order_problem(defaults | values)
    if problem:
        raise ConfigurationError(f"risk limits [{BREAKERS}] refused: {problem}")
    return BreakerLimits.model_validate({**values, "configured_keys": frozenset(values)})


def load_risk_limits_toml(text: str) -> RiskLimits:
    """Parse a ``risk_limits.toml`` document (top-level keys, ``[breakers]``) into limits."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"risk limits file is not valid TOML: {exc}") from exc
    return load_risk_limits(document)


def describe_limits(risk_limits: RiskLimits) -> list[LimitInfo]:
    """Every limit with its hard cap, configured value (if any), effective value, unit and use."""
    return [
        LimitInfo(
            key=spec.key,
            hard_cap=_shown(spec.cap),
            configured=(
                _shown(getattr(risk_limits, spec.key))
                if spec.key in risk_limits.configured_keys
                else None
            ),
            effective=_shown(getattr(risk_limits, spec.key)),
            unit=spec.unit,
            guards=spec.guards,
        )
        for spec in SPECS
    ]


def describe_breakers(risk_limits: RiskLimits) -> list[LimitInfo]:
    """Every breaker threshold as a :class:`LimitInfo` keyed ``breakers.<key>``.

    ``hard_cap`` is the hard value; ``guards`` says which direction tightens (for pauses and the
    latch the hard value is the least allowed, for the others the most).
    """
    breakers = risk_limits.breakers
    return [
        LimitInfo(
            key=f"{BREAKERS}.{spec.key}",
            hard_cap=spec.hard,
            configured=(
                getattr(breakers, spec.key) if spec.key in breakers.configured_keys else None
            ),
            effective=getattr(breakers, spec.key),
            unit=spec.unit,
            guards=f"{spec.guards}; only a {spec.tighter} value tightens",
        )
        for spec in BREAKER_SPECS
    ]


def _shown(value: object) -> LimitValue:
    if isinstance(value, frozenset):
        return tuple(sorted(str(v) for v in value))
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"not a limit value: {value!r}")
    return value


def _coerce(spec: _Spec, raw: object) -> LimitValue:
    if spec.kind is _Kind.ALLOW_LIST:
        if isinstance(raw, str) or not isinstance(raw, list | tuple | set | frozenset):
            raise ConfigurationError(f"risk limit {spec.key}={raw!r} must be a list of names")
        return tuple(sorted(str(v) for v in raw))
    number = _to_decimal(spec.key, raw)
    if spec.kind is _Kind.INTEGER:
        if number != number.to_integral_value():
            raise ConfigurationError(f"risk limit {spec.key}={raw!r} must be a whole number")
        return int(number)
    return number


def _to_decimal(key: str, raw: object) -> Decimal:
    # Reject booleans explicitly: True would otherwise pass as the number 1.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ConfigurationError(f"risk limit {key}={raw!r} must be a number")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise ConfigurationError(f"risk limit {key}={raw!r} must be a number") from exc
    if not number.is_finite():
        raise ConfigurationError(f"risk limit {key}={raw!r} must be finite")
    return number


def _cap_problem(spec: _Spec, value: LimitValue) -> str | None:
    """Why ``value`` is not allowed for ``spec`` (None when it is within the hard cap)."""
    if isinstance(spec.cap, frozenset):
        if not isinstance(value, tuple):
            return "must be a list of names"
        beyond = sorted(set(value) - spec.cap)
        if beyond:
            return f"{beyond} beyond the hard cap {sorted(spec.cap)}"
        if not value:
            return "must allow at least one value (use the kill switch to stop trading)"
        return None
    if isinstance(value, tuple):
        return "must be a number"
    if value <= 0:
        return "must be greater than zero (use the kill switch to stop trading)"
    if value > spec.cap:
        return f"{value} exceeds the hard cap {spec.cap} {spec.unit}"
    return None


def _tightest(spec: _Spec, value: LimitValue) -> object:
    if isinstance(spec.cap, frozenset) and isinstance(value, tuple):
        return frozenset(value) & spec.cap
    if isinstance(value, Decimal | int) and isinstance(spec.cap, Decimal | int):
        return min(spec.cap, value)
    raise TypeError(f"{spec.key}: value {value!r} does not match its cap")
