"""Stress scenarios: P&L by hand, open orders, and crash shocks derived from real 2018 data."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from trading_core.domain.instrument import AssetClass
from trading_core.domain.order import Order, OrderStatus, OrderType, Side
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.risk.analytics import InvalidRiskInputError
from trading_core.risk.stress import (
    CRYPTO_DEFAULT_SHOCK,
    SCENARIOS,
    crash_shocks,
    run_stress_test,
)

D = Decimal
T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
EQUITY = D("100000")
CLASSES = {
    "AAPL": AssetClass.EQUITY,
    "MSFT": AssetClass.EQUITY,
    "BTC/USD": AssetClass.CRYPTO,
    "EUR/USD": AssetClass.FX,
    "GBP/USD": AssetClass.FX,
}
MARKS = {
    "AAPL": D("200"),
    "MSFT": D("400"),
    "BTC/USD": D("30000"),
    "EUR/USD": D("1.10"),
    "GBP/USD": D("1.30"),
}
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _order(symbol: str, side: Side, quantity: str, **fields: object) -> Order:
    values: dict[str, object] = {
        "order_id": f"o-{symbol}-{side}",
        "client_order_id": f"c-{symbol}-{side}",
        "symbol": symbol,
        "side": side,
        "quantity": D(quantity),
        "status": OrderStatus.SENT,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    return Order(**values)  # type: ignore[arg-type]


def test_the_registry_names_the_four_scenarios() -> None:
    expected = {"equities_down_10", "crypto_down_30", "fx_move_3", "crypto_crash_2018"}
    assert set(SCENARIOS) == expected


def test_a_long_equity_loses_ten_percent_of_its_value_and_other_classes_are_untouched() -> None:
    result = run_stress_test(
        "equities_down_10",
        positions={"AAPL": D("100"), "BTC/USD": D("-2")},
        marks=MARKS,
        asset_classes=CLASSES,
        equity=EQUITY,
    )
    # AAPL: 100 * 200 * -0.10 = -2,000; BTC is crypto: unshocked
    assert result.pnl_by_symbol == {"AAPL": D("-2000"), "BTC/USD": D("0")}
    assert result.shocks == {"AAPL": D("-0.10"), "BTC/USD": D("0")}
    assert result.total_pnl == D("-2000")
    assert result.pnl_pct_of_equity == D("-2")
    assert result.stressed_equity == D("98000")


def test_a_short_gains_when_its_market_falls() -> None:
    result = run_stress_test(
        "crypto_down_30",
        positions={"AAPL": D("100"), "BTC/USD": D("-2")},
        marks=MARKS,
        asset_classes=CLASSES,
        equity=EQUITY,
    )
    # BTC short: -2 * 30,000 * -0.30 = +18,000
    assert result.pnl_by_symbol == {"AAPL": D("0"), "BTC/USD": D("18000")}
    assert result.total_pnl == D("18000")
    assert result.pnl_pct_of_equity == D("18")


@pytest.mark.parametrize(
    ("positions", "variant", "total"),
    [
        # long 10,000 EUR at 1.10: +3 % -> +330, -3 % -> -330
        ({"EUR/USD": D("10000")}, "down", D("-330")),
        ({"EUR/USD": D("-10000")}, "up", D("-330")),
        # long EUR -330 / short GBP +195 when FX falls: -135; the opposite when it rises
        ({"EUR/USD": D("10000"), "GBP/USD": D("-5000")}, "down", D("-135")),
    ],
)
def test_fx_move_reports_the_worse_direction(
    positions: dict[str, Decimal], variant: str, total: Decimal
) -> None:
    result = run_stress_test(
        "fx_move_3", positions=positions, marks=MARKS, asset_classes=CLASSES, equity=EQUITY
    )
    assert result.variant == variant
    assert result.total_pnl == total


def test_open_orders_are_filled_at_their_limit_before_the_shock() -> None:
    buy = _order("AAPL", Side.BUY, "10", limit_price=D("190"))
    result = run_stress_test(
        "equities_down_10",
        positions={"AAPL": D("100")},
        marks=MARKS,
        asset_classes=CLASSES,
        open_orders=[buy],
        equity=EQUITY,
    )
    # position 100 * (180 - 200) = -2,000; order bought at 190 ends at 180: 10 * -10 = -100
    assert result.pnl_by_symbol == {"AAPL": D("-2100")}
    assert result.open_orders_included == 1


def test_an_order_in_a_symbol_without_a_position_is_stressed_too() -> None:
    sell = _order("MSFT", Side.SELL, "5", limit_price=D("410"))
    result = run_stress_test(
        "equities_down_10",
        positions={},
        marks=MARKS,
        asset_classes=CLASSES,
        open_orders=[sell],
        equity=EQUITY,
    )
    # short 5 at 410, ends at 360: -5 * (360 - 410) = +250
    assert result.pnl_by_symbol == {"MSFT": D("250")}


def test_only_the_open_remainder_of_live_orders_counts() -> None:
    partial = _order(
        "AAPL",
        Side.BUY,
        "10",
        limit_price=D("200"),
        status=OrderStatus.PARTIAL,
        filled_quantity=D("4"),
    )
    unknown = _order("MSFT", Side.BUY, "1", limit_price=D("400"), status=OrderStatus.UNKNOWN)
    stop = _order(
        "AAPL", Side.SELL, "2", order_type=OrderType.STOP, stop_price=D("190"), order_id="s"
    )
    cancelled = _order("AAPL", Side.BUY, "500", limit_price=D("200"), status=OrderStatus.CANCELLED)
    filled = _order(
        "AAPL",
        Side.BUY,
        "7",
        limit_price=D("200"),
        status=OrderStatus.FILLED,
        filled_quantity=D("7"),
    )
    result = run_stress_test(
        "equities_down_10",
        positions={},
        marks=MARKS,
        asset_classes=CLASSES,
        open_orders=[partial, unknown, stop, cancelled, filled],
        equity=EQUITY,
    )
    # partial: 6 * (180 - 200) = -120; stop sells 2 at 190: -2 * (180 - 190) = +20
    # unknown (treated as live): 1 * (360 - 400) = -40
    assert result.pnl_by_symbol == {"AAPL": D("-100"), "MSFT": D("-40")}
    assert result.open_orders_included == 3


def test_per_symbol_shocks_override_the_asset_class_shock() -> None:
    result = run_stress_test(
        "crypto_down_30",
        positions={"BTC/USD": D("1")},
        marks=MARKS,
        asset_classes=CLASSES,
        equity=EQUITY,
        shocks={"BTC/USD": D("-0.5")},
    )
    assert result.total_pnl == D("-15000")


def test_an_unknown_scenario_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="unknown stress scenario 'meteor'") as caught:
        run_stress_test("meteor", positions={}, marks=MARKS, asset_classes=CLASSES, equity=EQUITY)
    assert all(name in str(caught.value) for name in SCENARIOS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positions": {"TSLA": D("1")}}, "no mark for TSLA"),
        ({"marks": {**MARKS, "TSLA": D("5")}, "positions": {"TSLA": D("1")}}, "no asset class"),
        ({"equity": D("0")}, "equity must be positive"),
        ({"shocks": {"AAPL": D("-1.5")}}, "below -1"),
        ({"positions": {"AAPL": D("NaN")}}, "must be finite"),
        ({"marks": {**MARKS, "AAPL": D("0")}}, "mark of AAPL must be positive"),
    ],
)
def test_a_stress_that_cannot_be_computed_is_refused(
    kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "positions": {"AAPL": D("1")},
        "marks": MARKS,
        "asset_classes": CLASSES,
        "equity": EQUITY,
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidRiskInputError, match=message):
        run_stress_test("equities_down_10", **arguments)  # type: ignore[arg-type]


def test_crash_shock_is_the_worst_peak_to_trough_return_by_hand() -> None:
    # peaks 100 then 120; worst trough after a peak: 84 / 120 - 1 = -0.30 (not 90 / 100 - 1)
    shocks = crash_shocks({"X": [100.0, 90.0, 120.0, 84.0, 130.0]})
    assert shocks == {"X": D("-0.3")}


def test_crash_shock_of_a_rising_series_is_zero() -> None:
    assert crash_shocks({"UP": [1.0, 2.0, 3.0]}) == {"UP": D("0")}


@pytest.mark.parametrize("closes", [[1.0], [1.0, float("nan")], [1.0, 0.0], [1.0, -2.0]])
def test_crash_shocks_refuse_unusable_closes(closes: list[float]) -> None:
    with pytest.raises(InvalidRiskInputError, match="closes of BAD"):
        crash_shocks({"BAD": closes})


@pytest.fixture(scope="module")
def january_2018_closes() -> dict[str, list[float]]:
    """Time-ordered closes of every ``*_BTC-5m.feather`` file (the January 2018 crash)."""
    configured = os.environ.get("MARKET_DATA_DIR")
    directory = Path(configured) if configured else _PROJECT_ROOT.parent / "shared/data/market"
    paths = sorted(directory.glob("*_BTC-5m.feather"))
    if len(paths) < 10:
        pytest.fail(f"January 2018 crypto files not found in {directory} (set MARKET_DATA_DIR)")
    closes = {}
    for path in paths:
        loaded = load_bars_frame(path)
        closes[loaded.symbol] = loaded.frame.sort_values("time")["close"].tolist()
    return closes


def test_crash_shocks_from_the_2018_files_match_an_independent_pandas_drawdown(
    january_2018_closes: dict[str, list[float]],
) -> None:
    shocks = crash_shocks(january_2018_closes)
    assert set(shocks) == set(january_2018_closes)
    for symbol, closes in january_2018_closes.items():
        series = pd.Series(closes)
        expected = float((series / series.cummax() - 1).min())
        assert float(shocks[symbol]) == pytest.approx(expected, abs=1e-6), symbol
        assert shocks[symbol] <= D(str(expected))  # rounded toward the more severe side
    # The crash was severe everywhere, worst for TRX and mildest for ETH (in BTC terms).
    assert all(shock < D("-0.15") for shock in shocks.values())
    assert D("-0.176") < shocks["ETH/BTC"] < D("-0.174")
    assert shocks["TRX/BTC"] == min(shocks.values())
    assert shocks["TRX/BTC"] < D("-0.44")


def test_the_crash_scenario_applies_derived_shocks_and_the_crypto_default_elsewhere(
    january_2018_closes: dict[str, list[float]],
) -> None:
    shocks = crash_shocks(january_2018_closes)
    marks = {"ETH/BTC": D("0.09"), "SOL/BTC": D("0.002"), "AAPL": D("200")}
    classes = {
        "ETH/BTC": AssetClass.CRYPTO,
        "SOL/BTC": AssetClass.CRYPTO,
        "AAPL": AssetClass.EQUITY,
    }
    result = run_stress_test(
        "crypto_crash_2018",
        positions={"ETH/BTC": D("10"), "SOL/BTC": D("100"), "AAPL": D("1")},
        marks=marks,
        asset_classes=classes,
        equity=D("5"),
        shocks=shocks,
    )
    assert result.shocks["ETH/BTC"] == shocks["ETH/BTC"]
    assert result.shocks["SOL/BTC"] == CRYPTO_DEFAULT_SHOCK
    assert result.pnl_by_symbol["ETH/BTC"] == D("10") * D("0.09") * shocks["ETH/BTC"]
    assert result.pnl_by_symbol["SOL/BTC"] == D("100") * D("0.002") * D("-0.30")
    assert result.pnl_by_symbol["AAPL"] == 0
    assert result.total_pnl < D("-0.2")
