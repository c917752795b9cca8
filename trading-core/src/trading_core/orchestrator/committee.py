"""The committee: the agents active in the bar's regime, combined into one signal, then filtered.

score = sum(score_i * w_i) / sum(|w_i|) over the active agents that have a view (an agent that
returns None, warming up or waiting for its model, counts in neither sum). Every agent's trade
filter then has its say on an entry: the smallest size multiplier wins, and 0 vetoes.

The reasoning names the regime, who was active and what each said, so a person reading
``audit.decisions`` can see why ("regime ranging; mean_reversion +0.12 (w 1.0); inactive:
trend_hunter").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trading_core.domain.signal import Signal
from trading_core.ports.agent import Agent, AgentContext, FilterVerdict

COMMITTEE_NAME = "committee"


@dataclass(frozen=True, slots=True)
class Member:
    agent: Agent
    weight: float


def _regimes(agent: Agent) -> frozenset[str] | None:
    """The agent's target regimes, or None for a plain agent (active in every regime)."""
    regimes = getattr(agent, "target_regimes", None)
    return frozenset(regimes) if regimes is not None else None


class Committee:
    """An :class:`Agent` made of agents; see the module docstring."""

    name = COMMITTEE_NAME
    needs_history = True
    """The pipeline keeps recent bars and classifies the regime for this agent."""

    def __init__(self, agents: Sequence[Agent], weights: Mapping[str, float] | None = None) -> None:
        if not agents:
            raise ValueError("a committee needs at least one agent")
        names = [a.name for a in agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agents named twice in the committee: {names}")
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise ValueError(f"weights for agents not in the committee: {unknown}")
        self.members = tuple(Member(a, float(weights.get(a.name, 1.0))) for a in agents)
        for member in self.members:
            if member.weight < 0:
                raise ValueError(f"weight of {member.agent.name} must not be negative")

    @property
    def warmup_bars(self) -> int:
        return max(m.agent.warmup_bars for m in self.members)

    def evaluate(self, context: AgentContext) -> Signal | None:
        if context.regime is None:
            return None  # no regime yet: nobody can say whether they are active
        active, inactive = self._split(context.regime)
        said: list[tuple[Member, Signal]] = []
        silent: list[str] = []
        for member in active:
            signal = member.agent.evaluate(context)
            if signal is None:
                silent.append(member.agent.name)
            else:
                said.append((member, signal))
        parts = [f"regime {context.regime}"]
        parts += [f"{m.agent.name} {s.score:+.2f} (w {m.weight:g}: {s.reason})" for m, s in said]
        if silent:
            parts.append(f"no view: {', '.join(silent)}")
        if inactive:
            parts.append(f"inactive in {context.regime}: {', '.join(inactive)}")
        total_weight = sum(abs(m.weight) for m, _ in said)
        if total_weight == 0:
            score, confidence = 0.0, 0.0
        else:
            score = sum(s.score * m.weight for m, s in said) / total_weight
            confidence = sum(s.confidence * abs(m.weight) for m, s in said) / total_weight
        features: dict[str, float | None] = {m.agent.name: s.score for m, s in said}
        features.update({name: None for name in silent})
        return Signal(
            agent=self.name,
            symbol=context.bar.symbol,
            timestamp=context.bar.close_time,
            score=max(-1.0, min(1.0, score)),
            confidence=max(0.0, min(1.0, confidence)),
            reason="; ".join(parts),
            features=features,
        )

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        """Every member's filter on an entry; the smallest multiplier wins (0 vetoes)."""
        verdict = FilterVerdict()
        for member in self.members:
            agent_filter = getattr(member.agent, "trade_filter", None)
            if agent_filter is None:
                continue
            said: FilterVerdict = agent_filter(signal, context)
            if said.size_multiplier < verdict.size_multiplier:
                reason = f"{member.agent.name}: {said.reason or 'shrinks'}"
                verdict = FilterVerdict(max(0.0, said.size_multiplier), reason)
        return verdict

    def _split(self, regime: str) -> tuple[list[Member], list[str]]:
        active: list[Member] = []
        inactive: list[str] = []
        for member in self.members:
            regimes = _regimes(member.agent)
            if regimes is None or regime in regimes:
                active.append(member)
            else:
                inactive.append(member.agent.name)
        return active, inactive
