"""The paper broker's fill rules, checked bar by bar on recorded market data.

Bars from ``../shared/data/market`` drive the broker the way the pipeline does (open the bar at
its open quote, send orders, close it with its range); orders of every kind are placed: large
marketable ones the volume cap cuts, resting limits below and above the market. Found wrong
before: remainders filled at their limit outside the bar's range, each bar's volume was offered
twice, and resting limits ignored the bar's high and low.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side
from trading_core.execution.paper_broker import PaperBroker
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.quotes import quote_around

MARKET = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market"
FILES = ["ETH_BTC-5m.feather", "LTC_BTC-5m.feather", "XMR_BTC-5m.feather"]
SPREAD_BPS = Decimal(5)
SLIPPAGE_BPS = Decimal(2)
PARTICIPATION = Decimal("0.25")
BARS = 1500
WIDENING = (SPREAD_BPS / 2 + SLIPPAGE_BPS) / Decimal(10_000)


@dataclass
class Traded:
    bar: Bar
    previous: Bar | None
    at_open: list[Fill]
    during: list[Fill]


def real_bars(name: str) -> list[Bar]:
    path = MARKET / name
    if not path.is_file():
        pytest.skip(f"shared market data not found at {path}")
    loaded = load_bars_frame(path)
    frame = loaded.frame.head(BARS)
    return [
        Bar(
            symbol=loaded.symbol,
            timeframe=loaded.timeframe,
            timestamp=row.time.to_pydatetime(),
            open=Decimal(str(row.open)),
            high=Decimal(str(row.high)),
            low=Decimal(str(row.low)),
            close=Decimal(str(row.close)),
            volume=Decimal(str(row.volume)),
        )
        for row in frame.itertuples()
    ]


def quote_at(bar: Bar, price: Decimal, at: datetime) -> Quote:
    return quote_around(
        symbol=bar.symbol,
        price=price,
        spread_bps=SPREAD_BPS,
        timestamp=at,
        source="replay",
        volume=bar.volume,
    )


def order(n: int, bar: Bar, side: Side, quantity: Decimal, limit: Decimal) -> Order:
    return Order(
        order_id=f"ord-{n}",
        client_order_id=f"cli-{n}",
        symbol=bar.symbol,
        side=side,
        quantity=quantity,
        order_type=OrderType.LIMIT,
        limit_price=limit.quantize(Decimal("0.00000001")),
        strategy_id="fill-model",
        created_at=bar.timestamp,
        updated_at=bar.timestamp,
    )


async def trade_through(bars: list[Bar], seed: int) -> list[Traded]:
    """Every 7th bar a new order at the open: marketable and large, or resting away from it."""
    clock = SimulatedClock(bars[0].timestamp)
    broker = PaperBroker(
        clock, seed=seed, slippage_bps=SLIPPAGE_BPS, max_participation=PARTICIPATION
    )
    rng = random.Random(seed)
    traded: list[Traded] = []
    previous: Bar | None = None
    for n, bar in enumerate(bars):
        clock.advance_to(bar.timestamp)
        known = previous.volume if previous is not None else None
        at_open = [
            f
            for r in await broker.open_bar(
                quote_at(bar, bar.open, bar.timestamp), known_volume=known
            )
            for f in r.fills
        ]
        if n % 7 == 3 and previous is not None:
            side = rng.choice([Side.BUY, Side.SELL])
            away = Decimal(rng.choice([-40, -15, 20, 60])) / Decimal(10_000)
            sign = 1 if side is Side.BUY else -1
            limit = bar.open * (1 + sign * away)  # positive away: marketable, negative: rests
            size = previous.volume * Decimal(rng.choice(["0.05", "0.6", "2"]))
            if size > 0:
                report = await broker.submit(order(n, bar, side, size, limit))
                at_open.extend(report.fills)
        clock.advance_to(bar.close_time)
        during = [
            f
            for r in await broker.close_bar(bar, quote_at(bar, bar.close, bar.close_time))
            for f in r.fills
        ]
        traded.append(Traded(bar, previous, at_open, during))
        previous = bar
    return traded


@pytest.fixture(params=FILES)
async def traded(request: pytest.FixtureRequest) -> list[Traded]:
    return await trade_through(real_bars(str(request.param)), seed=FILES.index(request.param))


async def test_no_fill_lies_outside_its_bar_widened_by_spread_and_slippage(
    traded: list[Traded],
) -> None:
    fills = 0
    for step in traded:
        bar = step.bar
        low, high = bar.low * (1 - WIDENING), bar.high * (1 + WIDENING)
        for fill in step.at_open + step.during:
            fills += 1
            assert low <= fill.price <= high, (bar, fill)
        for fill in step.during:  # a resting order trades inside the range itself, as a maker
            assert fill.liquidity == "maker"
            assert bar.low <= fill.price <= bar.high, (bar, fill)
    assert fills > 100, "the check needs fills to look at"
    assert sum(len(s.during) for s in traded) > 20, "and resting orders that filled later"


async def test_a_bar_executes_at_most_its_share_of_volume_known_at_the_time(
    traded: list[Traded],
) -> None:
    capped = 0
    for step in traded:
        opened = sum((f.quantity for f in step.at_open), Decimal(0))
        during = sum((f.quantity for f in step.during), Decimal(0))
        if step.previous is not None:
            # At the open only the last complete bar's volume is known.
            assert opened <= PARTICIPATION * step.previous.volume
        # The bar as a whole: its own volume once known (an open fill is not taken back).
        assert during <= max(Decimal(0), PARTICIPATION * step.bar.volume - opened)
        if opened + during > 0 and (
            opened == PARTICIPATION * (step.previous.volume if step.previous else 0)
            or opened + during == PARTICIPATION * step.bar.volume
        ):
            capped += 1
    assert capped > 10, "the cap must have bitten for this to prove anything"


async def test_a_resting_limit_fills_in_the_bar_that_reaches_it_at_the_better_of_limit_and_open(
    traded: list[Traded],
) -> None:
    """A buy at L fills when low <= L, at min(L, open); a sell when high >= L, at max(L, open)."""
    seen = 0
    for step in traded:
        bar = step.bar
        for fill in step.during:
            seen += 1
            if fill.side is Side.BUY:
                assert fill.price <= bar.open
                assert bar.low <= fill.price
            else:
                assert fill.price >= bar.open
                assert fill.price <= bar.high
    assert seen > 20


async def test_a_limit_the_open_gaps_through_fills_at_the_open_not_at_its_limit() -> None:
    bars = real_bars(FILES[0])
    # The first bar that opens more than 10 bps above the previous close: a sell resting
    # 5 bps above that close is gapped through and must get the open, not its limit.
    index = next(
        i for i in range(1, len(bars)) if bars[i].open > bars[i - 1].close * Decimal("1.001")
    )
    before, gap = bars[index - 1], bars[index]
    clock = SimulatedClock(before.timestamp)
    broker = PaperBroker(clock, seed=0, max_participation=PARTICIPATION)
    await broker.open_bar(quote_at(before, before.open, before.timestamp), known_volume=None)
    clock.advance_to(before.close_time)
    await broker.close_bar(before, quote_at(before, before.close, before.close_time))
    # Placed after the close (as an MCP client may, between bars): it rests above the market.
    limit = before.close * Decimal("1.0005")
    resting = await broker.submit(
        order(1, before, Side.SELL, before.volume * Decimal("0.01") + Decimal("0.001"), limit)
    )
    assert resting.order.status is OrderStatus.SENT
    clock.advance_to(gap.timestamp)
    reports = await broker.open_bar(
        quote_at(gap, gap.open, gap.timestamp), known_volume=before.volume
    )
    fills = [f for r in reports for f in r.fills]
    assert fills
    assert all(f.price == gap.open for f in fills)
    assert all(f.price > limit.quantize(Decimal("0.00000001")) for f in fills)


class Recorder:
    """A run observer: the bars the pipeline saw and the fills the account applied."""

    def __init__(self) -> None:
        self.opening: dict[tuple[str, datetime], Bar] = {}
        self.closing: dict[tuple[str, datetime], Bar] = {}
        self.fills: list[Fill] = []

    def on_bar(self, bar: Bar) -> None:
        self.opening[(bar.symbol, bar.timestamp)] = bar
        self.closing[(bar.symbol, bar.close_time)] = bar

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


async def test_a_three_symbol_replay_with_thin_liquidity_fills_only_inside_the_bars(
    tmp_path: Path,
) -> None:
    from trading_core.orchestrator.runner import run
    from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

    paths = [MARKET / name for name in FILES]
    if not all(path.is_file() for path in paths):
        pytest.skip(f"shared market data not found in {MARKET}")
    settings = load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        data_dir=tmp_path,
        source="replay",
        data=paths,
        max_bars=3000,
        paper={"max_participation": "0.003"},
    )
    recorder = Recorder()
    await run(settings, observer=recorder)

    spread = settings.paper.spread_bps
    widening = (spread / 2 + settings.paper.slippage_bps) / Decimal(10_000)
    makers = 0
    for fill in recorder.fills:
        key = (fill.symbol, fill.timestamp)
        if fill.liquidity == "taker":  # sent at a bar's open
            bar = recorder.opening[key]
            assert bar.low * (1 - widening) <= fill.price <= bar.high * (1 + widening), fill
            continue
        makers += 1
        during = recorder.closing.get(key)
        gapped = recorder.opening.get(key)
        inside = during is not None and during.low <= fill.price <= during.high
        at_open = gapped is not None and fill.price == gapped.open
        assert inside or at_open, (fill, during, gapped)
    assert makers > 10, "thin liquidity must leave remainders that fill later"
