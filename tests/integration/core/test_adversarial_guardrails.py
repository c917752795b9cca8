"""Adversarial cases against the hard-coded guardrails (risk-controls.md, "must survive").

One table: each case prepares a fresh account, snapshots it, runs one attack, and then checks
three things - the stable code the attack met, that nothing new reached the broker, and that
cash, positions and fills are exactly as before the attack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from trading_core.domain.errors import TradingError
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.position import Position
from trading_core.execution.order_service import OrderService, OutcomeStatus
from trading_core.execution.quotes import QuoteBook
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest

from .conftest import SYMBOL, T0, Account, build_account, quote

pytestmark = pytest.mark.integration

ATTACK_ID = "attack"


@dataclass(frozen=True)
class Observed:
    """What an attack met: the codes it was refused with, and the client ids it tried."""

    codes: frozenset[str]
    client_ids: tuple[str, ...] = ()


Step = Callable[[Account], Awaitable[object]]
Attack = Callable[[Account], Awaitable[Observed]]


async def _nothing(account: Account) -> None:
    return None


@dataclass(frozen=True)
class Case:
    name: str
    expected: str
    attack: Attack
    setup: Step = _nothing
    portfolio: Callable[[], Portfolio] | None = field(default=None)


# --- building blocks --------------------------------------------------------------------------


def request(
    cid: str = ATTACK_ID,
    *,
    side: Side = Side.BUY,
    qty: str = "10",
    limit: str | None = "100.00",
    **extra: Any,
) -> OrderRequest:
    fields: dict[str, Any] = {
        "symbol": SYMBOL,
        "side": side,
        "quantity": Decimal(qty),
        "limit_price": None if limit is None else Decimal(limit),
        "client_order_id": cid,
    }
    return OrderRequest.model_validate(fields | extra)


async def send(account: Account, order: OrderRequest) -> Observed:
    """Place ``order``; the codes are the risk codes, a domain error's code, or "duplicate"."""
    outcome = await account.service.place(order)
    codes: set[str] = set(outcome.risk.codes if outcome.risk else ())
    if outcome.duplicate:
        codes.add("duplicate")
        return Observed(frozenset(codes))
    if outcome.status is OutcomeStatus.REJECTED and outcome.risk is None:
        # The order service reports domain errors by message only; the dry run names the code.
        try:
            account.service.check(order)
        except TradingError as exc:
            codes.add(exc.code)
    if outcome.status is not OutcomeStatus.REJECTED:
        codes.add(f"NOT REJECTED: {outcome.status}")
    return Observed(frozenset(codes), (order.client_order_id,))


def raw(**overrides: Any) -> Attack:
    """An attack with raw (possibly hostile) request fields: validation must refuse it."""

    async def attack(account: Account) -> Observed:
        fields: dict[str, Any] = {
            "symbol": SYMBOL,
            "side": "buy",
            "quantity": "10",
            "limit_price": "100.00",
            "client_order_id": ATTACK_ID,
        } | overrides
        try:
            order = OrderRequest.model_validate(fields)
        except ValidationError as exc:
            codes = frozenset(f"validation:{e['type']}" for e in exc.errors())
            assert await account.store.get_order_by_client_id(ATTACK_ID) is None
            return Observed(codes, (ATTACK_ID,))
        return await send(account, order)

    return attack


def place(*args: Any, **kwargs: Any) -> Attack:
    async def attack(account: Account) -> Observed:
        return await send(account, request(*args, **kwargs))

    return attack


def steps(*parts: Step) -> Step:
    async def run(account: Account) -> None:
        for part in parts:
            await part(account)

    return run


async def fresh_quote(account: Account) -> None:
    await account.service.on_quote(quote(at=account.clock.now()))


def advance(seconds: float) -> Step:
    async def run(account: Account) -> None:
        account.clock.advance(timedelta(seconds=seconds))

    return run


def filled(cid: str, *, side: Side = Side.BUY, qty: str = "10") -> Step:
    """A marketable order that must fill (setup for cases needing a position)."""

    async def run(account: Account) -> None:
        limit = "100.05" if side is Side.BUY else "99.95"
        outcome = await account.service.place(request(cid, side=side, qty=qty, limit=limit))
        assert outcome.status is OutcomeStatus.FILLED, outcome.risk

    return run


def resting(cid: str, *, qty: str = "10", limit: str = "99.00") -> Step:
    async def run(account: Account) -> None:
        outcome = await account.service.place(request(cid, qty=qty, limit=limit))
        assert outcome.status is OutcomeStatus.ACCEPTED, outcome

    return run


def ioc_misses(count: int, *, every_ms: int, qty: str = "1") -> Step:
    """``count`` IOC bids below the market: each leaves (spends budget) and executes nothing."""

    async def run(account: Account) -> None:
        for i in range(count):
            await fresh_quote(account)
            order = request(
                f"miss-{i}",
                qty=str(Decimal(qty) + Decimal(i) / 1000),
                limit="99.00",
                time_in_force=TimeInForce.IOC,
            )
            outcome = await account.service.place(order)
            assert outcome.order is not None
            assert outcome.order.status is OrderStatus.CANCELLED, (i, outcome)
            account.clock.advance(timedelta(milliseconds=every_ms))
        await fresh_quote(account)

    return run


def sent_then_cancelled(count: int, *, qty: str) -> Step:
    """Orders that rest and are cancelled: their notional stays in the rolling window."""

    async def run(account: Account) -> None:
        for i in range(count):
            await fresh_quote(account)
            outcome = await account.service.place(request(f"w-{i}", qty=qty, limit=f"99.{i:02d}"))
            assert outcome.status is OutcomeStatus.ACCEPTED, outcome
            assert outcome.order is not None
            await account.service.cancel(outcome.order.order_id)
            account.clock.advance(timedelta(seconds=1))
        await fresh_quote(account)

    return run


def state_then(change: Callable[[Account], Awaitable[object]], *then: Attack) -> Attack:
    """Change the trading state (a refused change counts by its code), then attack."""

    async def attack(account: Account) -> Observed:
        codes: set[str] = set()
        ids: list[str] = []
        try:
            await change(account)
        except TradingError as exc:
            codes.add(exc.code)
        for part in then:
            seen = await part(account)
            codes |= seen.codes
            ids += seen.client_ids
        return Observed(frozenset(codes), tuple(ids))

    return attack


def metrics(daily: str, drawdown: str) -> Step:
    async def run(account: Account) -> None:
        await account.state.evaluate(lambda: (Decimal(daily), Decimal(drawdown)))

    return run


async def kill(account: Account) -> None:
    await account.state.activate_kill_switch(reason="operator", by="alice")


async def broken_drawdown(account: Account) -> None:
    def compute() -> tuple[Decimal, Decimal]:
        raise ZeroDivisionError("high-water mark is zero")

    await account.state.evaluate(compute)


def during_save(change: Callable[[Account], Awaitable[object]], attack: Attack) -> Attack:
    """``change`` fires right after the PENDING order is saved, before it leaves."""

    async def run(account: Account) -> Observed:
        original = account.store.save_order
        fired: list[bool] = []

        async def save_then_change(order: Order) -> None:
            await original(order)
            if order.status is OrderStatus.PENDING and not fired:
                fired.append(True)
                await change(account)

        account.store.save_order = save_then_change  # type: ignore[method-assign]
        try:
            seen = await attack(account)
        finally:
            account.store.save_order = original  # type: ignore[method-assign]
        assert fired == [True], "the race was not exercised"
        return seen

    return run


def mostly_invested() -> Portfolio:
    """Equity 100,000 but only 1,000 in cash: the rest is held in another instrument."""
    return Portfolio(
        cash=Decimal(1000),
        positions={"OTHER/USD": Position(symbol="OTHER/USD", quantity=Decimal(990))},
        marks={"OTHER/USD": Decimal(100)},
        high_water_mark=Decimal(100_000),
        start_of_day_equity=Decimal(100_000),
    )


def build(store: Store, case: Case) -> Account:
    account = build_account(store)
    if case.portfolio is None:
        return account
    ledger = PortfolioLedger(case.portfolio())
    service = OrderService(
        broker=account.broker,
        store=store,
        clock=account.clock,
        instruments=account.instruments,
        ledger=ledger,
        quotes=QuoteBook(),
        state=account.state,
    )
    return replace(account, ledger=ledger, service=service)


@dataclass(frozen=True)
class Snapshot:
    cash: Decimal
    ledger_positions: dict[str, Decimal]
    stored_positions: dict[str, Decimal]
    fill_ids: frozenset[str]
    broker_open: frozenset[tuple[str, str, Decimal]]


async def snapshot(account: Account) -> Snapshot:
    portfolio = account.ledger.portfolio
    return Snapshot(
        cash=portfolio.cash,
        ledger_positions={s: p.quantity for s, p in portfolio.positions.items()},
        stored_positions={p.symbol: p.quantity for p in await account.store.list_positions()},
        fill_ids=frozenset(f.fill_id for f in await account.store.list_fills()),
        broker_open=frozenset(
            (o.order_id, str(o.status), o.filled_quantity)
            for o in await account.broker.open_orders()
        ),
    )


QUOTED = fresh_quote
LONG_10 = steps(fresh_quote, filled("long"))
GREEK_EPSILON = "\u0395"
SELL = Side.SELL

CASES = [
    # --- input validation: refused before risk ---
    Case("negative_quantity", "validation:value_error", raw(quantity="-100"), QUOTED),
    Case("zero_quantity", "validation:value_error", raw(quantity=0), QUOTED),
    Case("nan_quantity", "validation:value_error", raw(quantity="NaN"), QUOTED),
    Case("decimal_nan_quantity", "validation:value_error", raw(quantity=Decimal("NaN")), QUOTED),
    Case("infinity_quantity", "validation:value_error", raw(quantity="Infinity"), QUOTED),
    Case("boolean_quantity", "validation:value_error", raw(quantity=True), QUOTED),
    Case("zero_limit_price", "validation:value_error", raw(limit_price="0"), QUOTED),
    Case("negative_limit_price", "validation:value_error", raw(limit_price="-100"), QUOTED),
    Case("bypass_risk_extra_field", "validation:extra_forbidden", raw(bypass_risk=True), QUOTED),
    Case("empty_client_id", "validation:string_too_short", raw(client_order_id=""), QUOTED),
    Case("overlong_client_id", "validation:string_too_long", raw(client_order_id="x" * 65)),
    Case("unknown_side", "validation:enum", raw(side="hold"), QUOTED),
    Case("limit_order_without_price", "validation:value_error", raw(limit_price=None), QUOTED),
    # --- instrument rules: refused by risk with a code ---
    Case("quantity_1e9_beyond_max", "INVALID_QUANTITY", raw(quantity="1e9"), QUOTED),
    Case("quantity_below_minimum", "INVALID_QUANTITY", place(qty="0.0001"), QUOTED),
    Case("off_lot_quantity", "QUANTITY_PRECISION", place(qty="1.0005"), QUOTED),
    Case("off_tick_price", "PRICE_PRECISION", place(qty="1", limit="100.005"), QUOTED),
    Case(
        "greek_homoglyph_symbol",
        "INSTRUMENT_NOT_FOUND",
        raw(symbol=f"T{GREEK_EPSILON}ST/USD"),
        QUOTED,
    ),
    Case("lowercase_symbol", "INSTRUMENT_NOT_FOUND", raw(symbol="test/usd"), QUOTED),
    Case("symbol_with_trailing_space", "INSTRUMENT_NOT_FOUND", raw(symbol="TEST/USD "), QUOTED),
    Case(
        "plain_stop_order_type",
        "ORDER_TYPE_NOT_ALLOWED",
        place(limit=None, order_type=OrderType.STOP, stop_price=Decimal("101.00")),
        QUOTED,
    ),
    # --- duplicates ---
    Case(
        "same_client_id_twice",
        "duplicate",
        place("first", qty="20"),
        steps(fresh_quote, resting("first")),
    ),
    Case(
        "same_content_new_id_within_10s",
        "DUPLICATE_ORDER",
        place(limit="99.00"),
        steps(fresh_quote, resting("first"), advance(5), fresh_quote),
    ),
    # --- throttles (the clock advances; nothing sleeps) ---
    Case(
        "burst_over_5_per_second",
        "RATE_LIMITED",
        place(qty="1", limit="99.50"),
        ioc_misses(5, every_ms=100),
    ),
    Case(
        "over_60_per_minute",
        "RATE_LIMITED",
        place(qty="1", limit="99.50"),
        ioc_misses(60, every_ms=900),
    ),
    Case(
        "over_200_orders_a_day",
        "DAILY_ORDER_LIMIT",
        place(qty="1", limit="99.50"),
        ioc_misses(200, every_ms=2_000),
    ),
    Case(
        "repeated_executions_latch_halted",
        "REPEATED_EXECUTION",
        place(qty="1", limit="100.05"),
        steps(
            fresh_quote, *(steps(filled(f"x-{i}", qty=f"1.{i:03d}"), advance(1)) for i in range(11))
        ),
    ),
    Case(
        "max_open_orders_per_symbol",
        "MAX_OPEN_ORDERS",
        place(qty="1", limit="98.00"),
        steps(fresh_quote, *(resting(f"r-{i}", qty="1", limit=f"99.0{i}") for i in range(3))),
    ),
    # --- slicing ---
    Case(
        "small_orders_add_up_past_position_limit",
        "POSITION_LIMIT",
        place(qty="40", limit="99.50"),
        steps(fresh_quote, resting("s-1", qty="40", limit="99.90"), resting("s-2", qty="40")),
    ),
    Case(
        "filled_slices_add_up_past_position_limit",
        "POSITION_LIMIT",
        place(qty="40", limit="100.05"),
        steps(fresh_quote, filled("f-1", qty="40"), advance(1), filled("f-2", qty="39")),
    ),
    Case(
        "slices_past_5_minute_window_notional",
        "WINDOW_NOTIONAL_EXCEEDED",
        place(qty="45", limit="98.50"),
        sent_then_cancelled(5, qty="45"),
    ),
    # --- stale or absurd references ---
    Case("reference_61s_old", "STALE_REFERENCE", place(), steps(fresh_quote, advance(61))),
    Case("feed_frozen_10_minutes", "STALE_REFERENCE", place(), steps(fresh_quote, advance(600))),
    Case("no_quote_at_all", "NO_REFERENCE_PRICE", place()),
    Case(
        "quote_from_the_future",
        "STALE_REFERENCE",
        place(),
        steps(fresh_quote, lambda a: a.service.on_quote(quote(at=T0 + timedelta(minutes=5)))),
    ),
    Case("buy_limit_10x_mid", "PRICE_OUTSIDE_COLLAR", place(qty="1", limit="1000.00"), QUOTED),
    Case(
        "sell_limit_far_below_mid", "PRICE_OUTSIDE_COLLAR", place(side=SELL, limit="50.00"), LONG_10
    ),
    Case(
        "stop_limit_far_from_its_stop",
        "PRICE_OUTSIDE_COLLAR",
        place(order_type=OrderType.STOP_LIMIT, stop_price=Decimal("100.00"), limit="150.00"),
        QUOTED,
    ),
    Case(
        "market_order_without_quote", "NO_REFERENCE_PRICE", place(limit=None, order_type="market")
    ),
    Case(
        "market_order_with_stale_quote",
        "STALE_REFERENCE",
        place(limit=None, order_type=OrderType.MARKET),
        steps(fresh_quote, advance(120)),
    ),
    # --- size and money ---
    Case("order_over_5pct_of_equity", "NOTIONAL_EXCEEDS_MAX_PER_ORDER", place(qty="60"), QUOTED),
    Case(
        "buy_beyond_cash",
        "INSUFFICIENT_FUNDS",
        place(qty="20", limit="100.05"),
        QUOTED,
        mostly_invested,
    ),
    Case("sell_without_position", "SHORT_SELLING_NOT_ALLOWED", place(side=SELL), QUOTED),
    Case(
        "sell_more_than_held",
        "SHORT_SELLING_NOT_ALLOWED",
        place(side=SELL, qty="11", limit="99.95"),
        LONG_10,
    ),
    # --- state races and breakers ---
    Case(
        "kill_switch_fires_while_order_is_saved",
        "KILL_SWITCH_ACTIVE",
        during_save(kill, place(limit="100.05")),
        QUOTED,
    ),
    Case(
        "pause_fires_while_order_is_saved",
        "TRADING_PAUSED",
        during_save(
            lambda a: a.state.pause(reason="news", minutes=30, by="assistant"),
            place(limit="100.05"),
        ),
        QUOTED,
    ),
    Case("drawdown_5pct_pauses", "TRADING_PAUSED", state_then(metrics("0", "5"), place()), QUOTED),
    Case(
        "drawdown_10pct_pauses", "TRADING_PAUSED", state_then(metrics("0", "10"), place()), QUOTED
    ),
    Case(
        "drawdown_15pct_kills",
        "KILL_SWITCH_ACTIVE",
        state_then(metrics("0", "15"), place()),
        QUOTED,
    ),
    Case(
        "lower_drawdown_never_lifts_a_kill",
        "KILL_SWITCH_ACTIVE",
        state_then(metrics("0", "5"), place()),
        steps(fresh_quote, metrics("0", "15")),
    ),
    Case(
        "daily_loss_3pct_reduces_only",
        "TRADING_REDUCING_ONLY",
        state_then(metrics("-3", "0"), place(qty="1", limit="100.05")),
        LONG_10,
    ),
    Case(
        "exception_in_drawdown_computation_reduces",
        "TRADING_REDUCING_ONLY",
        state_then(broken_drawdown, place(qty="1", limit="100.05")),
        QUOTED,
    ),
    Case(
        "nan_drawdown_reduces",
        "TRADING_REDUCING_ONLY",
        state_then(metrics("0", "NaN"), place(qty="1", limit="100.05")),
        QUOTED,
    ),
    Case("kill_switch_blocks_buys", "KILL_SWITCH_ACTIVE", state_then(kill, place()), QUOTED),
    Case(
        "kill_switch_blocks_even_a_reducing_sell",
        "KILL_SWITCH_ACTIVE",
        state_then(kill, place(side=SELL, qty="5", limit="99.95")),
        LONG_10,
    ),
    Case(
        "halt_blocks_even_a_reducing_sell",
        "TRADING_HALTED",
        state_then(
            lambda a: a.state.halt(reason="ops", by="alice"),
            place(side=SELL, qty="5", limit="99.95"),
        ),
        LONG_10,
    ),
    Case(
        "pause_still_holds_a_minute_before_it_ends",
        "TRADING_PAUSED",
        state_then(advance(29 * 60), place()),
        steps(fresh_quote, lambda a: a.state.pause(reason="news", minutes=30, by="x")),
    ),
    Case(
        "resume_by_a_non_human_is_refused",
        "HUMAN_APPROVAL_REQUIRED",
        state_then(lambda a: a.state.resume(by="assistant", human=False, reason="ok"), place()),
        steps(fresh_quote, lambda a: a.state.halt(reason="ops", by="alice")),
    ),
    Case(
        "kill_switch_reset_by_a_non_human_is_refused",
        "HUMAN_APPROVAL_REQUIRED",
        state_then(
            lambda a: a.state.reset_kill_switch(reason="done", by="assistant", human=False),
            place(),
        ),
        steps(fresh_quote, kill),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_adversarial_order_is_refused_with_its_code_and_changes_nothing(
    store: Store, case: Case
) -> None:
    account = build(store, case)
    await case.setup(account)
    before = await snapshot(account)

    seen = await case.attack(account)

    assert case.expected in seen.codes, f"expected {case.expected}, saw {sorted(seen.codes)}"
    for client_id in seen.client_ids:
        assert await account.broker.find_by_client_id(client_id) is None
    assert await snapshot(account) == before
