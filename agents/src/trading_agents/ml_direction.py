"""MlDirection: trades the signal model's calibrated direction, with momentum as its rule."""

from __future__ import annotations

from trading_agents.alphas.ml_confidence import ml_confidence
from trading_agents.alphas.momentum import momentum, momentum_min_bars
from trading_agents.base import AlphaAgent
from trading_agents.series import BarSeries
from trading_core.ports.agent import AgentContext


class MlDirection(AlphaAgent):
    """The ML-confidence alpha (2p - 1 of the model's p) and momentum, both directional.

    With an accepted model the model carries ``ml_weight`` of the score and its probability
    sizes the entry (quarter Kelly); with none (refused, missing, warming up) the alpha has no
    view and momentum alone decides: the agent's rule.
    """

    name = "ml_direction"

    def __init__(
        self, ml_weight: float = 0.7, momentum_weight: float = 0.3, adx_period: int = 14
    ) -> None:
        super().__init__({"ml_confidence": ml_weight, "momentum": momentum_weight})
        self.adx_period = int(adx_period)

    @property
    def warmup_bars(self) -> int:
        return momentum_min_bars(self.adx_period)

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        scores: dict[str, float | None] = {}
        if self.weighted("ml_confidence"):
            scores["ml_confidence"] = ml_confidence(context.indicators)
        if self.weighted("momentum"):
            scores["momentum"] = momentum(series, period=self.adx_period)
        return scores
