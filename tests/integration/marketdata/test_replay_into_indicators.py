"""The January 2018 crash, all pairs at once: files -> validation -> replay -> indicators.

No PostgreSQL or Redis involved: this joins the market data pieces on the real files.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.market import Bar
from trading_core.marketdata.indicators import (
    INDICATOR_NAMES,
    IncrementalIndicators,
    compute_indicators,
)
from trading_core.marketdata.loaders import LoadedFile, load_bars_frame
from trading_core.marketdata.replay import ReplaySource
from trading_core.marketdata.validation import PriceGap, QualityReport, validate_frame


def _crash_period_files(market_data_dir: Path) -> list[LoadedFile]:
    paths = sorted(market_data_dir.glob("*_BTC-5m.feather"))
    return [load_bars_frame(path) for path in paths if not path.name.startswith("UNITTEST")]


async def test_replaying_every_pair_feeds_live_indicators_equal_to_the_history_ones(
    market_data_dir: Path,
) -> None:
    files = _crash_period_files(market_data_dir)
    first_bar = min(loaded.frame["time"].min() for loaded in files).to_pydatetime()
    clock = SimulatedClock(first_bar)
    source = ReplaySource(files, spread_bps=Decimal(10), clock=clock)
    live = {symbol: IncrementalIndicators() for symbol in source.symbols()}
    last_values: dict[str, dict[str, float | None]] = {}
    seen: list[Bar] = []

    async for bar in source.bars():
        assert clock.now() == bar.close_time
        last_values[bar.symbol] = live[bar.symbol].update(
            float(bar.high), float(bar.low), float(bar.close)
        )
        seen.append(bar)

    assert len(files) == 10
    assert len(seen) == sum(report.accepted for report in source.quality_reports.values())
    assert all(
        (a.timestamp, a.symbol) < (b.timestamp, b.symbol) for a, b in itertools.pairwise(seen)
    )
    for loaded in files:
        clean = validate_frame(
            loaded.frame, symbol=loaded.symbol, timeframe=loaded.timeframe, now=None
        ).frame
        history = compute_indicators(
            clean["high"].to_numpy(), clean["low"].to_numpy(), clean["close"].to_numpy()
        )
        for name in INDICATOR_NAMES:
            streamed = last_values[loaded.symbol][name]
            assert streamed is not None
            assert abs(streamed - history[name][-1]) <= 1e-9, (loaded.symbol, name)
        quote = await source.latest_quote(loaded.symbol)
        assert quote is not None
        assert quote.last == Decimal(repr(float(clean["close"].iloc[-1])))
        assert quote.bid < quote.last < quote.ask


async def test_the_crash_shows_up_as_flagged_gaps_not_as_dropped_bars(
    market_data_dir: Path,
) -> None:
    source = ReplaySource(_crash_period_files(market_data_dir), spread_bps=Decimal(10))

    reports = source.quality_reports

    assert all(report.total_dropped == 0 for report in reports.values())
    flagged = {symbol: len(report.gaps) for symbol, report in reports.items() if report.gaps}
    assert flagged == {"TRX/BTC": 1, "XLM/BTC": 1}
    assert all(abs(gap.close_jump) > 0.10 or abs(gap.open_jump) > 0.10 for gap in gaps(reports))


def gaps(reports: Mapping[str, QualityReport]) -> list[PriceGap]:
    return [gap for report in reports.values() for gap in report.gaps]
