"""The committee: regime gating, the weighted combination, filters, and readable reasoning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.signal import Signal
from trading_core.orchestrator.agent_setup import build_agent
from trading_core.orchestrator.committee import Committee
from trading_core.orchestrator.rules import decide
from trading_core.ports.agent import AgentContext, FilterVerdict
from trading_core.settings import AgentSettings

BAR = Bar(
    symbol="BTC/USD",
    timeframe=Timeframe.H1,
    timestamp=datetime(2024, 1, 1, tzinfo=UTC),
    open=Decimal(100),
    high=Decimal(101),
    low=Decimal(99),
    close=Decimal(100),
    volume=Decimal(10),
)


def context(regime: str | None) -> AgentContext:
    return AgentContext(
        bar=BAR, closes=(100.0,), indicators={}, position_quantity=Decimal(0), regime=regime
    )


@dataclass
class Fixed:
    """An agent that always says the same thing (a real implementation of the port)."""

    name: str
    score: float | None
    regimes: frozenset[str] = frozenset({"ranging", "trending_up", "trending_down"})
    multiplier: float = 1.0
    confidence: float = 1.0
    weights: Mapping[str, float] = field(default_factory=lambda: {"alpha": 1.0})

    @property
    def warmup_bars(self) -> int:
        return 5

    @property
    def target_regimes(self) -> frozenset[str]:
        return self.regimes

    @property
    def alpha_weights(self) -> Mapping[str, float]:
        return self.weights

    def evaluate(self, context: AgentContext) -> Signal | None:
        if self.score is None:
            return None
        return Signal(
            agent=self.name,
            symbol=context.bar.symbol,
            timestamp=context.bar.close_time,
            score=self.score,
            confidence=self.confidence,
            reason=f"{self.name} says {self.score:+.2f}",
        )

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        return FilterVerdict(self.multiplier, f"{self.name} filter")


def test_the_score_is_the_weighted_mean_over_active_agents_with_a_view() -> None:
    committee = Committee(
        [
            Fixed("trend", 0.9, frozenset({"trending_up"})),
            Fixed("revert", 0.3),
            Fixed("breakout", -0.6),
            Fixed("sentiment", None),
        ],
        {"revert": 2.0, "breakout": 1.0, "trend": 5.0},
    )
    signal = committee.evaluate(context("ranging"))
    assert signal is not None
    # trend is inactive in ranging; sentiment has no view: (0.3*2 - 0.6*1) / (2 + 1)
    assert signal.score == pytest.approx((0.3 * 2 - 0.6 * 1) / 3)
    assert signal.features == {"revert": 0.3, "breakout": -0.6, "sentiment": None}
    assert "regime ranging" in signal.reason
    assert "inactive in ranging: trend" in signal.reason
    assert "no view: sentiment" in signal.reason


def test_the_same_agents_in_a_trend_count_the_trend_agent() -> None:
    committee = Committee([Fixed("trend", 0.9, frozenset({"trending_up"})), Fixed("revert", 0.3)])
    signal = committee.evaluate(context("trending_up"))
    assert signal is not None
    assert signal.score == pytest.approx((0.9 + 0.3) / 2)


def test_no_regime_yet_means_no_view() -> None:
    assert Committee([Fixed("revert", 0.3)]).evaluate(context(None)) is None


def test_nobody_with_a_view_gives_a_zero_score_that_never_trades() -> None:
    signal = Committee([Fixed("sentiment", None)]).evaluate(context("ranging"))
    assert signal is not None
    assert signal.score == 0.0
    verdict = decide(signal, position_quantity=Decimal(0), bars_seen=10, warmup_bars=5)
    assert verdict.decision_type == "skip"


def test_the_smallest_filter_multiplier_wins_and_zero_vetoes() -> None:
    shrink = Committee([Fixed("a", 0.5, multiplier=0.5), Fixed("b", 0.5, multiplier=0.8)])
    signal = shrink.evaluate(context("ranging"))
    assert signal is not None
    verdict = shrink.trade_filter(signal, context("ranging"))
    assert verdict.size_multiplier == 0.5
    assert verdict.reason.startswith("a:")
    veto = Committee([Fixed("a", 0.5, multiplier=0.5), Fixed("vol", 0.0, multiplier=0.0)])
    assert veto.trade_filter(signal, context("ranging")).size_multiplier == 0.0


def test_thresholds_decide_with_the_committee_reasoning() -> None:
    signal = Committee([Fixed("revert", 0.35)]).evaluate(context("ranging"))
    assert signal is not None
    entry = decide(
        signal, position_quantity=Decimal(0), bars_seen=9, warmup_bars=5, entry_threshold=0.3
    )
    skip = decide(signal, position_quantity=Decimal(0), bars_seen=9, warmup_bars=5)
    assert entry.decision_type == "entry"
    assert skip.decision_type == "skip"
    assert "below entry 0.5" in skip.reasoning
    assert "revert +0.35" in skip.reasoning


@pytest.mark.parametrize(
    ("agents", "weights", "problem"),
    [
        ([], {}, "at least one agent"),
        ([Fixed("a", 0.1), Fixed("a", 0.2)], {}, "named twice"),
        ([Fixed("a", 0.1)], {"b": 1.0}, "not in the committee"),
        ([Fixed("a", 0.1)], {"a": -1.0}, "must not be negative"),
    ],
)
def test_bad_committees_are_refused(
    agents: list[Fixed], weights: dict[str, float], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Committee(agents, weights)


def test_an_unknown_member_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no_such_agent"):
        build_agent(AgentSettings(committee=["ma_cross", "no_such_agent"]))


def test_a_committee_of_installed_agents_loads_from_settings() -> None:
    agent = build_agent(AgentSettings(committee=["ma_cross"], weights={"ma_cross": 2.0}))
    assert isinstance(agent, Committee)
    assert [(m.agent.name, m.weight) for m in agent.members] == [("ma_cross", 2.0)]
