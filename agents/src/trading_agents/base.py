"""What the committee's agents share: warm-up gate, alphas -> combiner -> Signal, filters.

An agent's alphas are of two kinds:

- directional alphas (momentum, breakout, mean reversion, ...) say which way, and are combined
  as they are;
- confirming alphas (volatility expansion, liquidity) have no direction: they measure how good
  the conditions are. ``confirming`` turns one into a vote for the directional view's side,
  sign(direction) * max(level, 0): good conditions add conviction, poor ones add nothing and
  dilute it, but never flip a buy into a sell.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType

from trading_agents.combiner import breakdown
from trading_agents.series import BarSeries, series_of
from trading_core.domain.signal import Signal
from trading_core.marketdata.regime import MarketRegime
from trading_core.ports.agent import AgentContext, FilterVerdict

ALL_REGIMES = frozenset(regime.value for regime in MarketRegime)
TRENDING = frozenset({MarketRegime.TRENDING_UP.value, MarketRegime.TRENDING_DOWN.value})
RANGING = frozenset({MarketRegime.RANGING.value})


def confirming(direction: float | None, level: float | None) -> float | None:
    """A directionless ``level`` in [-1, 1] as a vote on the side of ``direction``.

    sign(direction) * max(level, 0); None when either is None or the direction is 0 (there is
    nothing to confirm).
    """
    if direction is None or level is None or direction == 0.0:
        return None
    # max(level, 0) and no copysign of a zero: a "-0.00" vote would read as a contradiction.
    return math.copysign(level, direction) if level > 0 else 0.0


NO_OBJECTION = FilterVerdict(1.0, "no objection")
"""The verdict of a filter that lets the entry through unchanged."""


def opposing_view(
    signal: Signal,
    own: float | None,
    *,
    threshold: float,
    multiplier: float,
    what: str,
) -> FilterVerdict:
    """Shrink by ``multiplier`` an entry whose side the agent's ``own`` score opposes by at
    least ``threshold`` (e.g. a buy against a strong down-trend); otherwise no objection."""
    if own is not None and own * signal.score < 0 and abs(own) >= threshold:
        return FilterVerdict(multiplier, f"{what} {own:+.2f} opposes the entry")
    return NO_OBJECTION


class AlphaAgent(ABC):
    """An agent built from weighted alphas; subclasses name them and compute their scores.

    ``evaluate`` returns None before ``warmup_bars`` bars of ``context.bars`` are available or
    when no alpha has a view; otherwise a Signal with the combined score, ``confidence`` = the
    share of alpha weight that had a view, ``features`` = each alpha's score as combined, and a
    reason naming the strongest contributors first (``Combination.describe``; the agent's name
    and score are the Signal's own fields, so the reason does not repeat them). Filter reasons
    likewise leave out the agent's name, which whoever combines the verdicts adds.
    """

    name: str
    regimes: frozenset[str] = ALL_REGIMES
    needs_weights = True
    """False for an agent that speaks through its filter only (no alpha to combine)."""
    needs_history = True
    """Its alphas read ``context.bars``: the orchestrator keeps them for it, alone or not."""
    filter_only = False
    """True for a guard that only shrinks or vetoes other agents' entries (never signals)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        for alpha, weight in weights.items():
            if not math.isfinite(weight):
                raise ValueError(f"{self.name}: weight of {alpha} must be finite, got {weight}")
        # An alpha weighted 0 is switched off: it is not computed and not reported.
        self._weights = MappingProxyType(
            {alpha: float(weight) for alpha, weight in weights.items() if weight != 0}
        )
        if not self._weights and self.needs_weights:
            raise ValueError(f"{self.name}: every alpha weight is 0")

    @property
    def target_regimes(self) -> frozenset[str]:
        """The regimes in which the orchestrator counts this agent's signal."""
        return self.regimes

    @property
    def alpha_weights(self) -> Mapping[str, float]:
        """Alpha name -> weight (zero weights left out)."""
        return self._weights

    @property
    @abstractmethod
    def warmup_bars(self) -> int:
        """Bars of ``context.bars`` needed before the first signal."""

    @abstractmethod
    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        """Each weighted alpha's score at the last bar (keys: the ``alpha_weights`` names)."""

    def evaluate(self, context: AgentContext) -> Signal | None:
        """The agent's signal at ``context.bar`` (see the class docstring)."""
        if len(context.bars) < self.warmup_bars:
            return None
        scores = self.scores(series_of(context.bars), context)
        combination = breakdown(scores, self._weights)
        if combination.score is None:
            return None
        return Signal(
            agent=self.name,
            symbol=context.bar.symbol,
            timestamp=context.bar.close_time,
            score=combination.score,
            confidence=combination.coverage,
            reason=combination.describe(),
            features=scores,
        )

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        """No objection unless a subclass says otherwise."""
        return NO_OBJECTION

    def weighted(self, alpha: str) -> bool:
        """Whether ``alpha`` is switched on (a non-zero weight)."""
        return alpha in self._weights

    def direction(self, scores: Mapping[str, float | None]) -> float | None:
        """The combined score of the directional alphas in ``scores`` (their own weights)."""
        weights = {alpha: self._weights[alpha] for alpha in scores}
        return breakdown(scores, weights).score
