"""Breaker thresholds from configuration: tighten-only, refused when looser, hard when missing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from trading_core.domain.errors import ConfigurationError
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.risk import limits
from trading_core.risk.breaker_config import BreakerLimits
from trading_core.risk.risk_config import (
    RiskLimits,
    describe_breakers,
    load_breaker_limits,
    load_risk_limits,
    load_risk_limits_toml,
)
from trading_core.risk.states import DrawdownTier

HARD = {
    "daily_loss_warning_pct": limits.DAILY_LOSS_WARNING_PCT,
    "daily_loss_critical_pct": limits.DAILY_LOSS_CRITICAL_PCT,
    "drawdown_pause_1h_pct": limits.DRAWDOWN_PAUSE_1H_PCT,
    "drawdown_pause_4h_pct": limits.DRAWDOWN_PAUSE_4H_PCT,
    "drawdown_kill_pct": limits.DRAWDOWN_KILL_PCT,
    "pause_1h_minutes": limits.PAUSE_1H_MINUTES,
    "pause_4h_minutes": limits.PAUSE_4H_MINUTES,
    "kill_latch_hours": limits.KILL_LATCH_HOURS,
}

# (key, a tighter value, a looser value) for every breaker key.
TIGHTER_AND_LOOSER = [
    ("daily_loss_warning_pct", "-1.5", "-2.5"),
    ("daily_loss_critical_pct", "-2.5", "-3.01"),
    ("drawdown_pause_1h_pct", "4", "5.5"),
    ("drawdown_pause_4h_pct", "8", "10.01"),
    ("drawdown_kill_pct", "12", "20"),
    ("pause_1h_minutes", 90, 59),
    ("pause_4h_minutes", 300, 120),
    ("kill_latch_hours", 48, 23),
]


def test_the_breaker_keys_are_exactly_the_hard_values_listed_here() -> None:
    assert set(BreakerLimits.model_fields) - {"configured_keys"} == set(HARD)


def test_no_configuration_means_the_hard_values() -> None:
    for effective in (load_risk_limits({}).breakers, RiskLimits().breakers, BreakerLimits()):
        assert {key: getattr(effective, key) for key in HARD} == HARD
        assert effective.configured_keys == frozenset()
    hard = BreakerLimits()
    assert hard.drawdown_pct(DrawdownTier.KILL) == Decimal(15)
    assert hard.pause_minutes(DrawdownTier.PAUSE_4H) == 240
    assert hard.kill_latch == timedelta(hours=24)


def test_an_empty_breakers_table_means_the_hard_values() -> None:
    effective = load_risk_limits_toml("[breakers]\n")
    assert effective.breakers == BreakerLimits()
    assert effective.configured_keys == {"breakers"}


@pytest.mark.parametrize(("key", "tighter", "looser"), TIGHTER_AND_LOOSER)
def test_a_tighter_value_becomes_the_effective_threshold(
    key: str, tighter: object, looser: object
) -> None:
    effective = load_risk_limits({"breakers": {key: tighter}}).breakers
    assert getattr(effective, key) == Decimal(str(tighter))
    assert effective.configured_keys == {key}
    untouched = set(HARD) - {key}
    assert {k: getattr(effective, k) for k in untouched} == {k: HARD[k] for k in untouched}


@pytest.mark.parametrize(("key", "tighter", "looser"), TIGHTER_AND_LOOSER)
def test_a_looser_value_is_refused_naming_the_key_and_the_hard_value(
    key: str, tighter: object, looser: object
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_risk_limits({"breakers": {key: looser}})
    message = raised.value.message
    assert f"breakers.{key}={looser}" in message
    assert f"looser than the hard value {HARD[key]}" in message


def test_values_equal_to_the_hard_values_are_accepted() -> None:
    effective = load_breaker_limits({key: str(value) for key, value in HARD.items()})
    assert {key: getattr(effective, key) for key in HARD} == HARD
    assert effective.configured_keys == set(HARD)


def test_whole_numbers_stay_integers_and_percentages_decimals() -> None:
    effective = load_breaker_limits({"pause_1h_minutes": "90", "drawdown_kill_pct": 12})
    assert effective.pause_1h_minutes == 90
    assert isinstance(effective.pause_1h_minutes, int)
    assert effective.drawdown_kill_pct == Decimal(12)
    assert isinstance(effective.drawdown_kill_pct, Decimal)


def test_an_unknown_breaker_key_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"breakers\.skip_on_weekends") as raised:
        load_risk_limits({"breakers": {"skip_on_weekends": True}})
    assert "drawdown_kill_pct" in raised.value.message  # the known keys are listed


def test_a_breaker_key_outside_the_table_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match=r"under a \[breakers\] table") as raised:
        load_risk_limits_toml('drawdown_kill_pct = "12"\n')
    assert "drawdown_kill_pct" in raised.value.message


@pytest.mark.parametrize("table", ["12", 12, ["drawdown_kill_pct"]])
def test_breakers_that_are_not_a_table_are_refused(table: object) -> None:
    with pytest.raises(ConfigurationError, match=r"must be a table"):
        load_risk_limits({"breakers": table})


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("daily_loss_warning_pct", "0", "without any loss"),
        ("daily_loss_critical_pct", "0.5", "without any loss"),
        ("drawdown_pause_1h_pct", "1", "never re-arm"),
        ("drawdown_pause_1h_pct", "0.5", "never re-arm"),
        ("pause_1h_minutes", limits.MAX_PAUSE_MINUTES + 1, "a week"),
        ("kill_latch_hours", limits.MAX_KILL_LATCH_HOURS + 1, "30 days"),
    ],
)
def test_tightening_past_what_makes_sense_is_refused(key: str, value: object, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why) as raised:
        load_breaker_limits({key: value})
    assert f"breakers.{key}" in raised.value.message


def test_the_far_ends_that_still_make_sense_are_accepted() -> None:
    effective = load_breaker_limits(
        {
            "daily_loss_warning_pct": "-0.01",
            "daily_loss_critical_pct": "-0.02",
            "drawdown_pause_1h_pct": "1.01",
            "drawdown_pause_4h_pct": "1.02",
            "drawdown_kill_pct": "1.03",
            "pause_1h_minutes": limits.MAX_PAUSE_MINUTES,
            "pause_4h_minutes": limits.MAX_PAUSE_MINUTES,
            "kill_latch_hours": limits.MAX_KILL_LATCH_HOURS,
        }
    )
    assert effective.kill_latch == timedelta(days=30)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("drawdown_kill_pct", True),
        ("drawdown_kill_pct", "NaN"),
        ("drawdown_kill_pct", "-Infinity"),
        ("drawdown_kill_pct", "twelve"),
        ("drawdown_kill_pct", None),
        ("pause_1h_minutes", "90.5"),
        ("kill_latch_hours", 36.5),
    ],
)
def test_values_that_are_not_a_valid_number_are_refused(key: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=rf"breakers\.{key}"):
        load_breaker_limits({key: value})


@pytest.mark.parametrize(
    ("table", "names"),
    [
        # A tighter critical level alone would sit above the (hard) warning.
        ({"daily_loss_critical_pct": "-1.5"}, ["warning_pct (-2) must be above", "(-1.5)"]),
        ({"daily_loss_warning_pct": "-1.5", "daily_loss_critical_pct": "-1.5"}, ["(-1.5)"]),
        # A tighter kill tier alone would fall below the (hard) second pause tier.
        ({"drawdown_kill_pct": "8"}, ["drawdown tiers must rise", "(10)", "(8)"]),
        ({"drawdown_pause_1h_pct": "4", "drawdown_pause_4h_pct": "4"}, ["(4)"]),
        # A higher tier never pauses for less than a lower one.
        ({"pause_1h_minutes": 300}, ["pause_4h_minutes (240)", "pause_1h_minutes (300)"]),
    ],
)
def test_thresholds_out_of_order_are_refused(table: dict[str, object], names: list[str]) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_breaker_limits(table)
    assert "looser" not in raised.value.message  # each value alone is a valid tightening
    for name in names:
        assert name in raised.value.message


def test_breakers_built_directly_cannot_be_looser_or_out_of_order_either() -> None:
    with pytest.raises(ValidationError, match=r"breakers\.drawdown_kill_pct"):
        BreakerLimits(drawdown_kill_pct=Decimal(16))
    with pytest.raises(ValidationError, match=r"breakers\.kill_latch_hours"):
        BreakerLimits(kill_latch_hours=1)
    with pytest.raises(ValidationError, match="drawdown tiers must rise"):
        BreakerLimits(drawdown_pause_4h_pct=Decimal(4))
    with pytest.raises(ValidationError, match=r"breakers\.drawdown_kill_pct"):
        RiskLimits.model_validate({"breakers": {"drawdown_kill_pct": "16"}})


def test_a_toml_breakers_table_is_read_with_the_pre_trade_limits() -> None:
    effective = load_risk_limits_toml(
        'max_position_pct = "8"\n\n[breakers]\ndrawdown_kill_pct = "12"\nkill_latch_hours = 48\n'
    )
    assert effective.max_position_pct == Decimal(8)
    assert effective.breakers.drawdown_kill_pct == Decimal(12)
    assert effective.breakers.kill_latch == timedelta(hours=48)
    assert effective.configured_keys == {"max_position_pct", "breakers"}


def test_loaded_breakers_survive_a_reload_of_the_configured_values() -> None:
    # RiskLimitsService.reload passes each configured key's effective value back to the loader.
    configured = load_risk_limits({"max_open_orders": 5, "breakers": {"drawdown_kill_pct": "12"}})
    reloaded = load_risk_limits(
        {key: getattr(configured, key) for key in configured.configured_keys}
    )
    assert reloaded == configured
    assert reloaded.breakers.drawdown_kill_pct == Decimal(12)


def test_describe_breakers_shows_hard_configured_and_effective_for_every_key() -> None:
    effective = load_risk_limits({"breakers": {"drawdown_kill_pct": "12"}})
    described = {info.key: info for info in describe_breakers(effective)}
    assert set(described) == {f"breakers.{key}" for key in HARD}
    kill = described["breakers.drawdown_kill_pct"]
    assert (kill.hard_cap, kill.configured, kill.effective) == (Decimal(15), Decimal(12), 12)
    assert "lower value tightens" in kill.guards
    latch = described["breakers.kill_latch_hours"]
    assert (latch.hard_cap, latch.configured, latch.effective) == (24, None, 24)
    assert "higher value tightens" in latch.guards
    assert all(info.unit and info.guards for info in described.values())


def test_read_risk_limits_applies_and_refuses_breakers_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "risk_limits.toml"
    path.write_text('[breakers]\ndaily_loss_critical_pct = "-2.5"\n', encoding="utf-8")
    assert read_risk_limits(path).breakers.daily_loss_critical_pct == Decimal("-2.5")

    path.write_text('[breakers]\ndaily_loss_critical_pct = "-4"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        read_risk_limits(path)
    assert str(path) in raised.value.message
    assert "breakers.daily_loss_critical_pct=-4" in raised.value.message
