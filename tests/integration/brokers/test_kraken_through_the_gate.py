"""Orders reach Kraken only through the order service: the same checks, the same ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.instrument import AssetClass, Instrument
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderStatus, OrderType, Side
from trading_core.domain.portfolio import Portfolio
from trading_core.execution.kraken_broker import KrakenBroker
from trading_core.execution.order_service import OrderService, OutcomeStatus
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest
from trading_core.risk.states import StateRecord
from trading_core.storage.factory import open_store

from .kraken_fake import KrakenFake

SYMBOL = "BTC/USD"


@dataclass
class Desk:
    service: OrderService
    store: Store
    ledger: PortfolioLedger


@pytest.fixture
async def desk(tmp_path: Path, broker: KrakenBroker, clock: SimulatedClock) -> AsyncIterator[Desk]:
    store = await open_store(f"sqlite:///{tmp_path / 'kraken.db'}")
    await store.upgrade()
    btc = Instrument(
        symbol=SYMBOL,
        broker="kraken",
        asset_class=AssetClass.CRYPTO,
        currency="USD",
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.00000001"),
        min_quantity=Decimal("0.0001"),
        max_quantity=Decimal("100"),
    )
    ledger = PortfolioLedger(Portfolio.start(Decimal(100_000)))
    state = TradingStateService(
        StateRecord.initial(clock.now()), store=store, bus=InMemoryBus(clock), clock=clock
    )
    service = OrderService(
        broker=broker,
        store=store,
        clock=clock,
        instruments=InstrumentRegistry([btc]),
        ledger=ledger,
        quotes=QuoteBook(),
        state=state,
    )
    await service.on_quote(
        Quote(
            symbol=SYMBOL,
            bid=Decimal("39999.9"),
            ask=Decimal("40000.1"),
            last=Decimal("40000.0"),
            volume=Decimal(0),
            timestamp=clock.now(),
            source="test",
        )
    )
    yield Desk(service, store, ledger)
    await store.close()


def buy(quantity: str, client_order_id: str) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=Decimal(quantity),
        order_type=OrderType.MARKET,
        client_order_id=client_order_id,
        reason="kraken gate test",
    )


async def test_an_order_within_limits_trades_at_kraken_and_lands_in_the_ledger(
    desk: Desk, kraken: KrakenFake
) -> None:
    outcome = await desk.service.place(buy("0.01", "gate-1"))
    assert outcome.status is OutcomeStatus.FILLED, outcome
    stored = await desk.store.get_order_by_client_id("gate-1")
    assert stored is not None
    assert stored.broker == "kraken"
    assert stored.broker_order_id in kraken.orders
    assert stored.status is OrderStatus.FILLED
    (fill,) = await desk.store.list_fills()
    assert fill.price == Decimal("40000")
    assert desk.ledger.portfolio.position(SYMBOL).quantity == Decimal("0.01")

    again = await desk.service.place(buy("0.01", "gate-1"))  # the same client id
    assert again.duplicate is True
    assert len(kraken.calls("AddOrder")) == 1


async def test_an_order_over_the_limits_never_reaches_kraken(
    desk: Desk, kraken: KrakenFake
) -> None:
    outcome = await desk.service.place(buy("2", "gate-too-big"))  # 80,000 USD of 100,000
    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.risk is not None
    assert outcome.risk.violations
    assert kraken.calls("AddOrder") == []


async def test_a_lost_answer_leaves_one_order_marked_unknown(
    desk: Desk, kraken: KrakenFake
) -> None:
    kraken.lose_next_ack("AddOrder")
    outcome = await desk.service.place(buy("0.01", "gate-lost"))
    assert outcome.status is OutcomeStatus.UNKNOWN
    stored = await desk.store.get_order_by_client_id("gate-lost")
    assert stored is not None
    assert stored.status is OrderStatus.UNKNOWN  # counts as live until a lookup settles it
    retried = await desk.service.place(buy("0.01", "gate-lost"))
    assert retried.duplicate is True
    assert len(kraken.calls("AddOrder")) == 1  # never sent twice
