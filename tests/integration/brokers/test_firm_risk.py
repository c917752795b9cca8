"""One risk view across brokers: an IB run and a Kraken run on one database, each counting the
other's book against the caps (converted to USD from quotes), and refusing new exposure while
the other's book is missing, stale or unpriced.

Both runs are the real live assembly (:func:`open_live_execution`) against the two fakes (the
TWS wire protocol and Kraken's REST API), each with a store connection of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.domain.portfolio import Portfolio
from trading_core.execution.firm_view import snapshot_key
from trading_core.execution.live_assembly import LiveExecution, open_live_execution
from trading_core.execution.order_service import OrderOutcome, OutcomeStatus
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.live_upkeep import LiveUpkeep
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings
from trading_core.storage.factory import open_store

from .conftest import FAST
from .ib_fake import ACCOUNT, IbGatewayFake
from .kraken_fake import API_KEY, API_SECRET, KrakenFake

GOOG, BTC = "GOOG", "BTC/USD"
WAIT = 3.0


@dataclass
class Run:
    execution: LiveExecution
    ledger: PortfolioLedger
    store: Store

    async def quote(self, clock: SimulatedClock, symbol: str, price: str) -> None:
        mid = Decimal(price)
        tick = Decimal("0.05")
        await self.execution.orders.on_quote(
            Quote(
                symbol=symbol,
                bid=mid - tick,
                ask=mid + tick,
                last=mid,
                timestamp=clock.now(),
                source="test",
            )
        )

    async def order(
        self, symbol: str, side: Side, quantity: str, price: str, cid: str
    ) -> OrderOutcome:
        return await self.execution.orders.place(
            OrderRequest(
                symbol=symbol,
                side=side,
                quantity=Decimal(quantity),
                order_type=OrderType.LIMIT,
                limit_price=Decimal(price),
                time_in_force=TimeInForce.GTC,
                client_order_id=cid,
            )
        )


@pytest.fixture
async def gateway() -> AsyncIterator[IbGatewayFake]:
    fake = IbGatewayFake()
    fake.positions[GOOG] = Decimal("1000")  # 175,000 of GOOG at 175, on no cash of its own
    fake.cash.update({"USD": Decimal("0")})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def kraken_balances(kraken: KrakenFake) -> KrakenFake:
    kraken.balances.update({"ZUSD": Decimal("10000"), "XXBT": Decimal("0")})
    kraken.prices["XXBTZUSD"] = Decimal("100000")  # fills at the quoted price
    return kraken


async def _start(db_url: str, clock: SimulatedClock, settings: Settings, symbols: list[str]) -> Run:
    store = await open_store(db_url, clock=clock)
    await store.upgrade()
    ledger = PortfolioLedger(Portfolio.start(Decimal(0)))
    # Tightened (as a risk_limits.toml may): the firm's gross exposure to 95 % of its equity.
    limits = read_risk_limits(PACKAGED_CONFIG_DIR / "risk_limits.toml").model_copy(
        update={"max_gross_exposure_pct": Decimal("95")}
    )
    execution = await open_live_execution(
        settings,
        store=store,
        bus=InMemoryBus(clock),
        clock=clock,
        instruments=InstrumentRegistry.from_file(PACKAGED_CONFIG_DIR / "symbols.toml"),
        symbols=symbols,
        ledger=ledger,
        risk_limits=limits,
        metrics=Metrics(),
        run_id=f"firm-{settings.source}",
    )
    return Run(execution, ledger, store)


async def _both(
    db_url: str,
    gateway: IbGatewayFake,
    kraken: KrakenFake,
    clock: SimulatedClock,
    kraken_firm: dict[str, object],
) -> tuple[Run, Run]:
    ib_settings = Settings(
        mode="live",
        source="ib",
        ib={"port": gateway.port, "account": ACCOUNT, "connect_attempts": 1},
        firm={"accounts": ["kraken"]},
    )
    kraken_settings = Settings(
        mode="live",
        source="kraken",
        kraken={
            "api_url": kraken.url,
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "rate_limit_ms": FAST,
        },
        firm={"accounts": ["ib"], **kraken_firm},
    )
    ib = await _start(db_url, clock, ib_settings, [GOOG])
    return ib, await _start(db_url, clock, kraken_settings, [BTC])


@pytest.fixture
async def runs(
    db_url: str, gateway: IbGatewayFake, kraken_balances: KrakenFake, clock: SimulatedClock
) -> AsyncIterator[tuple[Run, Run]]:
    both = await _both(db_url, gateway, kraken_balances, clock, {})
    yield both
    await _close(*both)


@pytest.fixture
async def eur_runs(
    db_url: str, gateway: IbGatewayFake, kraken_balances: KrakenFake, clock: SimulatedClock
) -> AsyncIterator[tuple[Run, Run]]:
    """The Kraken run counts the firm in EUR: every USD amount needs a EUR/USD rate."""
    both = await _both(db_url, gateway, kraken_balances, clock, {"base_currency": "EUR"})
    yield both
    await _close(*both)


async def _close(*runs: Run) -> None:
    for run in reversed(runs):
        await run.execution.broker.close()
        await run.store.close()


async def test_the_caps_hold_over_both_venues_together(
    runs: tuple[Run, Run], gateway: IbGatewayFake, clock: SimulatedClock
) -> None:
    ib, kraken = runs
    await kraken.quote(clock, BTC, "100000")

    # IB published its book at start, but its GOOG has no mark yet: nothing can be added.
    unpriced = await kraken.order(BTC, Side.BUY, "0.004", "100000", "k-1")
    assert unpriced.status is OutcomeStatus.REJECTED
    assert unpriced.codes == ["FIRM_MARK_MISSING"]

    await ib.quote(clock, GOOG, "175")
    await ib.execution.orders.publish_snapshot()  # the upkeep's scheduled publication
    # The firm: 175,000 (IB) + 10,000 (Kraken) of equity, 175,000 gross: 750 of room at 95 %.
    first = await kraken.order(BTC, Side.BUY, "0.003", "100000", "k-2")
    assert first.status is not OutcomeStatus.REJECTED, first
    second = await kraken.order(BTC, Side.BUY, "0.0046", "100000", "k-3")
    assert second.codes == ["FIRM_GROSS_EXPOSURE_LIMIT"], second
    assert "ib, kraken" in second.risk.violations[0].message if second.risk else False
    # Kraken alone would have taken it: 760 of exposure on 10,000 of equity.
    assert kraken.ledger.portfolio.gross_exposure < Decimal("1000")

    # IB sells GOOG (a reduction passes the firm cap); its fill is published at once.
    sold = await ib.order(GOOG, Side.SELL, "40", "175.00", "i-1")
    assert sold.status is OutcomeStatus.ACCEPTED, sold.codes
    (at_ib,) = gateway.by_ref("i-1")
    gateway.fill(at_ib.order_id, Decimal("40"), Decimal("175.00"))
    async with asyncio.timeout(WAIT):
        while not await ib.execution.orders.on_quote(
            Quote(
                symbol=GOOG,
                bid=Decimal("174.95"),
                ask=Decimal("175.05"),
                last=Decimal("175"),
                timestamp=clock.now(),
                source="test",
            )
        ):
            await ib.execution.broker.ib.updateEvent  # type: ignore[attr-defined]
    published = await kraken.store.get_state(snapshot_key("ib"))
    assert published is not None
    assert [Decimal(p["quantity"]) for p in published["positions"]] == [Decimal("960")]
    third = await kraken.order(BTC, Side.BUY, "0.0035", "100000", "k-4")
    assert third.status is not OutcomeStatus.REJECTED, third


async def test_a_silent_venue_run_stops_new_exposure_on_the_other(
    runs: tuple[Run, Run], clock: SimulatedClock
) -> None:
    ib, kraken = runs
    await ib.quote(clock, GOOG, "175")
    await ib.execution.orders.publish_snapshot()
    await kraken.quote(clock, BTC, "100000")
    assert (await kraken.order(BTC, Side.BUY, "0.001", "100000", "k-1")).status is not (
        OutcomeStatus.REJECTED
    )

    clock.advance(timedelta(seconds=61))  # IB's run publishes nothing for longer than allowed
    await kraken.quote(clock, BTC, "100000")
    stale = await kraken.order(BTC, Side.BUY, "0.002", "100000", "k-2")
    assert stale.codes == ["FIRM_ACCOUNT_STALE"]

    await ib.quote(clock, GOOG, "175")
    await ib.execution.orders.publish_snapshot()
    assert (await kraken.order(BTC, Side.BUY, "0.003", "100000", "k-3")).status is not (
        OutcomeStatus.REJECTED
    )


async def test_a_firm_counted_in_another_currency_trades_only_on_a_fresh_rate(
    eur_runs: tuple[Run, Run], clock: SimulatedClock
) -> None:
    ib, kraken = eur_runs
    await ib.quote(clock, GOOG, "175")
    await ib.execution.orders.publish_snapshot()
    await kraken.quote(clock, BTC, "100000")
    missing = await kraken.order(BTC, Side.BUY, "0.001", "100000", "k-1")
    assert set(missing.codes) == {"FX_RATE_MISSING"}

    # IB's run sees EUR/USD (IDEALPRO); its snapshot carries the pair for the other runs.
    await ib.quote(clock, "EUR/USD", "1.08")
    await ib.execution.orders.publish_snapshot()
    converted = await kraken.order(BTC, Side.BUY, "0.002", "100000", "k-2")
    assert converted.status is not OutcomeStatus.REJECTED, converted.codes

    clock.advance(timedelta(seconds=45))  # IB publishes again, but its EUR/USD quote ages
    await ib.quote(clock, GOOG, "175")
    await ib.execution.orders.publish_snapshot()
    clock.advance(timedelta(seconds=20))
    await kraken.quote(clock, BTC, "100000")
    stale = await kraken.order(BTC, Side.BUY, "0.003", "100000", "k-3")
    assert set(stale.codes) == {"FX_RATE_STALE"}


async def test_a_live_run_keeps_its_snapshot_fresh_while_nothing_trades(
    runs: tuple[Run, Run], clock: SimulatedClock
) -> None:
    ib, kraken = runs
    started = await kraken.store.get_state(snapshot_key("ib"))
    assert started is not None  # published once the start-up reconciliation passed
    upkeep = LiveUpkeep(
        dead_man_switch=None,
        reconciler=ib.execution.reconciler,
        orders=ib.execution.orders,
        state=ib.execution.state,
        clock=clock,
        interval=timedelta(minutes=5),
        dead_man=timedelta(seconds=60),
        state_poll=timedelta(seconds=60),
        publish_every=timedelta(seconds=0.05),
    )
    clock.advance(timedelta(seconds=30))
    await upkeep.start()
    try:
        async with asyncio.timeout(WAIT):
            while True:
                latest = await kraken.store.get_state(snapshot_key("ib"))
                if latest is not None and latest["as_of"] == clock.now().isoformat():
                    break
                await asyncio.sleep(0.02)
    finally:
        await upkeep.stop()
    assert latest["as_of"] != started["as_of"]
