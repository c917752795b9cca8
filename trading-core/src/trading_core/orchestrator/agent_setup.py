"""The agent a run uses, from settings: one agent by name, or a committee of several."""

from __future__ import annotations

from trading_core.domain.errors import ConfigurationError
from trading_core.orchestrator.committee import Committee
from trading_core.ports.agent import Agent, load_agent
from trading_core.settings import AgentSettings


def build_agent(settings: AgentSettings) -> Agent:
    """Load ``settings.committee`` as a :class:`Committee`, else the single ``settings.name``."""
    if not settings.committee:
        agent = load_agent(settings.name, settings.parameters)
        if getattr(agent, "filter_only", False):
            raise ConfigurationError(
                f"{settings.name} only shrinks or vetoes other agents' entries and never "
                f"signals alone: run it in a committee (--agents trend_hunter,{settings.name})"
            )
        return agent
    members = [
        load_agent(name, settings.member_parameters.get(name, {})) for name in settings.committee
    ]
    try:
        return Committee(members, settings.weights)
    except ValueError as exc:
        raise ConfigurationError(f"agent committee: {exc}") from exc
