"""Trading states and system events."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from trading_core.domain.base import Frozen, UtcDatetime


class TradingState(StrEnum):
    """ACTIVE trades; REDUCING only shrinks positions; HALTED only cancels; KILLED is latched."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"
    KILLED = "KILLED"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class SystemEvent(Frozen):
    """One row of ``audit.system_events``."""

    timestamp: UtcDatetime
    event_type: str
    component: str
    severity: Severity = Severity.INFO
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    id: int | None = None


class Strategy(Frozen):
    """One row of ``config.strategies``: an agent configured by name."""

    strategy_id: str
    agent: str
    symbols: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
