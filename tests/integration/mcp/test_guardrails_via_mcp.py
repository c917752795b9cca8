"""Adversarial orders through the MCP layer: every guardrail holds in both protocol eras.

Modelled on ``tests/integration/core/test_adversarial_guardrails.py``, but every attack goes
through the tools a model would call (``place_order``, ``close_position``, ...). One table: each
case prepares a fresh account through the tools, snapshots it, runs one attack, then checks
three things - the stable code the attack met, that nothing new reached the broker (no order
other than a REJECTED one, no fill), and that cash and positions are exactly as before - plus
the audit trail: every rejected ``place_order`` wrote one ``rejected`` row with its codes and
the caller's principal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.client import CallToolResult
from fastmcp.client.elicitation import ElicitRequestParams
from mcp.types import TextContent
from mcp_types import ElicitRequestFormParams

from mcp_servers.runtime import LOCAL_ASSISTANT, Runtime
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.order import OrderStatus
from trading_core.domain.signal import Decision
from trading_core.services.container import TradingApp
from trading_core.settings import Settings

from .conftest import advance as advance_clock

SYMBOL = "BTC/USD"
TICK = Decimal("0.1")
"""BTC/USD's tick size in the packaged symbols.toml: every price a case sends is on it."""
ATTACK_ID = "attack"
CYRILLIC_DZE = "\u0405"
"""Looks exactly like a Latin S."""


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    """A short synthetic history: building it dominates each case, and no guardrail reads it."""
    return settings_factory(mcp={"history_bars": 60})


@dataclass
class Desk:
    """What a step or an attack works with: the connected client and the process behind it."""

    client: Client[Any]
    runtime: Runtime
    clock: SimulatedClock
    _mid: tuple[datetime, Decimal] | None = None

    async def call(self, tool: str, args: Mapping[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(tool, dict(args or {}), raise_on_error=False)

    async def ok(self, tool: str, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(tool, args)
        assert not result.is_error, (tool, args, error_text(result))
        assert result.structured_content is not None
        return result.structured_content

    async def app(self) -> TradingApp:
        return await self.runtime.app()

    async def price(self, factor: str) -> Decimal:
        """``factor`` times the current mid, on the tick (a limit price relative to the market)."""
        # The feed makes one bar a minute: within a minute the mid cannot move, so ask once.
        minute = self.clock.now().replace(second=0, microsecond=0)
        if self._mid is None or self._mid[0] != minute:
            quote = await self.ok("get_quote", {"symbol": SYMBOL})
            self._mid = (minute, Decimal(quote["mid"]))
        return (self._mid[1] * Decimal(factor)).quantize(TICK)


def error_text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


@dataclass(frozen=True)
class Observed:
    """What an attack met: its codes, the client ids it tried, each structured rejection's codes."""

    codes: frozenset[str]
    client_ids: tuple[str, ...] = ()
    rejections: tuple[frozenset[str], ...] = ()


def observe(result: CallToolResult, client_id: str | None) -> Observed:
    """The codes a tool result carries: an error's ``CODE:`` prefix, or the violations."""
    ids = (client_id,) if client_id else ()
    if result.is_error:
        text = error_text(result)
        code, sep, _ = text.partition(":")
        assert sep, f"an error without a stable code: {text!r}"
        assert code.isupper(), f"an error without a stable code: {text!r}"
        return Observed(frozenset({code}), ids)
    data = result.structured_content
    assert data is not None
    ids = (str(data["client_order_id"]),)
    if data["duplicate"]:
        return Observed(frozenset({"duplicate"}))
    if data["status"] != "rejected":
        return Observed(frozenset({f"NOT REJECTED: {data['status']}"}), ids)
    codes = frozenset(str(v["code"]) for v in data["violations"])
    assert codes, "a rejection without a code"
    return Observed(codes, ids, (codes,))


Step = Callable[[Desk], Awaitable[object]]
Attack = Callable[[Desk], Awaitable[Observed]]


async def _nothing(desk: Desk) -> None:
    return None


@dataclass(frozen=True)
class Case:
    name: str
    expected: str
    attack: Attack
    setup: Step = _nothing


# --- building blocks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Px:
    """A limit or stop price as a multiple of the mid at the moment of the attack."""

    factor: str


def order_args(**overrides: Any) -> dict[str, Any]:
    """A small resting bid (about 390 USD, under the approval threshold) with ``overrides``."""
    return {
        "symbol": SYMBOL,
        "side": "buy",
        "quantity": "0.01",
        "limit_price": Px("0.99"),
        "client_order_id": ATTACK_ID,
    } | overrides


async def resolve(desk: Desk, args: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: str(await desk.price(value.factor)) if isinstance(value, Px) else value
        for key, value in args.items()
    }


def place(**overrides: Any) -> Attack:
    """``place_order`` with ``order_args(**overrides)``; a key set to ``None`` is left out."""

    async def attack(desk: Desk) -> Observed:
        args = await resolve(desk, order_args(**overrides))
        args = {k: v for k, v in args.items() if v is not None}
        cid = args.get("client_order_id")
        return observe(await desk.call("place_order", args), cid if isinstance(cid, str) else None)

    return attack


def close_position(symbol: str = SYMBOL) -> Attack:
    async def attack(desk: Desk) -> Observed:
        return observe(await desk.call("close_position", {"symbol": symbol}), None)

    return attack


def steps(*parts: Step) -> Step:
    async def run(desk: Desk) -> None:
        for part in parts:
            await part(desk)

    return run


def expect(status: str, **overrides: Any) -> Step:
    """Place an order that must end with ``status`` (setup for cases needing state)."""

    async def run(desk: Desk) -> None:
        args = await resolve(desk, order_args(**overrides))
        result = await desk.ok("place_order", args)
        assert result["status"] == status, result

    return run


def resting(cid: str, *, qty: str = "0.01", factor: str = "0.99") -> Step:
    return expect("accepted", client_order_id=cid, quantity=qty, limit_price=Px(factor))


def filled(cid: str, *, qty: str = "0.01") -> Step:
    return expect("filled", client_order_id=cid, quantity=qty, limit_price=Px("1.01"))


def ioc_misses(count: int, *, every_s: float = 0.0, qty: str = "0.01") -> Step:
    """``count`` IOC bids below the market: each leaves (spends budget), none executes."""

    async def run(desk: Desk) -> None:
        for i in range(count):
            args = order_args(
                client_order_id=f"miss-{i}",
                # A different size each time: the same content twice would be a duplicate.
                quantity=str(Decimal(qty) + Decimal(i) / 1000),
                time_in_force="ioc",
            )
            result = await desk.ok("place_order", await resolve(desk, args))
            assert result["order"]["status"] == "cancelled", result
            advance_clock(desk.clock, every_s)

    return run


def tighten(key: str, value: str) -> Step:
    async def run(desk: Desk) -> None:
        result = await desk.ok("set_risk_limit", {"key": key, "value": value})
        assert result["status"] == "applied", result
        assert Decimal(result["effective"]) == Decimal(value)

    return run


def advance(seconds: float) -> Step:
    async def run(desk: Desk) -> None:
        advance_clock(desk.clock, seconds)

    return run


async def pause(desk: Desk) -> None:
    result = await desk.ok("pause_trading", {"reason": "news", "minutes": 30})
    assert result["record"]["state"] == "HALTED"


async def kill(desk: Desk) -> None:
    result = await desk.ok("activate_kill_switch", {"reason": "red team"})
    assert result["record"]["state"] == "KILLED"


def cancelled(cid: str) -> Step:
    async def run(desk: Desk) -> None:
        stored = await (await desk.app()).store.get_order_by_client_id(cid)
        assert stored is not None
        assert stored.status is OrderStatus.CANCELLED

    return run


async def reducing(desk: Desk) -> None:
    """A 3 % daily loss trips the breaker: REDUCING until the session ends.

    No tool lowers the state to REDUCING (and none should); the breaker is how it happens, so
    the case drives the breaker with the metrics of such a loss.
    """
    app = await desk.app()
    await app.state.evaluate(lambda: (Decimal("-3"), Decimal("0")))
    state = await desk.ok("get_trading_state")
    assert state["record"]["state"] == "REDUCING"
    assert state["reduce_only"] is True


# --- the table --------------------------------------------------------------------------------

LONG = filled("long")

CASES = [
    # --- arguments: refused by the tool's input schema, before anything runs ---
    Case("nan_quantity", "INVALID_ARGUMENT", place(quantity="NaN")),
    Case("inf_quantity", "INVALID_ARGUMENT", place(quantity="inf")),
    Case("negative_quantity", "INVALID_ARGUMENT", place(quantity=-1)),
    Case("zero_quantity", "INVALID_ARGUMENT", place(quantity=0)),
    Case("boolean_quantity", "INVALID_ARGUMENT", place(quantity=True)),
    Case("negative_limit_price", "INVALID_ARGUMENT", place(limit_price="-39000")),
    Case("bypass_risk_extra_argument", "INVALID_ARGUMENT", place(bypass_risk=True)),
    Case("skip_checks_extra_argument", "INVALID_ARGUMENT", place(skip_checks=True)),
    Case("numeric_symbol", "INVALID_ARGUMENT", place(symbol=42)),
    Case("unknown_side", "INVALID_ARGUMENT", place(side="hold")),
    Case("unknown_order_type", "INVALID_ARGUMENT", place(order_type="iceberg")),
    Case("overlong_client_id", "INVALID_ARGUMENT", place(client_order_id="x" * 65)),
    Case("limit_order_without_price", "INVALID_ORDER", place(limit_price=None)),
    Case("stop_limit_without_stop", "INVALID_ORDER", place(order_type="stop_limit")),
    # --- instruments: only the allow-list, spelled exactly ---
    Case("unknown_symbol", "INSTRUMENT_NOT_FOUND", place(symbol="DOGE/USD")),
    Case(
        "cyrillic_homoglyph_symbol", "INSTRUMENT_NOT_FOUND", place(symbol=f"BTC/U{CYRILLIC_DZE}D")
    ),
    Case("lowercase_symbol", "INSTRUMENT_NOT_FOUND", place(symbol="btc/usd")),
    Case("symbol_with_trailing_space", "INSTRUMENT_NOT_FOUND", place(symbol=f"{SYMBOL} ")),
    # --- the order policy and the instrument's rules ---
    Case(
        "plain_stop_order",
        "ORDER_TYPE_NOT_ALLOWED",
        place(order_type="stop", limit_price=None, stop_price=Px("1.01")),
    ),
    Case("quantity_below_minimum", "INVALID_QUANTITY", place(quantity="0.00001")),
    Case("quantity_above_maximum", "INVALID_QUANTITY", place(quantity="101")),
    Case("off_lot_quantity", "QUANTITY_PRECISION", place(quantity="0.010000001")),
    Case("off_tick_price", "PRICE_PRECISION", place(limit_price="39000.05")),
    # --- prices and size ---
    Case("buy_limit_far_above_mid", "PRICE_OUTSIDE_COLLAR", place(limit_price=Px("1.10"))),
    Case(
        "sell_limit_far_below_mid",
        "PRICE_OUTSIDE_COLLAR",
        place(side="sell", limit_price=Px("0.90")),
        LONG,
    ),
    Case(
        "stop_limit_far_from_its_stop",
        "PRICE_OUTSIDE_COLLAR",
        place(order_type="stop_limit", stop_price=Px("1.00"), limit_price=Px("1.20")),
    ),
    Case(
        "notional_above_the_per_order_cap",
        "NOTIONAL_EXCEEDS_MAX_PER_ORDER",
        place(quantity="0.2"),
    ),
    Case("sell_without_position", "SHORT_SELLING_NOT_ALLOWED", place(side="sell")),
    Case(
        "sell_more_than_held",
        "SHORT_SELLING_NOT_ALLOWED",
        place(side="sell", quantity="0.02", limit_price=Px("0.995")),
        LONG,
    ),
    # --- slicing: each order is small, together they pass a cap (open orders count) ---
    Case(
        "open_bids_add_up_past_position_limit",
        "POSITION_LIMIT",
        place(quantity="0.015", limit_price=Px("0.985")),
        steps(tighten("max_position_pct", "1"), resting("r-1", qty="0.015")),
    ),
    Case(
        "position_plus_open_bid_past_position_limit",
        "POSITION_LIMIT",
        place(quantity="0.008", limit_price=Px("0.985")),
        steps(
            tighten("max_position_pct", "1"),
            filled("f-1", qty="0.012"),
            resting("r-1", qty="0.008"),
        ),
    ),
    Case(
        "max_open_orders_per_symbol",
        "MAX_OPEN_ORDERS",
        place(limit_price=Px("0.98")),
        steps(*(resting(f"r-{i}", factor=f"0.99{i}") for i in range(3))),
    ),
    Case(
        "slices_past_the_window_notional",
        "WINDOW_NOTIONAL_EXCEEDED",
        place(quantity="0.015", time_in_force="ioc"),
        steps(tighten("window_notional_pct", "1"), ioc_misses(1, every_s=1, qty="0.015")),
    ),
    # --- duplicates ---
    Case(
        "same_client_id_as_a_resting_order",
        "duplicate",
        place(client_order_id="first", quantity="0.02"),
        resting("first"),
    ),
    Case(
        "same_client_id_as_a_filled_order",
        "duplicate",
        place(client_order_id="first", quantity="0.02", limit_price=Px("1.01")),
        filled("first"),
    ),
    Case(
        "same_content_new_client_id_within_10s",
        "DUPLICATE_ORDER",
        place(limit_price=Px("0.99")),
        steps(resting("first"), advance(5)),
    ),
    # --- throttles (the simulated clock moves; nothing sleeps) ---
    Case(
        "burst_over_5_orders_per_second",
        "RATE_LIMITED",
        place(quantity="0.02", time_in_force="ioc"),
        ioc_misses(5),
    ),
    Case(
        "over_the_orders_per_minute_limit",
        "RATE_LIMITED",
        place(quantity="0.02", time_in_force="ioc"),
        steps(tighten("max_orders_per_minute", "3"), ioc_misses(3, every_s=1.1)),
    ),
    Case(
        "over_the_daily_order_limit",
        "DAILY_ORDER_LIMIT",
        place(quantity="0.02", time_in_force="ioc"),
        steps(tighten("max_daily_orders", "2"), ioc_misses(2, every_s=1.1)),
    ),
    # --- a stale reference: the synthetic feed makes a new bar every minute of clock time, so
    # its quote is never older than 60 s; tightening the allowed age (open to anyone) below the
    # quote's 30 s age makes the same quote stale ---
    Case(
        "limit_order_on_a_stale_quote",
        "STALE_REFERENCE",
        place(),
        tighten("max_reference_age_seconds", "10"),
    ),
    Case(
        "market_order_on_a_stale_quote",
        "STALE_REFERENCE",
        place(order_type="market", limit_price=None),
        tighten("max_reference_age_seconds", "10"),
    ),
    # --- trading states ---
    Case("paused_blocks_a_buy", "TRADING_PAUSED", place(), pause),
    Case(
        "paused_blocks_even_close_position", "TRADING_PAUSED", close_position(), steps(LONG, pause)
    ),
    Case("killed_blocks_a_buy", "KILL_SWITCH_ACTIVE", place(), kill),
    Case(
        "killed_blocks_even_close_position",
        "KILL_SWITCH_ACTIVE",
        close_position(),
        steps(LONG, kill),
    ),
    Case(
        "killed_cancelled_the_resting_bid_and_blocks_a_new_one",
        "KILL_SWITCH_ACTIVE",
        place(limit_price=Px("0.985")),
        steps(resting("r-1"), kill, cancelled("r-1")),
    ),
    Case(
        "reducing_blocks_a_new_entry",
        "TRADING_REDUCING_ONLY",
        place(limit_price=Px("1.01")),
        steps(LONG, reducing),
    ),
    Case("close_without_position", "NO_POSITION", close_position()),
]


# --- what an attack must leave unchanged ------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    cash: Decimal
    positions_value: Decimal
    equity: Decimal
    positions: dict[str, Decimal]
    orders: dict[str, tuple[str, str, Decimal]] = field(default_factory=dict)
    fill_ids: frozenset[str] = frozenset()
    decisions: int = 0


async def snapshot(desk: Desk) -> Snapshot:
    summary = await desk.ok("get_portfolio_summary")
    app = await desk.app()
    orders = await app.store.list_orders()
    return Snapshot(
        cash=Decimal(summary["cash"]),
        positions_value=Decimal(summary["positions_value"]),
        equity=Decimal(summary["equity"]),
        positions={p.symbol: p.quantity for p in await app.store.list_positions()},
        orders={o.order_id: (o.client_order_id, str(o.status), o.filled_quantity) for o in orders},
        fill_ids=frozenset(f.fill_id for f in await app.store.list_fills()),
        decisions=len(await app.store.list_decisions()),
    )


def risk_codes(decision: Decision) -> set[str]:
    check = decision.risk_check
    codes = {str(v["code"]) for v in check.get("violations", [])}
    if "code" in check:
        codes.add(str(check["code"]))
    return codes


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_adversarial_order_is_refused_through_mcp_and_changes_nothing(
    client: Client[Any], runtime: Runtime, clock: SimulatedClock, case: Case
) -> None:
    desk = Desk(client, runtime, clock)
    await case.setup(desk)
    before = await snapshot(desk)

    seen = await case.attack(desk)

    # (a) the stable code
    assert case.expected in seen.codes, f"expected {case.expected}, saw {sorted(seen.codes)}"
    after = await snapshot(desk)
    app = await desk.app()
    # (b) nothing reached the broker: orders from before are untouched, anything new was
    # refused before it left, and no fill appeared
    for order_id, was in before.orders.items():
        assert after.orders[order_id] == was
    for order_id, (client_id, status, filled_quantity) in after.orders.items():
        if order_id not in before.orders:
            assert client_id in seen.client_ids, f"an order nobody asked for: {client_id}"
            assert (status, filled_quantity) == (OrderStatus.REJECTED.value, Decimal(0))
    for client_id in seen.client_ids:
        stored = await app.store.get_order_by_client_id(client_id)
        assert stored is None or stored.status is OrderStatus.REJECTED
    assert after.fill_ids == before.fill_ids
    # (c) cash and positions exactly as before
    assert (after.cash, after.positions_value, after.equity) == (
        before.cash,
        before.positions_value,
        before.equity,
    )
    assert after.positions == before.positions
    # the audit trail: one ``rejected`` row per refused request, with its codes and principal
    rows = (await app.store.list_decisions())[before.decisions :]
    assert len(rows) == len(seen.rejections), rows
    for row, codes in zip(rows, seen.rejections, strict=True):
        assert row.decision_type == "rejected"
        assert row.principal == LOCAL_ASSISTANT.name == "assistant:local"
        assert codes <= risk_codes(row), (codes, row.risk_check)


# --- the kill switch, REDUCING, and the throttle clock ---------------------------------------


async def accept(
    message: str, response_type: type[Any] | None, params: ElicitRequestParams, context: Any
) -> Any:
    """A person who says yes to anything (the strongest test of what a yes can do)."""
    assert isinstance(params, ElicitRequestFormParams)
    return {"approve": True}  # both eras' forms: one boolean field


async def test_no_tool_can_reset_the_kill_switch(client: Client[Any]) -> None:
    names = [tool.name for tool in await client.list_tools()]
    assert "activate_kill_switch" in names
    assert "resume_trading" in names
    assert not [name for name in names if "reset" in name.lower()]


async def test_resume_while_killed_never_lifts_the_kill_switch(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, clock: SimulatedClock, mode: str
) -> None:
    desk = Desk(client, runtime, clock)
    await kill(desk)
    async with Client(suite, mode=mode, elicitation_handler=accept) as person:
        answered = await person.call_tool("resume_trading", {"reason": "all good"})
    view = answered.structured_content
    assert view is not None
    # A person said yes, and still: resuming is not resetting; the kill switch stays latched.
    assert view["status"] == "failed"
    assert view["result"]["code"] == "KILL_SWITCH_ACTIVE"
    state = await desk.ok("get_trading_state")
    assert state["record"]["state"] == "KILLED"
    assert state["record"]["kill_switch"] is True
    seen = await place(limit_price=Px("1.01"))(desk)
    assert seen.codes == {"KILL_SWITCH_ACTIVE"}


async def test_reducing_allows_close_position_but_not_a_new_entry(
    client: Client[Any], runtime: Runtime, clock: SimulatedClock
) -> None:
    desk = Desk(client, runtime, clock)
    await LONG(desk)
    await reducing(desk)
    refused = await place(client_order_id="entry", limit_price=Px("1.01"))(desk)
    assert "TRADING_REDUCING_ONLY" in refused.codes

    closed = await desk.ok("close_position", {"symbol": SYMBOL})

    assert closed["status"] == "filled", closed
    assert closed["order"]["side"] == "sell"
    assert [p for p in (await desk.ok("get_positions"))["positions"] if p["quantity"] != "0"] == []
    assert (await desk.ok("get_trading_state"))["record"]["state"] == "REDUCING"


async def test_the_orders_per_second_budget_returns_with_the_clock(
    client: Client[Any], runtime: Runtime, clock: SimulatedClock
) -> None:
    desk = Desk(client, runtime, clock)
    await ioc_misses(5)(desk)
    refused = await place(quantity="0.02", time_in_force="ioc")(desk)
    assert refused.codes == {"RATE_LIMITED"}

    advance_clock(clock, 1.0)
    again = await desk.ok(
        "place_order",
        await resolve(
            desk, order_args(client_order_id="later", quantity="0.005", time_in_force="ioc")
        ),
    )

    assert again["status"] != "rejected", again
    assert again["order"]["status"] == "cancelled"  # left for the broker; nothing executed
