"""Every committee agent replayed over real BTCUSD monthly bars, as the orchestrator feeds it."""

from __future__ import annotations

import pytest

from trading_agents.registry import COMMITTEE
from trading_core.domain.market import Bar
from trading_core.domain.signal import Signal

from .conftest import context_of

SILENT = {"volatility_filter", "sentiment_scout"}
"""Agents without a signal on bars alone (a guard, and one waiting for a sentiment model)."""


@pytest.mark.parametrize("name", sorted(COMMITTEE))
def test_agent_runs_over_real_bars_with_signals_in_range(name: str, btc_bars: list[Bar]) -> None:
    agent = COMMITTEE[name]()
    signals: list[Signal] = []

    for end in range(1, len(btc_bars) + 1):
        context = context_of(btc_bars[:end])
        signal = agent.evaluate(context)
        if signal is None:
            continue
        signals.append(signal)
        assert -1.0 <= signal.score <= 1.0
        assert signal.timestamp == btc_bars[end - 1].close_time
        assert end >= agent.warmup_bars
        verdict = agent.trade_filter(signal, context)
        assert 0.0 <= verdict.size_multiplier <= 1.0

    if name in SILENT:
        assert signals == []
    else:
        assert len(signals) > len(btc_bars) // 2
        assert any(signal.score > 0 for signal in signals)
        assert any(signal.score < 0 for signal in signals)


def test_volatility_filter_judges_every_real_bar(btc_bars: list[Bar]) -> None:
    agent = COMMITTEE["volatility_filter"]()
    verdicts = []
    for end in range(1, len(btc_bars) + 1):
        context = context_of(btc_bars[:end])
        probe = Signal(
            agent="committee", symbol="BTCUSD", timestamp=context.bar.close_time, score=0.5
        )
        verdicts.append(agent.trade_filter(probe, context).size_multiplier)

    assert set(verdicts) <= {0.0, 0.5, 1.0}
    assert 1.0 in verdicts
