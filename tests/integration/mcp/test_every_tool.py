"""Every tool of the contract, called through a real client in both protocol eras.

Each test drives the suite the way a model would and checks values that could be wrong: prices
and bars against each other, cash to the cent from the fills, limits and states taking effect,
and errors as a stable ``CODE: message`` without internals.

Most tests run on a short synthetic history (opening the account dominates their time); the
market-data tests that need days of bars use ``full_client`` with the default history.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import accumulate, pairwise
from statistics import fmean
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.client import CallToolResult
from mcp.types import TextContent

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.instrument import AssetClass
from trading_core.domain.precision import round_money
from trading_core.risk.risk_config import SPECS
from trading_core.risk.states import KILL_SWITCH_ACTIVE, TRADING_PAUSED
from trading_core.risk.stress import SCENARIOS
from trading_core.settings import Settings

SYMBOL = "BTC/USD"
UNKNOWN = "NOPE/USD"
PRINCIPAL = "assistant:local"
"""Who calls in memory (as over stdio): the local person's assistant."""
SMALL = Decimal("0.01")
"""A BTC/USD quantity whose notional (~400 USD) is below every limit and the approval threshold."""
SHORT_HISTORY_BARS = 300

REGIMES = {"trending_up", "trending_down", "ranging", "high_volatility"}
INDICATORS = {
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "atr_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "adx_14",
}
TIMEFRAMES = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ERROR = re.compile(r"^[A-Z][A-Z0-9_]+: \S")
_ABSOLUTE_PATH = re.compile(r"(?<![\w/:.])/[\w.-]+/|[A-Za-z]:\\")
_PYTHON_FILE = re.compile(r"\.py\b")

_ORDER = {"symbol": SYMBOL, "side": "buy", "quantity": "0.01", "limit_price": "1000"}
VALID_ARGUMENTS: dict[str, dict[str, Any]] = {
    "list_symbols": {},
    "get_quote": {"symbol": SYMBOL},
    "get_ohlcv": {"symbol": SYMBOL, "timeframe": "1h", "limit": 5},
    "get_indicators": {"symbol": SYMBOL, "timeframe": "1h"},
    "get_market_regime": {"symbol": SYMBOL, "timeframe": "1h"},
    "get_model_status": {},
    "get_sentiment": {"symbol": SYMBOL},
    "place_order": _ORDER,
    "list_approvals": {},
    "approve_order": {"approval_id": "apr_missing"},
    "reject_order": {"approval_id": "apr_missing"},
    "cancel_order": {"order_id": "missing"},
    "cancel_all_orders": {},
    "close_position": {"symbol": SYMBOL},
    "get_order": {"order_id": "missing"},
    "list_orders": {},
    "check_order": _ORDER,
    "get_risk_limits": {},
    "set_risk_limit": {"key": "max_open_orders", "value": 1},
    "get_trading_state": {},
    "pause_trading": {"reason": "test", "minutes": 5},
    "resume_trading": {},
    "activate_kill_switch": {"reason": "test"},
    "get_risk_metrics": {},
    "run_stress_test": {"scenario": "crypto_down_30"},
    "get_position_size": {"symbol": SYMBOL, "win_probability": 0.55, "win_loss_ratio": 1.5},
    "get_positions": {},
    "get_portfolio_summary": {},
    "get_performance": {},
    "get_trade_history": {},
    "get_equity_curve": {},
    "get_decisions": {},
}
"""Schema-valid arguments of every tool (the extra-argument check must fail on that alone)."""


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(mcp={"history_bars": SHORT_HISTORY_BARS})


@pytest.fixture
async def full_client(
    settings_factory: Callable[..., Settings], clock: SimulatedClock, mode: str
) -> AsyncIterator[Client[Any]]:
    """A client of a suite with the default (three-day) history: daily bars, warm indicators."""
    runtime = Runtime(settings_factory(), clock=clock)
    try:
        async with Client(build_suite(runtime), mode=mode) as connected:
            yield connected
    finally:
        await runtime.close()


# --- helpers ----------------------------------------------------------------------------------


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def error_text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


def assert_safe(text: str) -> None:
    """An error a client sees: a stable code and a message, never internals."""
    assert _ERROR.match(text), text
    assert "Traceback" not in text, text
    assert not _ABSOLUTE_PATH.search(text), text
    assert not _PYTHON_FILE.search(text), text


async def ok(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, f"{tool}({arguments}) failed: {error_text(result)}"
    assert isinstance(result.structured_content, dict), f"{tool} gave no structured content"
    return result.structured_content


async def refused(client: Client[Any], tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert result.is_error, f"{tool}({arguments}) should fail: {result.structured_content}"
    text = error_text(result)
    assert_safe(text)
    return text


async def instrument(client: Client[Any], symbol: str = SYMBOL) -> dict[str, Any]:
    listed = await ok(client, "list_symbols")
    return next(i for i in listed["instruments"] if i["symbol"] == symbol)


def on_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (price / tick).quantize(Decimal(1), rounding=rounding) * tick


async def limit_price(client: Client[Any], *, marketable: bool) -> Decimal:
    """Just through the ask (fills now), or 2 % under the bid (rests, inside every collar)."""
    quote = await ok(client, "get_quote", symbol=SYMBOL)
    tick = dec((await instrument(client))["tick_size"])
    if marketable:
        return on_tick(dec(quote["ask"]) * Decimal("1.002"), tick, ROUND_CEILING)
    return on_tick(dec(quote["bid"]) * Decimal("0.98"), tick, ROUND_FLOOR)


async def buy(
    client: Client[Any], quantity: Decimal = SMALL, *, marketable: bool = True, **extra: Any
) -> dict[str, Any]:
    price = await limit_price(client, marketable=marketable)
    return await ok(
        client,
        "place_order",
        symbol=SYMBOL,
        side="buy",
        quantity=str(quantity),
        limit_price=str(price),
        **extra,
    )


async def bought(client: Client[Any], quantity: Decimal = SMALL) -> dict[str, Any]:
    placed = await buy(client, quantity)
    assert placed["status"] == "filled", placed
    return placed


async def resting(client: Client[Any], quantity: Decimal = SMALL) -> dict[str, Any]:
    placed = await buy(client, quantity, marketable=False)
    assert placed["status"] == "accepted", placed
    return placed


def cents(amount: Decimal) -> Decimal:
    """``amount`` as the tools show USD: cents, half to even."""
    return round_money(amount, "USD")


def totals(fills: list[dict[str, Any]]) -> tuple[Decimal, Decimal, Decimal]:
    """Quantity, money (quantity times price) and commission of some fills."""
    quantity = sum((dec(f["quantity"]) for f in fills), start=Decimal(0))
    money = sum((dec(f["quantity"]) * dec(f["price"]) for f in fills), start=Decimal(0))
    commission = sum((dec(f["commission"]) for f in fills), start=Decimal(0))
    return quantity, money, commission


def codes(placed: dict[str, Any]) -> list[str]:
    return [v["code"] for v in placed["violations"]]


async def limit_info(client: Client[Any], key: str) -> dict[str, Any]:
    limits = (await ok(client, "get_risk_limits"))["limits"]
    return next(info for info in limits if info["key"] == key)


async def above_approval_threshold(client: Client[Any], settings: Settings) -> Decimal:
    """A quantity whose notional is 1.5 times the assistant's paper approval threshold."""
    quote = await ok(client, "get_quote", symbol=SYMBOL)
    target = settings.approvals.assistant_paper_notional * Decimal("1.5")
    return (target / dec(quote["ask"])).quantize(Decimal("0.0001"), rounding=ROUND_CEILING)


async def say_yes(message: str, response_type: Any, params: Any, context: Any) -> dict[str, bool]:
    """A person who approves (both eras' forms have one boolean field, ``approve``)."""
    return {"approve": True}


# --- market data ------------------------------------------------------------------------------


async def test_list_symbols_describes_each_instrument(client: Client[Any]) -> None:
    instruments = (await ok(client, "list_symbols"))["instruments"]
    symbols = [i["symbol"] for i in instruments]
    assert len(symbols) == len(set(symbols))
    assert SYMBOL in symbols
    for item in instruments:
        assert item["broker"], item
        assert item["currency"], item
        assert AssetClass(item["asset_class"])
        assert dec(item["tick_size"]) > 0, item
        assert dec(item["lot_size"]) > 0, item
        assert 0 < dec(item["min_quantity"]) <= dec(item["max_quantity"]), item
        assert isinstance(item["tradable"], bool)


async def test_get_quote_is_fresh_with_bid_below_ask(
    client: Client[Any], clock: SimulatedClock, settings: Settings
) -> None:
    for symbol in settings.symbols or settings.synthetic.symbols:
        quote = await ok(client, "get_quote", symbol=symbol)
        bid, ask, last = dec(quote["bid"]), dec(quote["ask"]), dec(quote["last"])
        assert quote["symbol"] == symbol
        assert 0 < bid < ask
        assert bid <= last <= ask
        assert bid < dec(quote["mid"]) < ask
        age = (clock.now() - at(quote["timestamp"])).total_seconds()
        assert quote["age_seconds"] == pytest.approx(age)
        assert 0 <= age < 60
        assert quote["stale"] is False
    before = at((await ok(client, "get_quote", symbol=SYMBOL))["timestamp"])
    clock.advance_to(clock.now() + timedelta(seconds=45))
    after = await ok(client, "get_quote", symbol=SYMBOL)
    assert at(after["timestamp"]) > before  # the quote follows the clock
    assert after["stale"] is False


async def test_get_ohlcv_returns_limit_closed_aligned_bars(
    full_client: Client[Any], clock: SimulatedClock
) -> None:
    now = clock.now()
    for timeframe, step in TIMEFRAMES.items():
        limit = 2 if timeframe == "1d" else 5  # three days of history hold two whole days
        result = await ok(full_client, "get_ohlcv", symbol=SYMBOL, timeframe=timeframe, limit=limit)
        bars = result["bars"]
        assert len(bars) == limit, timeframe
        opens = [at(b["timestamp"]) for b in bars]
        assert all(later - earlier == step for earlier, later in pairwise(opens)), timeframe
        for bar, opened in zip(bars, opens, strict=True):
            assert bar["timeframe"] == timeframe
            assert bar["symbol"] == SYMBOL
            assert (opened - EPOCH) % step == timedelta(0), (timeframe, opened)
            assert opened + step <= now, (timeframe, opened)  # closed bars only
            low, high = dec(bar["low"]), dec(bar["high"])
            assert low <= min(dec(bar["open"]), dec(bar["close"]))
            assert max(dec(bar["open"]), dec(bar["close"])) <= high
        assert now - (opens[-1] + step) < step, timeframe  # the latest closed bar


async def test_coarser_bars_aggregate_the_one_minute_bars(client: Client[Any]) -> None:
    coarse = (await ok(client, "get_ohlcv", symbol=SYMBOL, timeframe="15m", limit=2))["bars"]
    fine = (await ok(client, "get_ohlcv", symbol=SYMBOL, timeframe="1m", limit=30))["bars"]
    for bar in coarse:
        start = at(bar["timestamp"])
        inside = [b for b in fine if start <= at(b["timestamp"]) < start + timedelta(minutes=15)]
        assert len(inside) == 15
        assert dec(bar["open"]) == dec(inside[0]["open"])
        assert dec(bar["close"]) == dec(inside[-1]["close"])
        assert dec(bar["high"]) == max(dec(b["high"]) for b in inside)
        assert dec(bar["low"]) == min(dec(b["low"]) for b in inside)
        assert dec(bar["volume"]) == sum(dec(b["volume"]) for b in inside)


async def test_get_ohlcv_start_and_end_bound_the_bars(
    client: Client[Any], clock: SimulatedClock
) -> None:
    hour = clock.now().replace(minute=0, second=0, microsecond=0)
    start, end = hour - timedelta(hours=4), hour - timedelta(hours=1)
    result = await ok(
        client,
        "get_ohlcv",
        symbol=SYMBOL,
        timeframe="1h",
        limit=100,
        start=start.isoformat(),
        end=end.isoformat(),
    )
    assert [at(b["timestamp"]) for b in result["bars"]] == [
        start + timedelta(hours=i) for i in range(3)
    ]


async def test_get_indicators_are_finite_or_none_and_match_the_bars(
    full_client: Client[Any],
) -> None:
    result = await ok(full_client, "get_indicators", symbol=SYMBOL, timeframe="1h")
    values = result["values"]
    assert set(values) == INDICATORS
    assert all(v is None or math.isfinite(v) for v in values.values()), values
    bars = (await ok(full_client, "get_ohlcv", symbol=SYMBOL, timeframe="1h", limit=1000))["bars"]
    assert result["bars_used"] == len(bars) >= 50
    assert at(result["timestamp"]) == at(bars[-1]["timestamp"])
    closes = [float(b["close"]) for b in bars]
    for period in (20, 50, 200):
        sma = values[f"sma_{period}"]
        if len(closes) < period:
            assert sma is None, period  # not warm: None, never a number from too few bars
        else:
            assert sma == pytest.approx(fmean(closes[-period:]), rel=1e-9), period
    assert values["bb_middle"] == pytest.approx(values["sma_20"])
    assert values["bb_lower"] < values["bb_middle"] < values["bb_upper"]
    assert 0 <= values["rsi_14"] <= 100
    assert values["atr_14"] > 0
    assert values["macd_hist"] == pytest.approx(values["macd_line"] - values["macd_signal"])
    wanted = ["rsi_14", "atr_14"]
    subset = await ok(full_client, "get_indicators", symbol=SYMBOL, timeframe="1h", names=wanted)
    assert subset["values"] == {name: values[name] for name in wanted}


async def test_get_market_regime_names_one_of_four_regimes(full_client: Client[Any]) -> None:
    for timeframe in ("15m", "1h"):
        result = await ok(full_client, "get_market_regime", symbol=SYMBOL, timeframe=timeframe)
        reading = result["reading"]
        assert result["timeframe"] == timeframe
        assert reading["regime"] in REGIMES
        assert 0 <= reading["confidence"] <= 1
        assert all(v is None or math.isfinite(v) for v in reading["inputs"].values())
        bars = await ok(full_client, "get_ohlcv", symbol=SYMBOL, timeframe=timeframe, limit=1000)
        assert reading["bars_used"] == len(bars["bars"])


async def test_get_model_status_says_when_no_model_is_configured(client: Client[Any]) -> None:
    result = await ok(client, "get_model_status")
    assert (result["configured"], result["found"], result["accepted"]) == (False, False, False)
    assert result["gate"] == "no model configured: rules only"
    assert result["version"] is None


# --- orders, positions, cash ------------------------------------------------------------------


async def test_a_marketable_limit_buy_fills_in_full(client: Client[Any]) -> None:
    placed = await bought(client)
    order = placed["order"]
    quantity, money, _ = totals(placed["fills"])
    assert quantity == SMALL == dec(order["filled_quantity"])
    assert order["status"] == "filled"
    assert placed["violations"] == []
    assert {f["order_id"] for f in placed["fills"]} == {order["order_id"]}
    assert all(dec(f["price"]) <= dec(order["limit_price"]) for f in placed["fills"])
    assert dec(order["average_fill_price"]) == money / quantity


async def test_a_fill_moves_positions_and_cash_exactly(
    client: Client[Any], settings: Settings, runtime: Runtime
) -> None:
    placed = await bought(client)
    # The ledger's exact fills; what the tools show is those amounts rounded to cents.
    app = await runtime.app()
    exact = [f.model_dump(mode="json") for f in await app.store.list_fills()]
    assert [f["fill_id"] for f in exact] == [f["fill_id"] for f in placed["fills"]]
    quantity, money, commission = totals(exact)
    positions = (await ok(client, "get_positions"))["positions"]
    assert [p["symbol"] for p in positions] == [SYMBOL]
    position = positions[0]
    assert dec(position["quantity"]) == quantity
    assert dec(position["average_price"]) == cents(money / quantity)
    summary = await ok(client, "get_portfolio_summary")
    initial = settings.initial_cash[summary["currency"]]
    assert dec(summary["cash"]) == cents(initial - money - commission)
    assert dec(summary["positions_value"]) == cents(quantity * dec(position["mark"]))
    assert dec(summary["equity"]) == cents(
        initial - money - commission + dec(summary["positions_value"])
    )
    assert summary["open_positions"] == 1


async def test_the_order_is_listed_traded_and_audited(client: Client[Any]) -> None:
    placed = await bought(client)
    order_id = placed["order"]["order_id"]
    got = await ok(client, "get_order", order_id=order_id)
    assert got["status"] == "filled"
    assert got["client_order_id"] == placed["client_order_id"]
    listed = await ok(client, "list_orders", status="filled", symbol=SYMBOL)
    assert [o["order_id"] for o in listed["orders"]] == [order_id]
    history = await ok(client, "get_trade_history", symbol=SYMBOL)
    assert [f["fill_id"] for f in history["fills"]] == [f["fill_id"] for f in placed["fills"]]
    decisions = (await ok(client, "get_decisions", symbol=SYMBOL))["decisions"]
    rows = [d for d in decisions if d["order_id"] == order_id]
    assert len(rows) == 1
    assert rows[0]["principal"] == PRINCIPAL
    assert rows[0]["decision_type"] == "entry"


async def test_the_same_client_order_id_returns_the_first_result(client: Client[Any]) -> None:
    first = await buy(client, client_order_id="contract-once")
    again = await buy(client, client_order_id="contract-once")
    assert first["status"] == "filled"
    assert again["duplicate"] is True
    assert again["order"]["order_id"] == first["order"]["order_id"]
    assert len((await ok(client, "list_orders"))["orders"]) == 1
    assert len((await ok(client, "get_trade_history"))["fills"]) == len(first["fills"])


async def test_cancel_order_cancels_a_resting_limit(client: Client[Any]) -> None:
    order_id = (await resting(client))["order"]["order_id"]
    assert (await ok(client, "get_portfolio_summary"))["open_orders"] == 1
    cancelled = await ok(client, "cancel_order", order_id=order_id)
    assert cancelled["order_id"] == order_id
    assert cancelled["status"] == "cancelled"
    assert (await ok(client, "get_order", order_id=order_id))["status"] == "cancelled"
    assert (await ok(client, "get_portfolio_summary"))["open_orders"] == 0


async def test_cancel_all_orders_cancels_every_working_order(client: Client[Any]) -> None:
    ids = {(await resting(client, q))["order"]["order_id"] for q in (SMALL, 2 * SMALL)}
    result = await ok(client, "cancel_all_orders", symbol=SYMBOL)
    assert {o["order_id"] for o in result["cancelled"]} == ids
    assert {o["status"] for o in result["cancelled"]} == {"cancelled"}
    assert (await ok(client, "get_portfolio_summary"))["open_orders"] == 0
    assert (await ok(client, "cancel_all_orders"))["cancelled"] == []


async def test_close_position_flattens(client: Client[Any], settings: Settings) -> None:
    placed = await bought(client)
    closed = await ok(client, "close_position", symbol=SYMBOL)
    assert closed["status"] == "filled", closed
    assert closed["order"]["side"] == "sell"
    bought_qty, cost, buy_commission = totals(placed["fills"])
    sold_qty, proceeds, sell_commission = totals(closed["fills"])
    assert sold_qty == bought_qty
    assert (await ok(client, "get_positions"))["positions"] == []
    summary = await ok(client, "get_portfolio_summary")
    initial = settings.initial_cash[summary["currency"]]
    expected = initial - cost - buy_commission + proceeds - sell_commission
    assert dec(summary["cash"]) == expected == dec(summary["equity"])
    assert summary["open_positions"] == 0
    assert (await refused(client, "close_position", symbol=SYMBOL)).startswith("NO_POSITION:")


async def test_check_order_is_a_dry_run(client: Client[Any]) -> None:
    price = await limit_price(client, marketable=True)
    order = {"symbol": SYMBOL, "side": "buy", "quantity": str(SMALL)}
    passed = await ok(client, "check_order", **order, limit_price=str(price))
    assert passed["approved"] is True
    assert passed["violations"] == []
    assert dec(passed["notional"]) == cents(SMALL * price)
    failed = await ok(client, "check_order", **order, limit_price=str(2 * price))
    assert failed["approved"] is False
    assert "PRICE_OUTSIDE_COLLAR" in [v["code"] for v in failed["violations"]]
    assert (await ok(client, "list_orders"))["orders"] == []
    assert (await ok(client, "get_decisions"))["decisions"] == []
    assert (await ok(client, "get_trade_history"))["fills"] == []


# --- risk limits and trading state ------------------------------------------------------------


async def test_get_risk_limits_lists_every_limit_within_its_hard_cap(client: Client[Any]) -> None:
    limits = {info["key"]: info for info in (await ok(client, "get_risk_limits"))["limits"]}
    assert set(limits) == {spec.key for spec in SPECS}
    for key, info in limits.items():
        assert info["unit"], key
        assert info["guards"], key
        if isinstance(info["hard_cap"], list):  # an allow-list: effective is a subset
            assert set(info["effective"]) <= set(info["hard_cap"]), key
        else:
            assert dec(info["hard_cap"]) >= dec(info["effective"]) > 0, key


async def test_tightening_a_limit_applies_at_once(client: Client[Any]) -> None:
    key = "max_order_notional_pct"
    equity = dec((await ok(client, "get_portfolio_summary"))["equity"])
    notional = SMALL * await limit_price(client, marketable=True)
    tighter = (notional / equity * 100 / 2).quantize(Decimal("0.0001"))  # half this order
    changed = await ok(client, "set_risk_limit", key=key, value=str(tighter))
    assert changed["status"] == "applied"
    assert dec(changed["effective"]) == tighter == dec((await limit_info(client, key))["effective"])
    refused_order = await buy(client, SMALL)
    assert refused_order["status"] == "rejected"
    assert "NOTIONAL_EXCEEDS_MAX_PER_ORDER" in codes(refused_order)
    assert (await buy(client, SMALL / 4))["status"] == "filled"  # under the new limit


async def test_loosening_a_limit_without_a_person_fails_closed(client: Client[Any]) -> None:
    key = "max_order_notional_pct"
    cap = dec((await limit_info(client, key))["hard_cap"])
    await ok(client, "set_risk_limit", key=key, value=str(cap / 2))
    text = await refused(client, "set_risk_limit", key=key, value=str(cap * 3 / 4))
    assert text.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert dec((await limit_info(client, key))["effective"]) == cap / 2


async def test_a_limit_beyond_its_hard_cap_is_refused(client: Client[Any]) -> None:
    key = "max_order_notional_pct"
    before = await limit_info(client, key)
    text = await refused(client, "set_risk_limit", key=key, value=str(dec(before["hard_cap"]) + 1))
    assert text.startswith("RISK_LIMIT_REFUSED:")
    assert await limit_info(client, key) == before


async def test_pause_trading_halts_new_orders(client: Client[Any], clock: SimulatedClock) -> None:
    paused = await ok(client, "pause_trading", reason="contract test", minutes=5)
    assert paused["record"]["state"] == "HALTED"
    assert at(paused["record"]["until"]) == clock.now() + timedelta(minutes=5)
    assert paused["trading_allowed"] is False
    assert (await ok(client, "get_trading_state"))["record"]["state"] == "HALTED"
    placed = await buy(client)
    assert placed["status"] == "rejected"
    assert TRADING_PAUSED in codes(placed)


async def test_resume_trading_without_a_person_fails_closed(client: Client[Any]) -> None:
    await ok(client, "pause_trading", reason="contract test", minutes=5)
    text = await refused(client, "resume_trading")
    assert text.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert "trading-core approvals approve" in text  # says how to approve out of band
    assert (await ok(client, "get_trading_state"))["record"]["state"] == "HALTED"


async def test_kill_switch_cancels_open_orders_and_blocks_new_ones(client: Client[Any]) -> None:
    order_id = (await resting(client))["order"]["order_id"]
    killed = await ok(client, "activate_kill_switch", reason="contract test")
    assert killed["record"]["state"] == "KILLED"
    assert killed["record"]["kill_switch"] is True
    assert killed["trading_allowed"] is False
    assert (await ok(client, "get_order", order_id=order_id))["status"] == "cancelled"
    assert (await ok(client, "get_portfolio_summary"))["open_orders"] == 0
    placed = await buy(client)
    assert placed["status"] == "rejected"
    assert KILL_SWITCH_ACTIVE in codes(placed)


# --- risk analytics ---------------------------------------------------------------------------


async def test_risk_metrics_of_a_position(client: Client[Any]) -> None:
    await bought(client)
    position = (await ok(client, "get_positions"))["positions"][0]
    value = dec(position["quantity"]) * dec(position["mark"])
    for method in ("historical", "parametric", "monte_carlo"):
        metrics = await ok(client, "get_risk_metrics", confidence=0.95, method=method)
        var = metrics["var"]
        assert var["method"] == method
        assert var["symbols"] == [SYMBOL]
        assert 0 < dec(var["var"]) <= dec(var["cvar"]) < value, (method, var)
        assert dec(var["gross_value"]) == cents(value) == dec(metrics["exposure"]["gross_exposure"])
        assert metrics["unmeasured_symbols"] == []
    at_95 = await ok(client, "get_risk_metrics", confidence=0.95)
    at_99 = await ok(client, "get_risk_metrics", confidence=0.99)
    assert dec(at_99["var"]["var"]) >= dec(at_95["var"]["var"])


async def test_stress_scenarios_shock_the_position(client: Client[Any]) -> None:
    await bought(client)
    position = (await ok(client, "get_positions"))["positions"][0]
    quantity, mark = dec(position["quantity"]), dec(position["mark"])
    asset_class = AssetClass((await instrument(client))["asset_class"])
    for name, scenario in SCENARIOS.items():
        result = await ok(client, "run_stress_test", scenario=name)
        expected = min(
            quantity * mark * variant.by_asset_class.get(asset_class, Decimal(0))
            for variant in scenario.variants
        )
        assert dec(result["total_pnl"]) == cents(expected), name
        # Each amount is rounded on its own: the sum may differ by a cent.
        gap = dec(result["stressed_equity"]) - dec(result["equity"]) - cents(expected)
        assert abs(gap) <= Decimal("0.01"), name
        assert result["open_orders_included"] == 0


async def test_position_size_is_within_every_cap(client: Client[Any]) -> None:
    p, b = Decimal("0.55"), Decimal("1.5")
    equity = dec((await ok(client, "get_portfolio_summary"))["equity"])
    cap_pct = dec((await limit_info(client, "max_order_notional_pct"))["effective"])
    ask = dec((await ok(client, "get_quote", symbol=SYMBOL))["ask"])
    lot = dec((await instrument(client))["lot_size"])
    for stop in ({}, {"stop_distance": "500"}):
        size = await ok(
            client,
            "get_position_size",
            symbol=SYMBOL,
            win_probability=float(p),
            win_loss_ratio=float(b),
            **stop,
        )
        quantity = dec(size["quantity"])
        assert quantity > 0
        assert quantity % lot == 0
        for stage in (
            "kelly_quantity",
            "after_order_notional_cap",
            "after_position_cap",
            "after_risk_per_trade_cap",
            "after_max_quantity",
        ):
            assert quantity <= dec(size[stage]), stage
        assert dec(size["full_kelly"]) == p - (1 - p) / b
        assert dec(size["fractional_kelly"]) == dec(size["full_kelly"]) * dec(
            size["kelly_multiplier"]
        )
        assert quantity * ask <= equity * cap_pct / 100


# --- approvals --------------------------------------------------------------------------------


async def test_a_large_order_waits_for_a_person_and_can_be_rejected(
    client: Client[Any], settings: Settings
) -> None:
    placed = await buy(client, await above_approval_threshold(client, settings))
    assert placed["status"] == "pending_approval", placed
    assert placed["order"] is None
    assert placed["fills"] == []
    assert dec(placed["notional"]) > settings.approvals.assistant_paper_notional
    approval_id = placed["approval_id"]
    pending = (await ok(client, "list_approvals", status="pending"))["approvals"]
    assert [(a["approval_id"], a["kind"], a["requested_by"]) for a in pending] == [
        (approval_id, "place_order", PRINCIPAL)
    ]
    text = await refused(client, "approve_order", approval_id=approval_id)
    assert text.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert approval_id in text
    rejected = await ok(client, "reject_order", approval_id=approval_id, reason="too large")
    assert rejected["status"] == "rejected"
    assert rejected["decision_reason"] == "too large"
    assert (await ok(client, "list_approvals", status="pending"))["approvals"] == []
    assert (await ok(client, "approve_order", approval_id=approval_id))["status"] == "rejected"
    assert (await ok(client, "list_orders"))["orders"] == []
    assert (await ok(client, "get_positions"))["positions"] == []


async def test_approve_order_with_a_person_executes_it(
    suite: FastMCP[Any], mode: str, settings: Settings
) -> None:
    async with Client(suite, mode=mode, elicitation_handler=say_yes) as client:
        quantity = await above_approval_threshold(client, settings)
        placed = await buy(client, quantity)
        assert placed["status"] == "pending_approval", placed
        approved = await ok(client, "approve_order", approval_id=placed["approval_id"])
        assert approved["status"] == "executed", approved
        assert approved["result"]["status"] == "filled"
        order_id = approved["result"]["order"]["order_id"]
        positions = (await ok(client, "get_positions"))["positions"]
        assert [(p["symbol"], dec(p["quantity"])) for p in positions] == [(SYMBOL, quantity)]
        decisions = (await ok(client, "get_decisions", symbol=SYMBOL))["decisions"]
        # The order row names who asked; the approval's outcome row, the person who approved.
        about = [
            (d["decision_type"], d["principal"]) for d in decisions if d["order_id"] == order_id
        ]
        assert about == [("entry", PRINCIPAL), ("approval_outcome", approved["decided_by"])]
        assert approved["decided_by"].startswith("human:")


# --- performance ------------------------------------------------------------------------------


async def test_the_equity_curve_follows_the_account(
    client: Client[Any], clock: SimulatedClock
) -> None:
    placed = await bought(client)
    filled_at = at(placed["fills"][0]["timestamp"])
    clock.advance_to(clock.now() + timedelta(hours=2))
    since = filled_at.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    curve = await ok(client, "get_equity_curve", since=since.isoformat(), resolution="1h")
    points = curve["points"]
    times = [at(p["timestamp"]) for p in points]
    assert times[0] == since
    assert len(times) == 5
    assert all(later - earlier == timedelta(hours=1) for earlier, later in pairwise(times))
    for point, time in zip(points, times, strict=True):
        assert dec(point["equity"]) == dec(point["cash"]) + dec(point["positions_value"])
        assert dec(point["drawdown_pct"]) >= 0
        assert point["exposed"] is (time > filled_at)
    summary = await ok(client, "get_portfolio_summary")
    assert dec(points[-1]["equity"]) == dec(summary["equity"])
    assert dec(points[-1]["cash"]) == dec(summary["cash"])


async def test_performance_is_computed_from_the_equity_curve(
    client: Client[Any], clock: SimulatedClock
) -> None:
    await bought(client)
    clock.advance_to(clock.now() + timedelta(hours=2))
    await ok(client, "close_position", symbol=SYMBOL)
    points = (await ok(client, "get_equity_curve", resolution="1h"))["points"]
    report = (await ok(client, "get_performance", resolution="1h"))["report"]
    for name, number in report.items():
        if isinstance(number, float):
            assert math.isfinite(number), name
    equity = [dec(p["equity"]) for p in points]
    assert report["periods"] == len(points) - 1
    assert at(report["start"]) == at(points[0]["timestamp"])
    assert at(report["end"]) == at(points[-1]["timestamp"])
    total_return = float(equity[-1] / equity[0] - 1)
    # The curve shows cents: half a cent in 100,000 bounds the gap to the exact statistic.
    assert report["total_return"] == pytest.approx(total_return, abs=1e-7)
    peaks = list(accumulate(equity, max))
    deepest = min(e / peak - 1 for e, peak in zip(equity, peaks, strict=True))
    assert report["max_drawdown"] == pytest.approx(float(deepest), abs=1e-7)
    assert -1 <= report["max_drawdown"] <= 0
    assert report["trade_count"] == 1  # the buy and the close: one round trip
    assert report["win_rate"] in (0.0, 1.0)


# --- errors -----------------------------------------------------------------------------------


async def test_an_unknown_symbol_is_instrument_not_found(client: Client[Any]) -> None:
    cases: dict[str, dict[str, Any]] = {
        "get_quote": {},
        "get_ohlcv": {"timeframe": "1h", "limit": 5},
        "get_indicators": {"timeframe": "1h"},
        "get_market_regime": {"timeframe": "1h"},
        "get_sentiment": {},
        "check_order": {"side": "buy", "quantity": "1", "limit_price": "10"},
        "close_position": {},
        "get_position_size": {"win_probability": 0.55, "win_loss_ratio": 1.5},
    }
    for tool, arguments in cases.items():
        text = await refused(client, tool, symbol=UNKNOWN, **arguments)
        assert text.startswith("INSTRUMENT_NOT_FOUND:"), (tool, text)
    # place_order reports every refusal as a result: status rejected with the stable code.
    placed = await ok(client, "place_order", **{**_ORDER, "symbol": UNKNOWN})
    assert placed["status"] == "rejected"
    assert codes(placed) == ["INSTRUMENT_NOT_FOUND"]


async def test_an_extra_argument_is_invalid_argument_for_every_tool(client: Client[Any]) -> None:
    listed = {tool.name for tool in await client.list_tools()}
    assert listed == set(VALID_ARGUMENTS)
    limits = await ok(client, "get_risk_limits")
    for tool in sorted(listed):
        text = await refused(client, tool, **VALID_ARGUMENTS[tool], unexpected_argument=1)
        assert text.startswith("INVALID_ARGUMENT:"), (tool, text)
        assert "unexpected_argument" in text, (tool, text)
    # Refused before running: nothing was paused, killed, set or placed.
    assert (await ok(client, "get_trading_state"))["record"]["state"] == "ACTIVE"
    assert (await ok(client, "list_orders"))["orders"] == []
    assert await ok(client, "get_risk_limits") == limits
    assert (await ok(client, "list_approvals"))["approvals"] == []


ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("approve_order", {"approval_id": "apr_missing"}, "APPROVAL_NOT_FOUND"),
    ("reject_order", {"approval_id": "apr_missing"}, "APPROVAL_NOT_FOUND"),
    ("cancel_order", {"order_id": "missing"}, "ORDER_NOT_FOUND"),
    ("get_order", {"order_id": "missing"}, "ORDER_NOT_FOUND"),
    ("set_risk_limit", {"key": "no_such_limit", "value": 1}, "RISK_LIMIT_REFUSED"),
    ("run_stress_test", {"scenario": "no_such_scenario"}, "INVALID_RISK_INPUT"),
    ("get_indicators", {"symbol": SYMBOL, "names": ["no_such"]}, "INVALID_ARGUMENT"),
    ("get_quote", {}, "INVALID_ARGUMENT"),
    ("place_order", {**_ORDER, "quantity": True}, "INVALID_ARGUMENT"),
    ("place_order", {**_ORDER, "quantity": "NaN"}, "INVALID_ARGUMENT"),
    ("place_order", {**_ORDER, "quantity": "Infinity"}, "INVALID_ARGUMENT"),
    ("place_order", {**_ORDER, "quantity": "0"}, "INVALID_ARGUMENT"),
    ("place_order", {**_ORDER, "quantity": "-1"}, "INVALID_ARGUMENT"),
    ("get_equity_curve", {"since": "2000-01-01T00:00:00Z", "resolution": "1m"}, "TOO_MANY_POINTS"),
]
"""A tool, arguments it must refuse, and the stable code of the refusal."""


async def test_errors_are_a_code_and_a_message_without_internals(client: Client[Any]) -> None:
    for tool, arguments, code in ERRORS:
        text = await refused(client, tool, **arguments)
        assert text.startswith(f"{code}: "), (tool, arguments, text)
