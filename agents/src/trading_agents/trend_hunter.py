"""TrendHunter: follows established trends (momentum), entering on breakouts."""

from __future__ import annotations

from trading_agents.alphas.breakout import CHANNEL, breakout, breakout_min_bars
from trading_agents.alphas.ml_confidence import ml_confidence
from trading_agents.alphas.momentum import momentum, momentum_min_bars
from trading_agents.base import NO_OBJECTION, TRENDING, AlphaAgent, opposing_view
from trading_agents.series import BarSeries, series_of
from trading_core.domain.signal import Signal
from trading_core.ports.agent import AgentContext, FilterVerdict


class TrendHunter(AlphaAgent):
    """Momentum (ADX-gated direction) and breakout, both directional; active when trending.

    Filter: an entry against its own momentum of at least ``counter_trend`` (a buy in a strong
    down-trend or the reverse) is shrunk to ``counter_trend_multiplier`` of its size.
    ``ml_weight`` > 0 switches on the ML-confidence slot as a third directional alpha.
    """

    name = "trend_hunter"
    regimes = TRENDING

    def __init__(
        self,
        momentum_weight: float = 0.6,
        breakout_weight: float = 0.4,
        ml_weight: float = 0.0,
        adx_period: int = 14,
        channel: int = CHANNEL,
        counter_trend: float = 0.5,
        counter_trend_multiplier: float = 0.5,
    ) -> None:
        super().__init__(
            {"momentum": momentum_weight, "breakout": breakout_weight, "ml_confidence": ml_weight}
        )
        self.adx_period = int(adx_period)
        self.channel = int(channel)
        self.counter_trend = float(counter_trend)
        self.counter_trend_multiplier = float(counter_trend_multiplier)

    @property
    def warmup_bars(self) -> int:
        return max(momentum_min_bars(self.adx_period), breakout_min_bars(self.channel))

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        scores: dict[str, float | None] = {}
        if self.weighted("momentum"):
            scores["momentum"] = momentum(series, period=self.adx_period)
        if self.weighted("breakout"):
            scores["breakout"] = breakout(series, channel=self.channel)
        if self.weighted("ml_confidence"):
            scores["ml_confidence"] = ml_confidence(context.indicators)
        return scores

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        if len(context.bars) < self.warmup_bars:
            return NO_OBJECTION
        own = momentum(series_of(context.bars), period=self.adx_period)
        return opposing_view(
            signal,
            own,
            threshold=self.counter_trend,
            multiplier=self.counter_trend_multiplier,
            what="momentum",
        )
