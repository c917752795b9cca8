"""Risk configuration may only tighten the hard caps, and says what it did."""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from trading_core.domain.errors import ConfigurationError
from trading_core.domain.instrument import AssetClass
from trading_core.domain.order import OrderType, TimeInForce
from trading_core.risk import limits
from trading_core.risk.breaker_config import BreakerLimits
from trading_core.risk.risk_config import (
    RiskLimits,
    describe_limits,
    load_risk_limits,
    load_risk_limits_toml,
)
from trading_core.settings import PACKAGED_CONFIG_DIR

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = PACKAGED_CONFIG_DIR / "risk_limits.toml"
LIMIT_KEYS = set(RiskLimits.model_fields) - {"configured_keys", "breakers"}


def test_no_configuration_means_every_hard_cap() -> None:
    effective = load_risk_limits({})
    assert effective == RiskLimits()
    assert effective.max_order_notional_pct == Decimal(5)
    assert effective.collar_pct(AssetClass.FX) == Decimal("0.5")
    assert effective.max_orders_per_second == 5
    assert effective.allowed_order_types == limits.ALLOWED_ORDER_TYPES


def test_a_tighter_value_becomes_the_effective_limit() -> None:
    effective = load_risk_limits({"max_order_notional_pct": "2.5", "max_open_orders_per_symbol": 2})
    assert effective.max_order_notional_pct == Decimal("2.5")
    assert effective.max_open_orders_per_symbol == 2
    assert effective.max_position_pct == limits.MAX_POSITION_PCT


def test_a_value_equal_to_its_cap_is_accepted() -> None:
    effective = load_risk_limits({"max_position_pct": 10, "max_daily_orders": 200})
    assert effective.max_position_pct == Decimal(10)
    assert effective.max_daily_orders == 200


@pytest.mark.parametrize(
    ("key", "value", "cap"),
    [
        ("max_order_notional_pct", "5.01", "5"),
        ("price_collar_pct_fx", 0.51, "0.5"),
        ("max_orders_per_second", 6, "5"),
        ("max_reference_age_seconds", 61, "60"),
        ("max_daily_orders", 201, "200"),
    ],
)
def test_a_value_beyond_its_cap_is_refused_naming_key_value_and_cap(
    key: str, value: object, cap: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_risk_limits({key: value})
    message = raised.value.message
    assert key in message
    assert str(value) in message
    assert f"hard cap {cap}" in message


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="bypass_risk"):
        load_risk_limits({"bypass_risk": True})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_position_pct", 0),
        ("max_position_pct", "-1"),
        ("max_position_pct", "NaN"),
        ("max_position_pct", "Infinity"),
        ("max_position_pct", "ten"),
        ("max_position_pct", True),
        ("max_open_orders", "2.5"),
        ("max_open_orders", None),
        ("allowed_order_types", "limit"),
        ("allowed_order_types", []),
    ],
)
def test_values_that_are_not_a_valid_tightening_are_refused(key: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=key):
        load_risk_limits({key: value})


def test_allow_lists_may_drop_entries_but_never_add_any() -> None:
    effective = load_risk_limits({"allowed_order_types": ["limit"]})
    assert effective.allowed_order_types == frozenset({OrderType.LIMIT})
    with pytest.raises(ConfigurationError, match="'stop'"):
        load_risk_limits({"allowed_order_types": ["limit", "stop"]})


def test_values_read_back_from_the_store_as_decimals_are_accepted() -> None:
    effective = load_risk_limits({"max_orders_per_minute": Decimal("30"), "max_position_pct": 8})
    assert effective.max_orders_per_minute == 30
    assert isinstance(effective.max_orders_per_minute, int)


def test_limits_built_directly_cannot_exceed_a_cap_either() -> None:
    with pytest.raises(ValidationError, match="max_position_pct"):
        RiskLimits(max_position_pct=Decimal("10.5"))
    with pytest.raises(ValidationError, match="allowed_time_in_force"):
        RiskLimits(allowed_time_in_force=frozenset())


def test_describe_limits_shows_cap_configured_and_effective_for_every_limit() -> None:
    effective = load_risk_limits({"window_notional_pct": "20"})
    described = {info.key: info for info in describe_limits(effective)}
    assert set(described) == LIMIT_KEYS
    window = described["window_notional_pct"]
    assert (window.hard_cap, window.configured, window.effective) == (
        Decimal(25),
        Decimal(20),
        Decimal(20),
    )
    assert "300 s" in window.unit
    untouched = described["max_open_orders"]
    assert (untouched.hard_cap, untouched.configured, untouched.effective) == (20, None, 20)
    types = described["allowed_time_in_force"]
    assert types.effective == tuple(sorted(str(t) for t in TimeInForce))
    assert all(info.unit and info.guards for info in described.values())


def test_the_shipped_file_as_is_means_the_hard_caps() -> None:
    assert load_risk_limits_toml(SHIPPED.read_text(encoding="utf-8")) == RiskLimits()


def test_every_example_in_the_shipped_file_is_a_valid_tightening() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    example = "\n".join(
        line.removeprefix("# ")
        for line in text.splitlines()
        if re.match(r"# (\[breakers\]$|[a-z0-9_]+ = )", line)
    )
    effective = load_risk_limits_toml(example)
    assert effective.configured_keys == {*LIMIT_KEYS, "breakers"}
    assert effective.max_order_notional_pct == Decimal(2)
    assert OrderType.MARKET not in effective.allowed_order_types
    breakers = effective.breakers
    assert breakers.configured_keys == set(BreakerLimits.model_fields) - {"configured_keys"}
    assert breakers.drawdown_kill_pct < limits.DRAWDOWN_KILL_PCT
    assert breakers.kill_latch_hours > limits.KILL_LATCH_HOURS


def test_a_file_that_is_not_toml_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_risk_limits_toml("max_position_pct = = 3")


def test_every_hard_cap_in_the_limits_module_has_a_docstring() -> None:
    tree = ast.parse(Path(limits.__file__).read_text(encoding="utf-8"))
    body = tree.body
    caps = [
        (index, node)
        for index, node in enumerate(body)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    ]
    assert len(caps) >= 18
    for index, node in caps:
        following = body[index + 1] if index + 1 < len(body) else None
        documented = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
        assert documented, f"{ast.unparse(node.target)} has no docstring"
