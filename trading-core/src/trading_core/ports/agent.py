"""Agents: loaded by name from the ``trading_core.agents`` entry point group (like strategies).

trading-core never imports the agents package; agents import this port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Protocol

from trading_core.domain.errors import ConfigurationError
from trading_core.domain.market import Bar
from trading_core.domain.signal import Signal

AGENT_ENTRY_POINT_GROUP = "trading_core.agents"


@dataclass(frozen=True, slots=True)
class AgentContext:
    """What an agent sees at the close of one bar: nothing after it."""

    bar: Bar
    closes: Sequence[float]
    indicators: Mapping[str, float | None]
    position_quantity: Decimal
    bars: Sequence[Bar] = ()
    """Recent bars of the symbol, oldest first, ending with ``bar`` (may be shorter than
    ``closes``: it holds what the orchestrator keeps for the regime and the alphas)."""
    regime: str | None = None
    """The market regime of this bar (``trading_core.marketdata.regime.MarketRegime`` value),
    None when too little history has been seen to classify it."""


@dataclass(frozen=True, slots=True)
class FilterVerdict:
    """A trade filter's say on an entry: let it through, shrink it, or veto it."""

    size_multiplier: float = 1.0
    """1.0 lets the size through, 0.5 halves it, 0.0 vetoes the entry."""
    reason: str = ""


class Agent(Protocol):
    name: str

    @property
    def warmup_bars(self) -> int:
        """Bars of history needed before the first signal."""
        ...

    def evaluate(self, context: AgentContext) -> Signal | None:
        """The agent's signal for this bar, or None while it has no view (warming up)."""
        ...


class TradingAgent(Agent, Protocol):
    """An agent of the committee: active in some regimes, built from weighted alphas.

    ``evaluate`` returns the agent's signal (score in [-1, 1] from its weighted alphas) or None
    while it has no view; an agent that waits for a model (sentiment) returns None rather than a
    made-up signal. ``trade_filter`` may shrink or veto an entry the committee wants to take.
    """

    @property
    def target_regimes(self) -> frozenset[str]:
        """The regimes (``MarketRegime`` values) in which this agent's signal counts."""
        ...

    @property
    def alpha_weights(self) -> Mapping[str, float]:
        """Alpha name -> weight; the agent's score is sum(alpha_i * w_i) / sum(|w_i|)."""
        ...

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        """Its say on an entry with the committee's ``signal`` (1.0: no objection)."""
        ...


class AgentFactory(Protocol):
    def __call__(self, **parameters: int | float | str) -> Agent: ...


def available_agents() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=AGENT_ENTRY_POINT_GROUP))


def load_agent(name: str, parameters: Mapping[str, int | float | str] | None = None) -> Agent:
    """Instantiate the agent registered as ``name``; unknown names raise ConfigurationError."""
    matches = [ep for ep in entry_points(group=AGENT_ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available_agents()) or "none installed"
        raise ConfigurationError(f"unknown agent {name!r} (available: {known})")
    factory: AgentFactory = matches[0].load()
    try:
        return factory(**dict(parameters or {}))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"agent {name!r}: bad parameters: {exc}") from exc
