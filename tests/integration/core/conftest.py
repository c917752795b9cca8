"""A real SQLite store, paper broker and simulated clock, wired as `trading-core run` does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.instrument import AssetClass, Instrument
from trading_core.domain.market import Quote
from trading_core.domain.portfolio import Portfolio
from trading_core.execution.order_service import OrderService
from trading_core.execution.paper_broker import PaperBroker
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.broker import Broker
from trading_core.ports.store import Store
from trading_core.risk.states import StateRecord
from trading_core.storage.factory import open_store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SYMBOL = "TEST/USD"


def instrument() -> Instrument:
    return Instrument(
        symbol=SYMBOL,
        broker="paper",
        asset_class=AssetClass.CRYPTO,
        currency="USD",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        max_quantity=Decimal("1000"),
    )


def quote(mid: str = "100", at: datetime = T0, volume: str = "0") -> Quote:
    m = Decimal(mid)
    return Quote(
        symbol=SYMBOL,
        bid=m - Decimal("0.05"),
        ask=m + Decimal("0.05"),
        last=m,
        volume=Decimal(volume),
        timestamp=at,
        source="test",
    )


@dataclass
class Account:
    clock: SimulatedClock
    store: Store
    broker: Broker
    ledger: PortfolioLedger
    service: OrderService
    instruments: InstrumentRegistry
    state: TradingStateService


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'core.db'}")
    await opened.upgrade()
    yield opened
    await opened.close()


def build_account(store: Store, broker: Broker | None = None) -> Account:
    clock = SimulatedClock(T0)
    ledger = PortfolioLedger(Portfolio.start(Decimal(100_000)))
    chosen = broker or PaperBroker(clock, seed=7, slippage_bps=Decimal(0))
    instruments = InstrumentRegistry([instrument()])
    state = TradingStateService(
        StateRecord.initial(T0), store=store, bus=InMemoryBus(clock), clock=clock
    )
    service = OrderService(
        broker=chosen,
        store=store,
        clock=clock,
        instruments=instruments,
        ledger=ledger,
        quotes=QuoteBook(),
        state=state,
    )
    return Account(clock, store, chosen, ledger, service, instruments, state)


@pytest.fixture
def account(store: Store) -> Account:
    return build_account(store)
