"""Interactive Brokers market data through ib_async, over an ``IB`` the caller connects.

The source may share the connection :class:`~trading_core.execution.ib_broker.IbBroker` uses; it
never connects, reconnects or disconnects it. While the ``IB`` is not connected a poll (or a
quote) is skipped and logged, and the stream goes on.

- Bars: once per bar close (plus ``poll_delay``) every symbol's bars are asked for with
  ``reqHistoricalData`` (``endDateTime=""``: up to now, ``useRTH=False``, ``formatDate=2``:
  an intraday bar's ``date`` is its OPEN time in UTC, a daily bar's its trading day, taken
  here as 00:00 UTC), ``whatToShow`` ``TRADES`` for stocks and ``MIDPOINT`` for currency pairs
  (IDEALPRO reports no trades; IB sends such bars with volume -1, read as 0). IB's last bar may
  still be forming: a bar whose close time the clock has not reached is never yielded.
- The window asked for: back to the newest bar already yielded; on the first poll, with
  ``history_bars``, enough days for that many bars across nights and weekends (IB has no "last
  N bars" request); without history, back to the start of the stream, so a market that opens
  later still has its first bar yielded. Durations are in seconds up to a day (IB's limit for
  ``S``), in days beyond, in years past 365 days.
- Contracts: ``ib_contract`` ("GOOG" a SMART-routed USD stock, "EUR/USD" an IDEALPRO pair),
  qualified once per symbol (``qualifyContractsAsync``: ``reqContractDetails``) and kept; IB
  knowing no single contract for a symbol raises
  :class:`~trading_core.domain.errors.InstrumentNotFoundError`.
- Quotes: a market-data snapshot (``reqTickersAsync``, ``reqMktData`` with ``snapshot``): bid,
  ask, last; a currency pair, which has no last, gets the bid/ask midpoint; volume 0 when IB
  sends none; stamped with the clock.
- Failures: an IB error on a request (e.g. 162 "Historical Market Data Service error message"),
  a timeout or a dropped connection skips that poll for that symbol (logged); the quote is
  None. Error 200 (no security definition) raises
  :class:`~trading_core.domain.errors.InstrumentNotFoundError`: the symbol is wrong, not late.

Prices are ib_async floats; they become Decimals here through their repr.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ib_async import IB, BarData, Contract, RequestError
from ib_async.util import UNSET_DOUBLE
from pydantic import ValidationError

from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import ConfigurationError, DataError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.execution.ib_broker import ib_contract
from trading_core.marketdata.timing import SleepFunction, sleep_until
from trading_core.marketdata.validation import to_decimal, validate_bars
from trading_core.ports.clock import Clock

logger = logging.getLogger(__name__)

SOURCE_NAME = "ib"
IB_BAR_SIZES = {
    Timeframe.M1: "1 min",
    Timeframe.M5: "5 mins",
    Timeframe.M15: "15 mins",
    Timeframe.M30: "30 mins",
    Timeframe.H1: "1 hour",
    Timeframe.H4: "4 hours",
    Timeframe.D1: "1 day",
}
"""IB's ``barSizeSetting`` for each timeframe this source serves."""
NO_SECURITY_DEFINITION = 200
_DAY = 86_400
_SECONDS_LIMIT = _DAY
"""IB takes a duration in seconds (``"N S"``) up to one day."""
_TRADING_WEEK = 7 / 5
"""Calendar days per trading day (weekends), for the history window."""


class IbMarketDataSource:
    """Closed bars and snapshot quotes from IB (implements ``MarketDataSource``).

    ``bars()`` polls every symbol once per timeframe, ``poll_delay`` after each bar closes, and
    yields closed bars only, oldest first, ties by symbol. The first poll yields the last
    ``history_bars`` closed bars (0: none, only bars closing after the stream starts); later
    polls yield only newer bars. ``max_polls`` ends the stream after that many polls (None:
    endless). ``request_timeout`` bounds each IB request (seconds). The caller owns ``ib``.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        ib: IB,
        symbols: Iterable[str],
        timeframe: Timeframe,
        *,
        clock: Clock | None = None,
        sleep: SleepFunction = asyncio.sleep,
        history_bars: int = 0,
        poll_delay: timedelta = timedelta(seconds=2),
        max_polls: int | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self._symbols = tuple(sorted(set(symbols)))
        if not self._symbols:
            raise ConfigurationError("the IB source needs at least one symbol")
        if timeframe not in IB_BAR_SIZES:
            raise ConfigurationError(f"the IB source has no {timeframe} bars")
        if history_bars < 0:
            raise ConfigurationError(f"history_bars must not be negative: {history_bars}")
        self._ib = ib
        self._timeframe = timeframe
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep
        self._history_bars = history_bars
        self._poll_delay = poll_delay
        self._max_polls = max_polls
        self._timeout = request_timeout
        self._contracts: dict[str, Contract] = {}
        """Qualified contracts (with IB's conId), by symbol."""
        self._errors: dict[int, list[tuple[int, str]]] = {}
        """IB errors per request in flight, keyed by the id of the contract it was sent with."""
        self._ib.errorEvent += self._on_error

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    def symbols(self) -> Sequence[str]:
        return self._symbols

    async def bars(self) -> AsyncIterator[Bar]:
        """Closed bars of every symbol, oldest first, ties by symbol; polls until closed."""
        started = self._clock.now()
        newest: dict[str, datetime] = {}
        polls = 0
        while True:
            now = self._clock.now()
            batch: list[Bar] = []
            for symbol in self._symbols:
                batch.extend(await self._new_closed_bars(symbol, newest, started, now))
            batch.sort(key=lambda bar: (bar.timestamp, bar.symbol))
            for bar in batch:
                yield bar
            polls += 1
            if self._max_polls is not None and polls >= self._max_polls:
                return
            await sleep_until(self._clock, self._next_poll_time(), self._sleep)

    async def latest_quote(self, symbol: str) -> Quote | None:
        """Bid, ask and last of a snapshot (a currency pair's last: the midpoint); None when
        IB is not connected, does not answer, or sends no prices."""
        if not self._ib.isConnected():
            logger.warning("ib quote for %s skipped: not connected", symbol)
            return None
        contract = await self._contract(symbol)
        if contract is None:
            return None
        self._errors[id(contract)] = []
        try:
            tickers = await asyncio.wait_for(self._ib.reqTickersAsync(contract), self._timeout)
        except (ConnectionError, TimeoutError, RequestError) as exc:
            logger.warning(
                "ib quote for %s unavailable: %s", symbol, str(exc) or type(exc).__name__
            )
            return None
        finally:
            errors = self._errors.pop(id(contract), [])
        ticker = tickers[0] if tickers else None
        bid, ask, last = (
            (_price(ticker.bid), _price(ticker.ask), _price(ticker.last))
            if ticker is not None
            else (None, None, None)
        )
        if last is None and contract.secType == "CASH" and bid is not None and ask is not None:
            last = (bid + ask) / 2
        if bid is None or ask is None or last is None:
            self._refused(symbol, errors)
            logger.warning(
                "ib quote for %s has no prices (bid %s, ask %s, last %s)%s",
                symbol,
                bid,
                ask,
                last,
                _describe(errors),
            )
            return None
        assert ticker is not None
        volume = ticker.volume
        try:
            return Quote(
                symbol=symbol,
                bid=bid,
                ask=ask,
                last=last,
                volume=to_decimal(volume) if _is_number(volume) and volume > 0 else 0,
                timestamp=self._clock.now(),
                source=SOURCE_NAME,
            )
        except ValidationError as exc:
            raise DataError(f"IB sent an unusable quote for {symbol}: {ticker}") from exc

    async def close(self) -> None:
        """Stop listening to ``ib``'s errors; the connection is the caller's to close."""
        self._ib.errorEvent -= self._on_error

    async def _new_closed_bars(
        self, symbol: str, newest: dict[str, datetime], started: datetime, now: datetime
    ) -> list[Bar]:
        """Closed bars newer than ``newest[symbol]`` (updated); the first time, the history."""
        if not self._ib.isConnected():
            logger.warning("ib bars for %s skipped: not connected", symbol)
            return []
        seen = newest.get(symbol)
        contract = await self._contract(symbol)
        if contract is None:
            return []
        self._errors[id(contract)] = []
        try:
            rows = await self._ib.reqHistoricalDataAsync(
                contract,
                endDateTime="",
                durationStr=self._duration(seen, started, now),
                barSizeSetting=IB_BAR_SIZES[self._timeframe],
                whatToShow="MIDPOINT" if contract.secType == "CASH" else "TRADES",
                useRTH=False,
                formatDate=2,
                timeout=self._timeout,
            )
        except (ConnectionError, RequestError) as exc:
            logger.warning(
                "ib bars for %s unavailable, retrying at %s: %s",
                symbol,
                f"{self._next_poll_time():%H:%M:%S} UTC",
                str(exc) or type(exc).__name__,
            )
            return []
        finally:
            errors = self._errors.pop(id(contract), [])
        if not rows:
            self._refused(symbol, errors)
            logger.warning(
                "ib bars for %s: none received, retrying at %s%s",
                symbol,
                f"{self._next_poll_time():%H:%M:%S} UTC",
                _describe(errors),
            )
            return []
        candidates = [bar for row in rows if (bar := self._to_bar(symbol, row)) is not None]
        closed = [bar for bar in candidates if bar.close_time <= now]
        clean, report = validate_bars(closed, now=now)
        if report.total_dropped:
            logger.warning("ib %s: dropped %s", symbol, report.dropped)
        if not clean:
            return []
        newest[symbol] = max(clean[-1].timestamp, seen) if seen is not None else clean[-1].timestamp
        if seen is not None:
            return [bar for bar in clean if bar.timestamp > seen]
        if self._history_bars:
            return clean[-self._history_bars :]
        return [bar for bar in clean if bar.close_time > started]

    async def _contract(self, symbol: str) -> Contract | None:
        """A copy (its own identity, for the errors of one request) of ``symbol``'s qualified
        contract; None (logged) if IB could not be asked."""
        qualified = self._contracts.get(symbol)
        if qualified is None:
            try:
                (found,) = await asyncio.wait_for(
                    self._ib.qualifyContractsAsync(ib_contract(symbol)), self._timeout
                )
            except (ConnectionError, TimeoutError, RequestError) as exc:
                logger.warning(
                    "ib contract of %s unavailable: %s", symbol, str(exc) or type(exc).__name__
                )
                return None
            if not isinstance(found, Contract):
                raise InstrumentNotFoundError(f"IB knows no single contract for {symbol}")
            self._contracts[symbol] = qualified = found
        return copy.copy(qualified)

    def _duration(self, seen: datetime | None, started: datetime, now: datetime) -> str:
        """IB's ``durationStr`` reaching back far enough for the bars this poll needs."""
        period = self._timeframe.duration
        if seen is not None:
            since = seen
        elif self._history_bars:
            trading_days = self._history_bars * period.total_seconds() / _DAY
            since = now - timedelta(days=math.ceil(trading_days * _TRADING_WEEK) + 3)
        else:
            since = started - period
        seconds = math.ceil((now - since + period).total_seconds())
        if seconds <= _SECONDS_LIMIT and self._timeframe is not Timeframe.D1:
            return f"{seconds} S"
        days = math.ceil(seconds / _DAY)
        return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"

    def _to_bar(self, symbol: str, row: BarData) -> Bar | None:
        moment = row.date
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        numbers = (row.open, row.high, row.low, row.close)
        if not all(_is_number(value) for value in (*numbers, row.volume)):
            logger.warning("ib %s: incomplete bar %s skipped", symbol, row)
            return None
        open_, high, low, close = (to_decimal(value) for value in numbers)
        try:
            return Bar(
                symbol=symbol,
                timeframe=self._timeframe,
                timestamp=moment.astimezone(UTC),
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=to_decimal(row.volume) if row.volume > 0 else 0,  # MIDPOINT: -1
            )
        except ValidationError as exc:
            logger.warning("ib %s: invalid bar %s skipped: %s", symbol, row, exc)
            return None

    def _next_poll_time(self) -> datetime:
        now = self._clock.now()
        period = self._timeframe.duration.total_seconds()
        next_close = (now.timestamp() // period + 1) * period
        return datetime.fromtimestamp(next_close, UTC) + self._poll_delay

    def _on_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        if contract is not None and id(contract) in self._errors:
            self._errors[id(contract)].append((code, message))

    @staticmethod
    def _refused(symbol: str, errors: list[tuple[int, str]]) -> None:
        if any(code == NO_SECURITY_DEFINITION for code, _ in errors):
            raise InstrumentNotFoundError(f"IB has no security definition for {symbol}")


def _describe(errors: list[tuple[int, str]]) -> str:
    return "".join(f"; IB error {code}: {message}" for code, message in errors)


def _is_number(value: float) -> bool:
    return isinstance(value, int | float) and value == value and abs(value) < UNSET_DOUBLE


def _price(value: float) -> Decimal | None:
    """A positive price as a Decimal; None for IB's "no such tick" (NaN, unset, 0, -1)."""
    if _is_number(value) and value > 0:
        return to_decimal(value)
    return None
