"""The live order path on IB as a run builds it (``open_live_execution``), against the fake
gateway: settings in, a reconciled book out, and a dropped connection reducing trading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.errors import BrokerError
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.state import TradingState
from trading_core.execution.live_assembly import LiveExecution, open_live_execution
from trading_core.execution.order_service import OutcomeStatus
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings
from trading_core.storage.factory import open_store

from .ib_fake import ACCOUNT, IbGatewayFake

GOOG = "GOOG"


@pytest.fixture
async def gateway() -> AsyncIterator[IbGatewayFake]:
    fake = IbGatewayFake()
    fake.positions[GOOG] = Decimal("10")
    fake.cash.update({"USD": Decimal("100000")})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def store(tmp_path: Path, clock: SimulatedClock) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'ib.db'}", clock=clock)
    await opened.upgrade()
    yield opened
    await opened.close()


async def _open(
    gateway: IbGatewayFake,
    store: Store,
    clock: SimulatedClock,
    ledger: PortfolioLedger,
    **ib: object,
) -> LiveExecution:
    settings = Settings(
        mode="live",
        source="ib",
        ib={"port": gateway.port, "account": ACCOUNT, "client_id": 0, "connect_attempts": 1, **ib},
    )
    return await open_live_execution(
        settings,
        store=store,
        bus=InMemoryBus(clock),
        clock=clock,
        instruments=InstrumentRegistry.from_file(PACKAGED_CONFIG_DIR / "symbols.toml"),
        symbols=[GOOG],
        ledger=ledger,
        risk_limits=read_risk_limits(PACKAGED_CONFIG_DIR / "risk_limits.toml"),
        metrics=Metrics(),
        run_id="ib-live",
    )


async def test_a_live_ib_book_opens_from_the_gateway_and_a_drop_reduces_trading(
    gateway: IbGatewayFake, store: Store, clock: SimulatedClock
) -> None:
    ledger = PortfolioLedger(Portfolio.start(Decimal(0)))
    execution = await _open(gateway, store, clock, ledger)
    try:
        assert execution.dead_man_switch is None  # IB has no CancelAllOrdersAfter
        assert execution.reconciler.last is not None
        assert execution.reconciler.last.passed
        assert ledger.portfolio.cash == Decimal("100000")
        assert ledger.portfolio.position(GOOG).quantity == Decimal("10")
        assert execution.state.state is TradingState.ACTIVE

        price = Decimal("175.25")
        await execution.orders.on_quote(
            Quote(
                symbol=GOOG,
                bid=price - Decimal("0.05"),
                ask=price + Decimal("0.05"),
                last=price,
                volume=Decimal(0),
                timestamp=clock.now(),
                source="test",
            )
        )
        gateway.drop_on_next_place_order(stay_down=True)
        lost = await execution.orders.place(
            OrderRequest(
                symbol=GOOG,
                side=Side.BUY,
                quantity=Decimal("1"),
                order_type=OrderType.LIMIT,
                limit_price=Decimal("175.00"),
                time_in_force=TimeInForce.GTC,
                client_order_id="dropped",
            )
        )
        assert lost.status is OutcomeStatus.UNKNOWN  # may be at IB: never resent blindly
        events = []
        for _ in range(100):  # the watchdog runs on ib_async's disconnect event
            events = await store.list_events(event_type="broker.connection")
            if events:
                break
            await asyncio.sleep(0.05)
        assert execution.state.state is TradingState.REDUCING
        assert "IB connection lost" in execution.state.record.reason
        assert any("IB connection lost" in e.message for e in events)
        assert len(gateway.by_ref("dropped")) == 1
    finally:
        await execution.broker.close()


async def test_a_gateway_nobody_listens_on_refuses_the_live_start(
    gateway: IbGatewayFake, store: Store, clock: SimulatedClock
) -> None:
    port = gateway.port
    await gateway.stop()
    with pytest.raises(BrokerError, match=f"no connection to 127.0.0.1:{port}"):
        await _open(gateway, store, clock, PortfolioLedger(Portfolio.start(Decimal(0))))
    assert await store.list_decisions() == []  # nothing reconciled, nothing traded
