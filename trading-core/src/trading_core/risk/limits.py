"""Hard caps of the pre-trade controls and hard values of the circuit breakers, as constants.

Configuration (``risk_config.load_risk_limits``) may only tighten them: a configured value beyond
its cap is refused at start-up. Percentages are of account equity. Window lengths are fixed here:
a shorter window would loosen a control, so they are not configurable. For the breakers, tighter
means a less negative daily-loss threshold, a smaller drawdown tier, a longer pause or latch.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from trading_core.domain.instrument import AssetClass
from trading_core.domain.order import OrderType, TimeInForce

# --- single order ---------------------------------------------------------------------------

MAX_ORDER_NOTIONAL_PCT: Final = Decimal("5")
"""Largest single order, in percent of equity."""

PRICE_COLLAR_PCT: Final[dict[AssetClass, Decimal]] = {
    AssetClass.EQUITY: Decimal("3"),
    AssetClass.FX: Decimal("0.5"),
    AssetClass.CRYPTO: Decimal("5"),
}
"""Largest distance of a limit price from the reference mid, in percent, by asset class."""

MAX_REFERENCE_AGE_SECONDS: Final = 60
"""A reference quote older than this cannot price-check an order (the order is refused)."""

ALLOWED_ORDER_TYPES: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.MARKET})
"""Order types accepted. MARKET never leaves as such: it is converted to a marketable limit at the
collar edge of a fresh reference, or refused. Plain STOP (a market order in waiting) is refused."""

ALLOWED_TIME_IN_FORCE: Final = frozenset(
    {TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK}
)
"""Time-in-force values accepted."""

# --- position and portfolio -----------------------------------------------------------------

MAX_POSITION_PCT: Final = Decimal("10")
"""Largest position per symbol (projected with open orders), in percent of equity."""

MAX_GROSS_EXPOSURE_PCT: Final = Decimal("100")
"""Sum of absolute position values plus open buys, in percent of equity (cash account)."""

MAX_NET_EXPOSURE_PCT: Final = Decimal("100")
"""Absolute signed sum of position values plus open buys, in percent of equity."""

# --- the firm: every account together (``firm`` settings) -----------------------------------

FIRM_MAX_ACCOUNT_AGE_SECONDS: Final = 120
"""Oldest snapshot of another account the firm view still counts; older refuses new exposure."""

FIRM_MAX_MARK_AGE_SECONDS: Final = 900
"""Oldest mark a position may be valued at in the firm view; older refuses new exposure."""

FX_MAX_RATE_AGE_SECONDS: Final = 120
"""Oldest quote a currency conversion may use; older (or none) refuses new exposure."""

# --- approvals: where a person must decide (``approvals`` settings) ---------------------------

MAX_ASSISTANT_PAPER_NOTIONAL: Final = Decimal(1_000)
"""Largest notional (account currency) of an assistant's paper order that runs without a
person; anything above waits for one. Configuration may lower it, to 0 (every order waits)."""

MAX_AUTONOMOUS_BUDGET_NOTIONAL: Final = Decimal(5_000)
"""Largest notional of trading-core's own order that runs without a person."""

# --- flow over time -------------------------------------------------------------------------

WINDOW_NOTIONAL_PCT: Final = Decimal("25")
"""Notional of orders sent within any rolling window, in percent of equity."""

WINDOW_NOTIONAL_SECONDS: Final = 300
"""Length of the rolling notional window (5 minutes)."""

MAX_ORDERS_PER_SECOND: Final = 5
"""Orders sent within any 1-second window; the excess is denied, not queued."""

MAX_ORDERS_PER_MINUTE: Final = 60
"""Orders sent within any 60-second window; the excess is denied, not queued."""

MAX_FILLS_PER_STRATEGY_SYMBOL: Final = 10
"""Fills per strategy and symbol within the repeated-execution window; more latches HALTED."""

REPEATED_EXECUTION_SECONDS: Final = 60
"""Length of the repeated-execution window."""

DUPLICATE_WINDOW_SECONDS: Final = 10
"""An order with the same content (symbol, side, quantity, type, prices) within this is refused."""

MAX_OPEN_ORDERS: Final = 20
"""Open orders across all symbols (an order in UNKNOWN state counts as open)."""

MAX_OPEN_ORDERS_PER_SYMBOL: Final = 3
"""Open orders on one symbol."""

MAX_DAILY_ORDERS: Final = 200
"""Orders sent per UTC day."""

# --- portfolio circuit breakers (``risk.breakers``) -------------------------------------------

DAILY_LOSS_WARNING_PCT: Final = Decimal("-2")
"""Signed P&L from start-of-day equity at which a warning is raised (once per session)."""

DAILY_LOSS_CRITICAL_PCT: Final = Decimal("-3")
"""Signed P&L from start-of-day equity at which trading is REDUCING for the rest of the session."""

DRAWDOWN_PAUSE_1H_PCT: Final = Decimal("5")
"""Drawdown from the high-water mark (marked to market) of the first tier: a pause."""

DRAWDOWN_PAUSE_4H_PCT: Final = Decimal("10")
"""Drawdown of the second tier: a longer pause."""

DRAWDOWN_KILL_PCT: Final = Decimal("15")
"""Drawdown of the last tier: the kill switch."""

PAUSE_1H_MINUTES: Final = 60
"""How long the first drawdown tier pauses trading (at least)."""

PAUSE_4H_MINUTES: Final = 240
"""How long the second drawdown tier pauses trading (at least)."""

KILL_LATCH_HOURS: Final = 24
"""Shortest time the kill switch stays latched before a person may reset it without override."""

REARM_BAND_PCT: Final = Decimal("1")
"""Hysteresis: a tripped drawdown tier re-arms below its threshold minus this many points.
Not configurable; a configured drawdown tier must stay above it, or it could never re-arm."""

MAX_PAUSE_MINUTES: Final = 7 * 24 * 60
"""Longest pause a breaker may be configured to (a week); for longer, halt or kill."""

MAX_KILL_LATCH_HOURS: Final = 30 * 24
"""Longest kill-switch latch that may be configured (30 days); a person may always override."""

MAX_MODEL_ECE: Final = 0.05
"""The worst out-of-sample expected calibration error a signal model may have and still size
positions (seed 004). Configuration may only lower it: an overconfident model's probabilities
would make quarter Kelly bet on an edge it does not have."""
