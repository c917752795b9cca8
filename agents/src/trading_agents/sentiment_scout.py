"""SentimentScout: relays a sentiment model's score, and stays silent without one."""

from __future__ import annotations

from trading_agents.alphas.sentiment import SENTIMENT_KEY, sentiment
from trading_agents.base import NO_OBJECTION, AlphaAgent, opposing_view
from trading_agents.series import BarSeries
from trading_core.domain.signal import Signal
from trading_core.ports.agent import AgentContext, FilterVerdict


class SentimentScout(AlphaAgent):
    """The sentiment alpha (``indicators[key]`` in [-1, 1]); active in every regime.

    Until a sentiment model provides a score, ``evaluate`` returns None: it never makes one up.
    It needs no bars. Filter: an entry that the sentiment opposes by at least ``against`` is
    shrunk to ``against_multiplier``; without a sentiment it has no objection.
    """

    name = "sentiment_scout"

    def __init__(
        self,
        sentiment_weight: float = 1.0,
        key: str = SENTIMENT_KEY,
        against: float = 0.5,
        against_multiplier: float = 0.5,
    ) -> None:
        super().__init__({"sentiment": sentiment_weight})
        self.key = str(key)
        self.against = float(against)
        self.against_multiplier = float(against_multiplier)

    @property
    def warmup_bars(self) -> int:
        return 0

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        return {"sentiment": sentiment(context.indicators, key=self.key)}

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        own = sentiment(context.indicators, key=self.key)
        if own is None:
            return NO_OBJECTION
        return opposing_view(
            signal,
            own,
            threshold=self.against,
            multiplier=self.against_multiplier,
            what="sentiment",
        )
