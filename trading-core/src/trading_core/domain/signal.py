"""Signals from agents and the decisions the orchestrator takes on them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from trading_core.domain.base import Frozen, UtcDatetime


class Signal(Frozen):
    """An agent's view of one symbol at one bar: score in [-1, 1] (sell..buy), confidence [0, 1]."""

    agent: str
    symbol: str
    timestamp: UtcDatetime
    score: float = Field(ge=-1.0, le=1.0)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    reason: str = ""
    features: dict[str, float | None] = Field(default_factory=dict)


class DecisionType(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    HOLD = "hold"
    SKIP = "skip"
    REJECTED = "rejected"
    APPROVAL = "approval"
    RECONCILIATION = "reconciliation"
    ASSISTANT = "assistant"
    """One model turn of the LLM-agent host: what it was asked, what it called, what it said."""
    STATE_CHANGE = "state_change"
    """A trading-state transition of the shared account (pause, kill switch, breaker, resume)."""
    LIMIT_CHANGE = "limit_change"
    """A run-time risk-limit change."""
    CANCEL = "cancel"
    """A cancel a principal asked for (a tool, the kill switch, a stopped run)."""
    FLATTEN = "flatten"
    """One kill-switch flatten order."""
    APPROVAL_OUTCOME = "approval_outcome"
    """How an approval ended: executed, refused, failed, rejected or expired."""


class Decision(Frozen):
    """One row of ``audit.decisions``: what was decided, on which signals, and why."""

    timestamp: UtcDatetime
    decision_type: DecisionType
    symbol: str
    signals: list[dict[str, Any]] = Field(default_factory=list)
    risk_check: dict[str, Any] = Field(default_factory=dict)
    final_action: str
    reasoning: str
    order_id: str | None = None
    run_id: str | None = None
    principal: str = "trading-core"
    id: int | None = None
    recorded_at: UtcDatetime | None = None
