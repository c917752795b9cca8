"""MeanReversion: fades stretched prices in ranging markets, where liquidity allows."""

from __future__ import annotations

from trading_agents.alphas.liquidity import PERIOD, liquidity, liquidity_min_bars
from trading_agents.alphas.mean_reversion import mean_reversion, mean_reversion_min_bars
from trading_agents.alphas.ml_confidence import ml_confidence
from trading_agents.base import NO_OBJECTION, RANGING, AlphaAgent, confirming, opposing_view
from trading_agents.series import BarSeries, series_of
from trading_core.domain.signal import Signal
from trading_core.ports.agent import AgentContext, FilterVerdict


class MeanReversion(AlphaAgent):
    """Mean reversion (Bollinger z and RSI extremes) directional, liquidity confirming.

    Liquidity counts for the side of the mean-reversion view (``base.confirming``): a deep
    market adds conviction, a thin one dilutes it. Active when ranging. Filter: an entry on the
    side its own mean-reversion score opposes by at least ``chase`` (buying an overbought
    stretch) is shrunk to ``chase_multiplier``. ``ml_weight`` > 0 adds the ML-confidence slot.
    """

    name = "mean_reversion"
    regimes = RANGING

    def __init__(
        self,
        mean_reversion_weight: float = 0.7,
        liquidity_weight: float = 0.3,
        ml_weight: float = 0.0,
        band_period: int = 20,
        rsi_period: int = 14,
        liquidity_period: int = PERIOD,
        chase: float = 0.5,
        chase_multiplier: float = 0.5,
    ) -> None:
        super().__init__(
            {
                "mean_reversion": mean_reversion_weight,
                "liquidity": liquidity_weight,
                "ml_confidence": ml_weight,
            }
        )
        self.band_period = int(band_period)
        self.rsi_period = int(rsi_period)
        self.liquidity_period = int(liquidity_period)
        self.chase = float(chase)
        self.chase_multiplier = float(chase_multiplier)

    @property
    def warmup_bars(self) -> int:
        return max(
            mean_reversion_min_bars(self.band_period, self.rsi_period),
            liquidity_min_bars(self.liquidity_period),
        )

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        directional: dict[str, float | None] = {}
        if self.weighted("mean_reversion"):
            directional["mean_reversion"] = self._reversion(series)
        if self.weighted("ml_confidence"):
            directional["ml_confidence"] = ml_confidence(context.indicators)
        scores = dict(directional)
        if self.weighted("liquidity"):
            level = liquidity(series, period=self.liquidity_period)
            scores["liquidity"] = confirming(self.direction(directional), level)
        return scores

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        if len(context.bars) < self.warmup_bars:
            return NO_OBJECTION
        own = self._reversion(series_of(context.bars))
        return opposing_view(
            signal,
            own,
            threshold=self.chase,
            multiplier=self.chase_multiplier,
            what="mean reversion",
        )

    def _reversion(self, series: BarSeries) -> float | None:
        return mean_reversion(series, band_period=self.band_period, rsi_period=self.rsi_period)
