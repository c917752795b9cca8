"""BreakoutHunter: trades range breaks backed by expanding volatility and order blocks."""

from __future__ import annotations

from trading_agents.alphas.breakout import CHANNEL, breakout, breakout_min_bars
from trading_agents.alphas.ml_confidence import ml_confidence
from trading_agents.alphas.order_block import IMPULSE_ATR, order_block, order_block_min_bars
from trading_agents.alphas.volatility import HISTORY, volatility
from trading_agents.base import (
    NO_OBJECTION,
    RANGING,
    TRENDING,
    AlphaAgent,
    confirming,
    opposing_view,
)
from trading_agents.series import BarSeries, series_of
from trading_core.domain.signal import Signal
from trading_core.ports.agent import AgentContext, FilterVerdict


class BreakoutHunter(AlphaAgent):
    """Breakout and order block directional, volatility expansion confirming.

    Volatility counts for the side of the breakout/order-block view (``base.confirming``): a
    break on expanding ranges adds conviction, one on contracting ranges is diluted. Active when
    ranging or trending. Filter: an entry into an untested opposite order block within reach
    (its score opposing the entry by at least ``block_against``) is shrunk to
    ``block_multiplier``. ``ml_weight`` > 0 adds the ML-confidence slot.
    """

    name = "breakout_hunter"
    regimes = RANGING | TRENDING

    def __init__(
        self,
        breakout_weight: float = 0.5,
        volatility_weight: float = 0.25,
        order_block_weight: float = 0.25,
        ml_weight: float = 0.0,
        channel: int = CHANNEL,
        atr_period: int = 14,
        volatility_history: int = HISTORY,
        impulse_atr: float = IMPULSE_ATR,
        block_against: float = 0.5,
        block_multiplier: float = 0.5,
    ) -> None:
        super().__init__(
            {
                "breakout": breakout_weight,
                "volatility": volatility_weight,
                "order_block": order_block_weight,
                "ml_confidence": ml_weight,
            }
        )
        self.channel = int(channel)
        self.atr_period = int(atr_period)
        self.volatility_history = int(volatility_history)
        self.impulse_atr = float(impulse_atr)
        self.block_against = float(block_against)
        self.block_multiplier = float(block_multiplier)

    @property
    def warmup_bars(self) -> int:
        # Volatility needs the longest history (volatility_min_bars); until then the other
        # alphas speak without it, so the warm-up is what breakout and order blocks need.
        return max(
            breakout_min_bars(self.channel, self.atr_period),
            order_block_min_bars(self.atr_period),
        )

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        directional: dict[str, float | None] = {}
        if self.weighted("breakout"):
            directional["breakout"] = breakout(
                series, channel=self.channel, atr_period=self.atr_period
            )
        if self.weighted("order_block"):
            directional["order_block"] = self._block(series)
        if self.weighted("ml_confidence"):
            directional["ml_confidence"] = ml_confidence(context.indicators)
        scores = dict(directional)
        if self.weighted("volatility"):
            level = volatility(series, atr_period=self.atr_period, history=self.volatility_history)
            scores["volatility"] = confirming(self.direction(directional), level)
        return scores

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        if len(context.bars) < self.warmup_bars:
            return NO_OBJECTION
        own = self._block(series_of(context.bars))
        return opposing_view(
            signal,
            own,
            threshold=self.block_against,
            multiplier=self.block_multiplier,
            what="order block",
        )

    def _block(self, series: BarSeries) -> float | None:
        return order_block(series, atr_period=self.atr_period, impulse_atr=self.impulse_atr)
