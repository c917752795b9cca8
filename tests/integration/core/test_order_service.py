"""The order service against a real SQLite store and the paper broker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_core.domain.order import Order, OrderStatus, Side
from trading_core.execution.order_service import OutcomeStatus
from trading_core.execution.paper_broker import PaperBroker
from trading_core.ports.broker import BrokerReport
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest

from .conftest import SYMBOL, T0, Account, build_account, quote

pytestmark = pytest.mark.integration


def buy(client_order_id: str = "c-1", quantity: str = "10", limit: str = "100.10") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=Decimal(quantity),
        limit_price=Decimal(limit),
        client_order_id=client_order_id,
    )


async def test_marketable_buy_fills_and_moves_cash_position_and_store(account: Account) -> None:
    await account.service.on_quote(quote())
    outcome = await account.service.place(buy())
    assert outcome.status is OutcomeStatus.FILLED
    assert outcome.order is not None
    stored = await account.store.get_order(outcome.order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    assert len(await account.store.list_fills()) == 1
    positions = await account.store.list_positions()
    assert [(p.symbol, p.quantity) for p in positions] == [(SYMBOL, Decimal(10))]
    fill = outcome.fills[0]
    expected_cash = Decimal(100_000) - fill.notional - fill.commission
    assert account.ledger.portfolio.cash == expected_cash


async def test_same_client_order_id_twice_returns_the_first_result_and_sends_nothing(
    account: Account,
) -> None:
    await account.service.on_quote(quote())
    first = await account.service.place(buy())
    again = await account.service.place(buy(quantity="20"))
    assert again.duplicate is True
    assert again.order is not None
    assert first.order is not None
    assert again.order.order_id == first.order.order_id
    assert again.order.quantity == Decimal(10)
    assert len(await account.store.list_fills()) == 1
    assert account.ledger.portfolio.position(SYMBOL).quantity == Decimal(10)


async def test_limit_far_from_mid_is_rejected_and_recorded_without_reaching_the_broker(
    account: Account,
) -> None:
    await account.service.on_quote(quote())
    cash_before = account.ledger.portfolio.cash
    outcome = await account.service.place(buy(limit="1000.00"))
    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.risk is not None
    assert "PRICE_OUTSIDE_COLLAR" in outcome.risk.codes
    assert await account.broker.open_orders() == []
    assert await account.broker.find_by_client_id("c-1") is None
    assert account.ledger.portfolio.cash == cash_before
    stored = await account.store.get_order_by_client_id("c-1")
    assert stored is not None
    assert stored.status is OrderStatus.REJECTED
    assert "PRICE_OUTSIDE_COLLAR" in (stored.status_reason or "")


async def test_a_quote_older_than_a_minute_cannot_price_an_order(account: Account) -> None:
    await account.service.on_quote(quote())
    account.clock.set(T0.replace(minute=5))
    outcome = await account.service.place(buy())
    assert outcome.risk is not None
    assert outcome.risk.codes == ["STALE_REFERENCE"]
    assert await account.broker.find_by_client_id("c-1") is None


async def test_many_small_orders_cannot_add_up_past_the_position_limit(account: Account) -> None:
    # Non-marketable bids rest; each is 4 % of equity, the position cap is 10 %.
    await account.service.on_quote(quote())
    outcomes = [
        await account.service.place(buy(f"c-{i}", quantity="40", limit=f"99.{90 - i}"))
        for i in range(4)
    ]
    assert [o.status for o in outcomes[:2]] == [OutcomeStatus.ACCEPTED] * 2
    assert outcomes[2].risk is not None
    assert "POSITION_LIMIT" in outcomes[2].risk.codes
    assert len(account.service.open_orders(SYMBOL)) == 2


class _AnswerLost(PaperBroker):
    """The broker accepts the order, but the answer never reaches us."""

    async def submit(self, order: Order) -> BrokerReport:
        await super().submit(order)
        raise TimeoutError("no answer from broker within 5s")


async def test_a_lost_submit_answer_becomes_unknown_counts_as_open_and_is_not_resent(
    store: Store,
) -> None:
    lost = _AnswerLost(build_account(store).clock, seed=1)
    account = build_account(store, broker=lost)
    await account.service.on_quote(quote())
    outcome = await account.service.place(buy(limit="99.00"))
    assert outcome.status is OutcomeStatus.UNKNOWN
    assert outcome.order is not None
    stored = await store.get_order(outcome.order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.UNKNOWN
    assert [o.order_id for o in account.service.open_orders(SYMBOL)] == [outcome.order.order_id]
    retry = await account.service.place(buy(limit="99.00"))
    assert retry.duplicate is True
    assert retry.status is OutcomeStatus.UNKNOWN
    assert len(await lost.open_orders()) == 1  # the broker saw exactly one order


class _Recorder(PaperBroker):
    """Checks what the store holds at the moment the broker is asked to submit."""

    def __init__(self, *args: object, store: Store, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._probe_store = store
        self.seen_at_submit: list[OrderStatus | None] = []

    async def submit(self, order: Order) -> BrokerReport:
        stored = await self._probe_store.get_order(order.order_id)
        self.seen_at_submit.append(stored.status if stored else None)
        return await super().submit(order)


async def test_an_order_is_durable_as_pending_before_the_broker_sees_it(store: Store) -> None:
    probe = build_account(store)
    recorder = _Recorder(probe.clock, seed=1, store=store)
    account = build_account(store, broker=recorder)
    await account.service.on_quote(quote())
    await account.service.place(buy())
    assert recorder.seen_at_submit == [OrderStatus.PENDING]


async def test_resting_order_fills_later_when_the_market_comes_to_it(account: Account) -> None:
    await account.service.on_quote(quote())
    outcome = await account.service.place(buy(limit="99.00"))
    assert outcome.status is OutcomeStatus.ACCEPTED
    fills = await account.service.on_quote(quote(mid="98.50", at=T0.replace(second=30)))
    assert [f.price for f in fills] == [Decimal("99.00")]
    assert account.service.open_orders() == []
    assert account.ledger.portfolio.position(SYMBOL).quantity == Decimal(10)


async def test_a_kill_switch_fired_between_check_and_send_stops_the_order(store: Store) -> None:
    account = build_account(store)
    original_save = store.save_order
    fired: list[bool] = []

    async def save_then_kill(order: Order) -> None:
        await original_save(order)
        if order.status is OrderStatus.PENDING and not fired:
            fired.append(True)  # the switch fires while the order is on its way out
            await account.state.activate_kill_switch(reason="operator", by="alice")

    store.save_order = save_then_kill  # type: ignore[method-assign]
    await account.service.on_quote(quote())
    outcome = await account.service.place(buy())
    assert fired == [True]
    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.risk is not None
    assert "KILL_SWITCH_ACTIVE" in outcome.risk.codes
    assert await account.broker.find_by_client_id("c-1") is None
    assert account.ledger.portfolio.cash == Decimal(100_000)


async def test_reducing_state_lets_positions_shrink_but_not_grow(account: Account) -> None:
    await account.service.on_quote(quote())
    await account.service.place(buy("open", quantity="10"))
    await account.state.evaluate(lambda: (Decimal("-3.5"), Decimal("1")))  # daily loss critical
    grow = await account.service.place(buy("grow", quantity="1"))
    assert grow.risk is not None
    assert grow.risk.codes == ["TRADING_REDUCING_ONLY"]
    shrink = await account.service.place(
        OrderRequest(
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=Decimal(4),
            limit_price=Decimal("99.90"),
            client_order_id="shrink",
        )
    )
    assert shrink.status is OutcomeStatus.FILLED
    assert account.ledger.portfolio.position(SYMBOL).quantity == Decimal(6)


async def test_a_pause_blocks_new_orders_but_never_cancels(account: Account) -> None:
    await account.service.on_quote(quote())
    resting = await account.service.place(buy("rest", limit="99.00"))
    assert resting.order is not None
    await account.state.pause(reason="news", minutes=30, by="assistant")
    blocked = await account.service.place(buy("new"))
    assert blocked.risk is not None
    assert blocked.risk.codes == ["TRADING_PAUSED"]
    cancelled = await account.service.cancel(resting.order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED


async def test_an_unknown_symbol_is_refused_with_its_stable_code(account: Account) -> None:
    outcome = await account.service.place(
        OrderRequest(
            symbol="ΤEST/USD",  # Greek capital tau
            side=Side.BUY,
            quantity=Decimal(1),
            limit_price=Decimal("100.00"),
            client_order_id="homoglyph",
        )
    )
    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.codes == ["INSTRUMENT_NOT_FOUND"]
    assert await account.broker.find_by_client_id("homoglyph") is None
