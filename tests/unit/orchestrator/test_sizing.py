"""Entry sizing: quarter Kelly on a calibrated edge, a fixed fraction otherwise, both shrinkable."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading_core.domain.instrument import AssetClass, Instrument
from trading_core.domain.signal import Signal
from trading_core.orchestrator.sizing import entry_size
from trading_core.risk.kelly import kelly_fraction

BTC = Instrument(
    symbol="BTC/USD",
    broker="paper",
    asset_class=AssetClass.CRYPTO,
    currency="USD",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.0001"),
    min_quantity=Decimal("0.0001"),
    max_quantity=Decimal(100),
)
EQUITY, ASK = Decimal(100_000), Decimal(40_000)


def signal(**features: float) -> Signal:
    return Signal(
        agent="model",
        symbol="BTC/USD",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        score=0.8,
        features=dict(features),
    )


def size(sig: Signal | None, multiplier: float = 1.0) -> tuple[Decimal, str]:
    result = entry_size(
        signal=sig,
        equity=EQUITY,
        ask=ASK,
        instrument=BTC,
        order_fraction=Decimal("0.02"),
        multiplier=multiplier,
        held=Decimal(0),
    )
    return result.quantity, result.method


def test_without_a_calibrated_probability_it_is_the_fixed_fraction() -> None:
    quantity, method = size(signal())
    assert quantity == Decimal("0.05")  # 2 % of 100,000 at 40,000
    assert method.startswith("fixed 2% of equity")


def test_a_calibrated_edge_is_sized_by_quarter_kelly() -> None:
    # p 0.55, b 1.5: full Kelly 0.25, a quarter is 6.25 % of equity, above the 5 % order cap.
    quantity, method = size(signal(win_probability=0.55, win_loss_ratio=1.5))
    assert kelly_fraction(0.55, 1.5) == Decimal("0.25")
    assert quantity * ASK <= EQUITY * Decimal("0.05")  # clipped by the per-order cap
    assert quantity == Decimal("0.125")
    assert "quarter Kelly 0.0625" in method
    assert "bound by order_notional" in method


def test_a_small_edge_is_sized_below_the_caps() -> None:
    # p 0.52, b 1: full Kelly 0.04, a quarter is 1 % of equity = 1,000 / 40,000 = 0.025.
    quantity, method = size(signal(win_probability=0.52, win_loss_ratio=1.0))
    assert quantity == Decimal("0.025")
    assert "bound by kelly" in method


def test_no_edge_means_no_size() -> None:
    quantity, _ = size(signal(win_probability=0.4, win_loss_ratio=1.0))
    assert quantity == 0


@pytest.mark.parametrize("features", [{"win_probability": 0.6}, {"win_loss_ratio": 2.0}])
def test_half_a_calibration_is_no_calibration(features: dict[str, float]) -> None:
    _, method = size(signal(**features))
    assert method.startswith("fixed")


def test_a_filter_multiplier_shrinks_either_size_and_rounds_down_to_the_lot() -> None:
    fixed, fixed_method = size(signal(), multiplier=0.33)
    assert fixed == Decimal("0.0165")  # 0.05 * 0.33 exactly on the lot
    assert fixed_method.endswith("x0.33")
    kelly, _ = size(signal(win_probability=0.52, win_loss_ratio=1.0), multiplier=0.5)
    assert kelly == Decimal("0.0125")


def test_kelly_fits_the_effective_caps_at_the_orders_limit_price() -> None:
    """Found wrong on real bars: Kelly sized within the hard caps (10 % per order) and at the
    ask, so the check, at the configured 5 % and the order's limit, refused every such entry."""
    strong = signal(win_probability=0.9, win_loss_ratio=2.0)
    limit = ASK * Decimal("1.002")
    result = entry_size(
        signal=strong,
        equity=EQUITY,
        ask=ASK,
        instrument=BTC,
        order_fraction=Decimal("0.02"),
        multiplier=1.0,
        held=Decimal(0),
        limit_price=limit,
        max_order_notional_pct=Decimal(5),
        max_position_pct=Decimal(20),
    )
    assert result.quantity * limit <= EQUITY * Decimal("0.05")
    assert result.quantity * limit > EQUITY * Decimal("0.0499")  # bound by the cap, not below it
    assert "bound by order_notional" in result.method
    unbounded = entry_size(
        signal=strong,
        equity=EQUITY,
        ask=ASK,
        instrument=BTC,
        order_fraction=Decimal("0.02"),
        multiplier=1.0,
        held=Decimal(0),
    )
    assert unbounded.quantity * limit > EQUITY * Decimal("0.05")  # what the check refused
