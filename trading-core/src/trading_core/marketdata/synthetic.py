"""A seeded synthetic market: geometric random walks that switch between regimes.

Each symbol walks on its own random stream (derived from the seed and the symbol's name), so
adding a symbol never changes the others' bars, and the same seed always gives the same bars.
A Markov chain switches each symbol between regimes: trending up, trending down, ranging
(mean-reverting around the price where the regime began) and high volatility.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

import numpy as np

from trading_core.adapters.clock import SystemClock
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.marketdata.quotes import quote_around, round_to_tick
from trading_core.marketdata.timing import SleepFunction, sleep_until
from trading_core.ports.clock import Clock


class Regime(StrEnum):
    TRENDING_UP = "trending_up"
    TRENDING_DOWN = "trending_down"
    RANGING = "ranging"
    HIGH_VOLATILITY = "high_volatility"


@dataclass(frozen=True)
class RegimeParameters:
    """Per-bar log-return drift and volatility for one-hour bars (rescaled for others)."""

    drift: float
    volatility: float
    volume_scale: float
    mean_reversion: float = 0.0
    """Fraction of the log distance to the regime's starting price recovered each bar."""


DEFAULT_REGIMES: Mapping[Regime, RegimeParameters] = {
    Regime.TRENDING_UP: RegimeParameters(drift=0.0010, volatility=0.004, volume_scale=1.0),
    Regime.TRENDING_DOWN: RegimeParameters(drift=-0.0010, volatility=0.005, volume_scale=1.3),
    Regime.RANGING: RegimeParameters(
        drift=0.0, volatility=0.0025, volume_scale=0.7, mean_reversion=0.05
    ),
    Regime.HIGH_VOLATILITY: RegimeParameters(drift=0.0, volatility=0.015, volume_scale=2.5),
}
_REGIMES = tuple(Regime)
_ONE_HOUR = timedelta(hours=1)


class SyntheticSource:
    """Deterministic synthetic bars and quotes (implements ``MarketDataSource``).

    ``bars`` None makes the stream endless. Each call of ``bars()`` starts the walk over, so
    two iterations (or two sources with the same arguments) yield identical bars. With
    ``realtime=True`` a bar is yielded only once the clock has reached its close time, waiting
    with ``sleep`` (bars whose close time has already passed are yielded at once).
    ``regime_persistence`` is the chance a regime carries on for another bar; otherwise one of
    the other regimes is picked uniformly. Prices are rounded to ``tick`` (default: five
    significant digits of the start price).
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        seed: int,
        start: datetime,
        timeframe: Timeframe,
        bars: int | None = None,
        start_price: Decimal | Mapping[str, Decimal] = Decimal(100),
        spread_bps: Decimal = Decimal(2),
        tick: Decimal | None = None,
        base_volume: float = 1_000.0,
        regime_persistence: float = 0.98,
        regimes: Mapping[Regime, RegimeParameters] = DEFAULT_REGIMES,
        realtime: bool = False,
        clock: Clock | None = None,
        sleep: SleepFunction = asyncio.sleep,
        name: str = "synthetic",
    ) -> None:
        self._symbols = tuple(sorted(set(symbols)))
        if not self._symbols:
            raise ValueError("a synthetic source needs at least one symbol")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if bars is not None and bars < 0:
            raise ValueError(f"bars must not be negative: {bars}")
        if not 0 <= regime_persistence <= 1:
            raise ValueError(f"regime_persistence must be a probability: {regime_persistence}")
        if set(regimes) != set(Regime):
            raise ValueError("regimes must give parameters for every Regime")
        self.name = name
        self._seed = seed
        self._start = start
        self._timeframe = timeframe
        self._bar_count = bars
        self._start_prices = {
            symbol: start_price[symbol] if isinstance(start_price, Mapping) else start_price
            for symbol in self._symbols
        }
        for symbol, price in self._start_prices.items():
            if price <= 0:
                raise ValueError(f"start price of {symbol} must be positive: {price}")
        self._spread_bps = spread_bps
        self._tick = tick
        self._base_volume = base_volume
        self._persistence = regime_persistence
        self._regimes = regimes
        self._realtime = realtime
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep
        self._latest: dict[str, Quote] = {}
        self._current_regime: dict[str, Regime] = {}

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    def symbols(self) -> Sequence[str]:
        return self._symbols

    def regime(self, symbol: str) -> Regime | None:
        """The regime of ``symbol``'s latest bar (None before the first)."""
        return self._current_regime.get(symbol)

    async def bars(self) -> AsyncIterator[Bar]:
        """Bars in (timestamp, symbol) order; endless when ``bars`` was None."""
        walkers = [
            _Walker(
                symbol,
                seed=self._seed,
                start_price=self._start_prices[symbol],
                tick=self._tick,
                timeframe=self._timeframe,
                base_volume=self._base_volume,
                persistence=self._persistence,
                regimes=self._regimes,
            )
            for symbol in self._symbols
        ]
        steps = itertools.count() if self._bar_count is None else range(self._bar_count)
        duration = self._timeframe.duration
        for step in steps:
            opened = self._start + step * duration
            if self._realtime:
                await sleep_until(self._clock, opened + duration, self._sleep)
            for walker in walkers:
                bar = walker.next_bar(opened)
                self._current_regime[bar.symbol] = walker.regime
                self._latest[bar.symbol] = quote_around(
                    symbol=bar.symbol,
                    price=bar.close,
                    spread_bps=self._spread_bps,
                    timestamp=bar.close_time,
                    source=f"{self.name}:{self._seed}",
                    volume=bar.volume,
                    tick=walker.tick,
                )
                yield bar

    async def latest_quote(self, symbol: str) -> Quote | None:
        """A quote around the last close yielded for ``symbol``."""
        return self._latest.get(symbol)

    async def close(self) -> None:
        """Nothing to release."""


class _Walker:
    """One symbol's random walk: regime chain, prices and volumes from its own stream."""

    def __init__(
        self,
        symbol: str,
        *,
        seed: int,
        start_price: Decimal,
        tick: Decimal | None,
        timeframe: Timeframe,
        base_volume: float,
        persistence: float,
        regimes: Mapping[Regime, RegimeParameters],
    ) -> None:
        self._symbol = symbol
        self._timeframe = timeframe
        # crc32, not hash(): str hashes change between interpreter runs.
        self._rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
        self.tick = tick if tick is not None else Decimal(1).scaleb(start_price.adjusted() - 4)
        self._scale = timeframe.duration / _ONE_HOUR
        self._base_volume = base_volume
        self._persistence = persistence
        self._regimes = regimes
        self._close = self._round(start_price)
        self.regime = _REGIMES[int(self._rng.integers(len(_REGIMES)))]
        self._anchor = math.log(self._close)

    def next_bar(self, opened: datetime) -> Bar:
        self._maybe_switch_regime()
        parameters = self._regimes[self.regime]
        volatility = parameters.volatility * math.sqrt(self._scale)
        shocks = self._rng.standard_normal(4)
        open_ = self._close
        log_open = math.log(open_)
        log_return = (
            parameters.drift * self._scale
            - parameters.mean_reversion * (log_open - self._anchor)
            + volatility * float(shocks[0])
        )
        close = self._round(Decimal(repr(math.exp(log_open + log_return))))
        wick_up = math.exp(0.5 * volatility * abs(float(shocks[1])))
        wick_down = math.exp(-0.5 * volatility * abs(float(shocks[2])))
        high = max(self._round(Decimal(repr(float(max(open_, close)) * wick_up))), open_, close)
        low = min(self._round(Decimal(repr(float(min(open_, close)) * wick_down))), open_, close)
        volume = self._base_volume * parameters.volume_scale * math.exp(0.3 * float(shocks[3]))
        self._close = close
        return Bar(
            symbol=self._symbol,
            timeframe=self._timeframe,
            timestamp=opened,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=Decimal(repr(round(volume * self._scale, 4))),
        )

    def _maybe_switch_regime(self) -> None:
        if self._rng.random() < self._persistence:
            return
        others = [regime for regime in _REGIMES if regime is not self.regime]
        self.regime = others[int(self._rng.integers(len(others)))]
        self._anchor = math.log(self._close)

    def _round(self, price: Decimal) -> Decimal:
        # Never round a price down to zero: a walk can get cheap, not free.
        return max(round_to_tick(price, self.tick, ROUND_HALF_EVEN), self.tick)
