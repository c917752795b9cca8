"""VolatilityFilter: no signal of its own; vetoes or shrinks entries when markets run wild."""

from __future__ import annotations

from trading_agents.alphas.volatility import HISTORY, atr_ratio
from trading_agents.base import NO_OBJECTION, AlphaAgent
from trading_agents.series import BarSeries, series_of
from trading_core.domain.signal import Signal
from trading_core.marketdata.regime import MarketRegime
from trading_core.ports.agent import AgentContext, FilterVerdict

EXTREME_ATR_RATIO = 3.0
"""ATR / close at this multiple of its recent median is extreme: no new entries."""


class VolatilityFilter(AlphaAgent):
    """A guard, not a forecaster: ``evaluate`` always returns None (no directional view, so it
    never dilutes the committee) and it weighs no alpha.

    ``trade_filter``, first match wins:

    1. veto (0.0) when ``volatility.atr_ratio`` (ATR(atr_period) / close over its median of the
       last ``history`` values) is at least ``extreme_ratio``;
    2. shrink to ``high_multiplier`` when the bar's regime is ``high_volatility``;
    3. otherwise no objection (also while too few bars give no ATR ratio).
    """

    name = "volatility_filter"
    needs_weights = False
    filter_only = True

    def __init__(
        self,
        extreme_ratio: float = EXTREME_ATR_RATIO,
        high_multiplier: float = 0.5,
        atr_period: int = 14,
        history: int = HISTORY,
    ) -> None:
        super().__init__({})
        if not 0.0 <= high_multiplier <= 1.0:
            raise ValueError(f"high_multiplier must be in [0, 1], got {high_multiplier}")
        self.extreme_ratio = float(extreme_ratio)
        self.high_multiplier = float(high_multiplier)
        self.atr_period = int(atr_period)
        self.history = int(history)

    @property
    def warmup_bars(self) -> int:
        return self.atr_period + self.history

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        return {}

    def evaluate(self, context: AgentContext) -> Signal | None:
        """Always None: this agent acts through ``trade_filter`` only."""
        return None

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        ratio = None
        if len(context.bars) >= self.warmup_bars:
            ratio = atr_ratio(
                series_of(context.bars), atr_period=self.atr_period, history=self.history
            )
        if ratio is not None and ratio >= self.extreme_ratio:
            return FilterVerdict(0.0, f"veto: extreme volatility (ATR {ratio:.1f}x its median)")
        if context.regime == MarketRegime.HIGH_VOLATILITY.value:
            return FilterVerdict(
                self.high_multiplier,
                f"size x{self.high_multiplier:g} in a high_volatility regime",
            )
        return NO_OBJECTION
