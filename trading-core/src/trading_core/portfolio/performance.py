"""Performance statistics of an equity series and its round trips, with empyrical's definitions.

Conventions (each tested against an independent pandas reference):

- Returns are the simple returns of the equity series, r_i = E_i / E_(i-1) - 1; ``periods`` is
  their count (one less than the points). ``risk_free`` is a PER-PERIOD rate, as in empyrical.
- ``total_return`` = E_n / E_0 - 1 (empyrical ``cum_returns_final``).
- ``annual_return`` = (1 + total_return) ** (periods_per_year / periods) - 1 (``annual_return``,
  geometric: a CAGR).
- ``sharpe`` = mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year) (``sharpe_ratio``).
- ``sortino`` = mean(r - rf) / sqrt(mean(min(r - rf, 0) ** 2)) * sqrt(periods_per_year)
  (``sortino_ratio`` with ``required_return`` = rf: the downside deviation averages over ALL
  periods, not only the losing ones).
- ``max_drawdown`` = min over t of E_t / max(E_0..E_t) - 1: a NEGATIVE fraction in [-1, 0]
  (-0.25 is a 25 % fall from the peak; 0 means the equity never fell), as ``max_drawdown``.
- ``calmar`` = annual_return / |max_drawdown| (``calmar_ratio``).
- ``win_rate`` = winning round trips / all round trips (a break-even trip counts, but does not
  win); ``profit_factor`` = sum of winning P&L / |sum of losing P&L| (pyfolio's round-trip stats).

Undefined statistics are ``None``, never 0, inf or NaN: every return statistic with no periods;
Sharpe with fewer than two periods or zero volatility (all excess returns identical); Sortino with
fewer than two periods or no period below ``risk_free``; Calmar without a drawdown; an annual
return too large for a float; win rate without trades; profit factor without a losing trade
(all winners would be +inf in empyrical/pyfolio: we report None, not a fake large number).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt
from pydantic import FiniteFloat

from trading_core.domain.base import (
    ZERO,
    Frozen,
    Money,
    NonNegativeDecimal,
    PositiveDecimal,
    UtcDatetime,
)
from trading_core.domain.errors import TradingError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Side

SECONDS_PER_YEAR: Final = 365 * 24 * 60 * 60
"""Crypto trades around the clock, every day of the year."""

_EXTRA_PLACES: Final = 10
_WIDE_PRECISION: Final = 60


class InvalidPerformanceInputError(TradingError, ValueError):
    """Performance maths refused its input (unordered times, non-positive equity, bad factor)."""

    code = "INVALID_PERFORMANCE_INPUT"


class PerformanceReport(Frozen):
    """Statistics of one equity series (see the module doc for every definition and sign)."""

    total_return: FiniteFloat | None
    annual_return: FiniteFloat | None
    sharpe: FiniteFloat | None
    sortino: FiniteFloat | None
    calmar: FiniteFloat | None
    max_drawdown: FiniteFloat | None
    """Negative fraction in [-1, 0], empyrical's sign: -0.2 is a 20 % peak-to-trough fall."""
    win_rate: FiniteFloat | None
    profit_factor: FiniteFloat | None
    trade_count: int
    exposure_time: FiniteFloat | None
    """Fraction of periods that started with a non-zero position; None without exposure flags."""
    periods: int
    periods_per_year: FiniteFloat
    start: UtcDatetime | None
    end: UtcDatetime | None


class RoundTrip(Frozen):
    """A closed trade: one closing fill matched FIFO against the open lots it closes.

    ``side`` is the side of the opening fills (BUY for a long trip, SELL for a short one).
    ``entry_price`` is the quantity-weighted price of the lots closed and ``entry_time`` the time
    of the oldest. ``commission`` is the closed lots' share of their entry commissions plus the
    closing fill's share of its own; ``pnl`` is the gross P&L minus that commission.
    """

    symbol: str
    side: Side
    quantity: PositiveDecimal
    entry_price: PositiveDecimal
    exit_price: PositiveDecimal
    entry_time: UtcDatetime
    exit_time: UtcDatetime
    commission: NonNegativeDecimal
    pnl: Money


def periods_per_year(timeframe_seconds: float) -> float:
    """How many periods of ``timeframe_seconds`` fit in a 365-day year (markets open 24/7)."""
    if (
        isinstance(timeframe_seconds, bool)
        or not isinstance(timeframe_seconds, int | float)
        or not math.isfinite(timeframe_seconds)
        or timeframe_seconds <= 0
    ):
        raise InvalidPerformanceInputError(
            f"timeframe_seconds must be a positive finite number, got {timeframe_seconds!r}"
        )
    return SECONDS_PER_YEAR / timeframe_seconds


def performance(
    equity: Sequence[tuple[datetime, Decimal]],
    round_trips: Sequence[Decimal],
    *,
    periods_per_year: float,
    exposure: Sequence[bool] | None = None,
    risk_free: float = 0.0,
) -> PerformanceReport:
    """Statistics of ``equity`` (time, value) points and the P&L of ``round_trips``.

    ``exposure``, when given, has one flag per equity point (a non-zero position was held at that
    point); period i counts as exposed when the point that starts it, i - 1, is flagged.

    Raises :class:`InvalidPerformanceInputError` for naive or non-increasing times, an equity
    that is not positive (only the last point may be zero: a wiped-out account), non-finite
    P&L, a bad ``periods_per_year`` or ``risk_free``, or exposure flags of the wrong length.
    """
    _check_positive_finite(periods_per_year, "periods_per_year")
    _check_finite(risk_free, "risk_free")
    values = _checked_equity(equity)
    pnls = _checked_pnls(round_trips)
    periods = max(len(values) - 1, 0)
    returns = _simple_returns(values)
    total = _total_return(values)
    annual = _annual_return(total, periods, periods_per_year)
    drawdown = _max_drawdown(values)
    return PerformanceReport(
        total_return=total,
        annual_return=annual,
        sharpe=_sharpe(returns, risk_free, periods_per_year),
        sortino=_sortino(returns, risk_free, periods_per_year),
        calmar=_calmar(annual, drawdown),
        max_drawdown=drawdown,
        win_rate=_win_rate(pnls),
        profit_factor=_profit_factor(pnls),
        trade_count=len(pnls),
        exposure_time=_exposure_time(exposure, len(values)),
        periods=periods,
        periods_per_year=periods_per_year,
        start=equity[0][0] if equity else None,
        end=equity[-1][0] if equity else None,
    )


def round_trips(fills: Sequence[Fill]) -> list[RoundTrip]:
    """Round trips of ``fills``, FIFO per symbol, in the order of their closing fills.

    Fills are taken in time order (ties keep the given order) and a repeated ``fill_id`` counts
    once, as in the ledger. A fill that closes more than is open closes everything and opens the
    remainder on the other side; its commission is split between the two by quantity. Lots still
    open at the end are not round trips.
    """
    books: dict[str, deque[_Lot]] = {}
    seen: set[str] = set()
    trips: list[RoundTrip] = []
    for fill in sorted(fills, key=lambda f: f.timestamp):
        if fill.fill_id in seen:
            continue
        seen.add(fill.fill_id)
        lots = books.setdefault(fill.symbol, deque())
        if not lots or lots[0].side is fill.side:
            lots.append(_Lot(fill.side, fill.quantity, fill.price, fill.timestamp, fill.commission))
            continue
        trip, remainder = _close(lots, fill)
        trips.append(trip)
        if remainder is not None:
            lots.append(remainder)
    return trips


def flat_to_flat(fills: Sequence[Fill]) -> list[RoundTrip]:
    """Trades as backtesting.py and freqtrade count them: from flat to flat again, per symbol.

    Every closing fill's :func:`round_trips` trip belongs to the trade that was open; the
    trade ends when its symbol's position is flat again (or flips, which also opens the next
    one). Prices are quantity-weighted over its closing trips, P&L and commission their sums.
    Trades still open at the end are not counted.
    """
    closings = iter(round_trips(fills))
    net: dict[str, Decimal] = {}
    open_trips: dict[str, list[RoundTrip]] = {}
    trades: list[RoundTrip] = []
    seen: set[str] = set()
    for fill in sorted(fills, key=lambda f: f.timestamp):
        if fill.fill_id in seen:
            continue
        seen.add(fill.fill_id)
        before = net.get(fill.symbol, ZERO)
        after = before + fill.quantity * fill.side.sign
        net[fill.symbol] = after
        if before == 0 or (before > 0) == (fill.side.sign > 0):
            continue  # opened or added to: round_trips made no trip of it
        open_trips.setdefault(fill.symbol, []).append(next(closings))
        if after == 0 or (after > 0) != (before > 0):
            trades.append(_merged(open_trips.pop(fill.symbol)))
    return trades


def _merged(trips: Sequence[RoundTrip]) -> RoundTrip:
    quantity = sum((t.quantity for t in trips), ZERO)
    return RoundTrip(
        symbol=trips[0].symbol,
        side=trips[0].side,
        quantity=quantity,
        entry_price=sum((t.entry_price * t.quantity for t in trips), ZERO) / quantity,
        exit_price=sum((t.exit_price * t.quantity for t in trips), ZERO) / quantity,
        entry_time=min(t.entry_time for t in trips),
        exit_time=trips[-1].exit_time,
        commission=sum((t.commission for t in trips), ZERO),
        pnl=sum((t.pnl for t in trips), ZERO),
    )


@dataclass
class _Lot:
    """An open FIFO lot; mutable because partial closes shrink it in place."""

    side: Side
    quantity: Decimal
    price: Decimal
    time: datetime
    commission: Decimal


def _close(lots: deque[_Lot], fill: Fill) -> tuple[RoundTrip, _Lot | None]:
    remaining = fill.quantity
    gross = entry_notional = entry_commission = ZERO
    entry_time = lots[0].time
    side = lots[0].side
    while remaining > 0 and lots:
        lot = lots[0]
        take = min(remaining, lot.quantity)
        if take == lot.quantity:
            # The whole remaining commission, not a pro-rata share, so no rounding residue stays.
            share = lot.commission
            lots.popleft()
        else:
            share = _pro_rata(lot.commission, take, lot.quantity)
            lot.quantity -= take
            lot.commission -= share
        gross += (fill.price - lot.price) * take * lot.side.sign
        entry_notional += lot.price * take
        entry_commission += share
        remaining -= take
    closed = fill.quantity - remaining
    exit_commission = fill.commission
    remainder = None
    if remaining > 0:
        exit_commission = _pro_rata(fill.commission, closed, fill.quantity)
        remainder = _Lot(
            fill.side, remaining, fill.price, fill.timestamp, fill.commission - exit_commission
        )
    commission = entry_commission + exit_commission
    trip = RoundTrip(
        symbol=fill.symbol,
        side=side,
        quantity=closed,
        entry_price=entry_notional / closed,
        exit_price=fill.price,
        entry_time=entry_time,
        exit_time=fill.timestamp,
        commission=commission,
        pnl=gross - commission,
    )
    return trip, remainder


def _pro_rata(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``amount * part / whole`` cut to ten more decimal places than ``amount`` has.

    A bounded share keeps ``pnl = gross - commission`` exact, and since the rest of the amount is
    ``amount - share`` the shares of one commission always add back to it exactly.
    """
    exponent = amount.as_tuple().exponent
    places = min(exponent if isinstance(exponent, int) else 0, 0) - _EXTRA_PLACES
    with localcontext() as context:
        context.prec = _WIDE_PRECISION  # the quotient before cutting may need more than 28 digits
        return (amount * part / whole).quantize(Decimal(1).scaleb(places))


def _checked_equity(equity: Sequence[tuple[datetime, Decimal]]) -> list[Decimal]:
    values: list[Decimal] = []
    previous: datetime | None = None
    for index, (moment, value) in enumerate(equity):
        if moment.tzinfo is None:
            raise InvalidPerformanceInputError(f"equity time {index} is not timezone-aware")
        if previous is not None and moment <= previous:
            raise InvalidPerformanceInputError(
                f"equity times must increase strictly; point {index} is not after point {index - 1}"
            )
        previous = moment
        if not isinstance(value, Decimal) or not value.is_finite():
            raise InvalidPerformanceInputError(f"equity {index} must be a finite Decimal")
        is_last = index == len(equity) - 1
        # Returns after a zero or negative equity are undefined; ending at zero is a -100 % period.
        if value < 0 or (value == 0 and not is_last):
            raise InvalidPerformanceInputError(
                f"equity must be positive (only the last point may be zero), got {value} at {index}"
            )
        values.append(value)
    return values


def _checked_pnls(pnls: Sequence[Decimal]) -> list[Decimal]:
    for index, pnl in enumerate(pnls):
        if not isinstance(pnl, Decimal) or not pnl.is_finite():
            raise InvalidPerformanceInputError(f"round-trip P&L {index} must be a finite Decimal")
    return list(pnls)


def _simple_returns(values: list[Decimal]) -> npt.NDArray[np.float64]:
    # Divided in Decimal first: a constant growth rate then gives bit-identical floats.
    ratios = [float(now / before - 1) for before, now in pairwise(values)]
    return np.array(ratios, dtype=np.float64)


def _total_return(values: list[Decimal]) -> float | None:
    if len(values) < 2:
        return None
    return float(values[-1] / values[0] - 1)


def _annual_return(total: float | None, periods: int, per_year: float) -> float | None:
    if total is None:
        return None
    try:
        growth = (1.0 + total) ** (per_year / periods)
    except OverflowError:
        return None
    return _finite_or_none(growth - 1.0)


def _max_drawdown(values: list[Decimal]) -> float | None:
    if len(values) < 2:
        return None
    peak = values[0]
    worst = ZERO
    for value in values[1:]:
        peak = max(peak, value)
        worst = min(worst, value / peak - 1)
    return float(worst)


def _sharpe(returns: npt.NDArray[np.float64], risk_free: float, per_year: float) -> float | None:
    if len(returns) < 2:
        return None
    excess = returns - risk_free
    # Identical excess returns have no volatility; numpy's std could still leave a last-bit
    # residue from the mean and turn "undefined" into a ratio of 1e15.
    if float(np.ptp(excess)) == 0.0:
        return None
    volatility = float(np.std(excess, ddof=1))
    return _finite_or_none(float(np.mean(excess)) / volatility * math.sqrt(per_year))


def _sortino(returns: npt.NDArray[np.float64], risk_free: float, per_year: float) -> float | None:
    if len(returns) < 2:
        return None
    excess = returns - risk_free
    downside = np.minimum(excess, 0.0)
    if not bool(np.any(downside < 0.0)):
        return None
    deviation = math.sqrt(float(np.mean(downside * downside)))
    if deviation == 0.0:  # losses so small their squares underflow
        return None
    return _finite_or_none(float(np.mean(excess)) / deviation * math.sqrt(per_year))


def _calmar(annual: float | None, drawdown: float | None) -> float | None:
    if annual is None or drawdown is None or drawdown >= 0.0:
        return None
    return _finite_or_none(annual / abs(drawdown))


def _win_rate(pnls: list[Decimal]) -> float | None:
    if not pnls:
        return None
    return sum(1 for pnl in pnls if pnl > 0) / len(pnls)


def _profit_factor(pnls: list[Decimal]) -> float | None:
    gross_profit = sum((pnl for pnl in pnls if pnl > 0), start=ZERO)
    gross_loss = -sum((pnl for pnl in pnls if pnl < 0), start=ZERO)
    if gross_loss == 0:
        return None
    return _finite_or_none(float(gross_profit / gross_loss))


def _exposure_time(exposure: Sequence[bool] | None, points: int) -> float | None:
    if exposure is None:
        return None
    if len(exposure) != points:
        raise InvalidPerformanceInputError(
            f"exposure needs one flag per equity point ({points}), got {len(exposure)}"
        )
    if points < 2:
        return None
    return sum(1 for flag in exposure[:-1] if flag) / (points - 1)


def _check_positive_finite(value: float, name: str) -> None:
    _check_finite(value, name)
    if value <= 0:
        raise InvalidPerformanceInputError(f"{name} must be positive, got {value!r}")


def _check_finite(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidPerformanceInputError(f"{name} must be a finite number, got {value!r}")


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
