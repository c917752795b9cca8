"""Alphas: pure functions of a symbol's recent bars (``BarSeries``) or of the indicators an
orchestrator passes, each returning a score in [-1, 1], or None when it has no view."""

from __future__ import annotations

from trading_agents.alphas.breakout import breakout
from trading_agents.alphas.liquidity import liquidity, money_flow
from trading_agents.alphas.mean_reversion import mean_reversion
from trading_agents.alphas.ml_confidence import ml_confidence
from trading_agents.alphas.momentum import momentum
from trading_agents.alphas.order_block import order_block
from trading_agents.alphas.sentiment import sentiment
from trading_agents.alphas.volatility import volatility

__all__ = [
    "breakout",
    "liquidity",
    "mean_reversion",
    "ml_confidence",
    "momentum",
    "money_flow",
    "order_block",
    "sentiment",
    "volatility",
]
