"""The agents this package provides, by the names they are loaded with.

``ENTRY_POINTS`` is what ``agents/pyproject.toml`` registers under ``trading_core.agents``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from trading_agents.breakout_hunter import BreakoutHunter
from trading_agents.liquidity_surfer import LiquiditySurfer
from trading_agents.mean_reversion import MeanReversion
from trading_agents.ml_direction import MlDirection
from trading_agents.sentiment_scout import SentimentScout
from trading_agents.trend_hunter import TrendHunter
from trading_agents.volatility_filter import VolatilityFilter
from trading_core.ports.agent import TradingAgent

COMMITTEE: Mapping[str, Callable[..., TradingAgent]] = MappingProxyType(
    {
        TrendHunter.name: TrendHunter,
        MeanReversion.name: MeanReversion,
        BreakoutHunter.name: BreakoutHunter,
        VolatilityFilter.name: VolatilityFilter,
        LiquiditySurfer.name: LiquiditySurfer,
        SentimentScout.name: SentimentScout,
        MlDirection.name: MlDirection,
    }
)
"""The committee agents (the six of the design card, and the signal model's): name -> class."""

ENTRY_POINTS: Mapping[str, str] = MappingProxyType(
    {name: f"{factory.__module__}:{factory.__qualname__}" for name, factory in COMMITTEE.items()}
)
"""Name -> ``module:Class`` as written in the entry point table."""
