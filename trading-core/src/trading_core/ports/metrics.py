"""What the core reports to monitoring; ``adapters.metrics.Metrics`` implements it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from trading_core.domain.state import TradingState


class MetricsSink(Protocol):
    def record_decision(self, decision_type: str) -> None: ...

    def record_order(self, status: str) -> None: ...

    def record_fill(self) -> None: ...

    def record_risk_rejection(self, code: str) -> None: ...

    def record_bar(self, symbol: str) -> None: ...

    def set_data_feed_last_update(self, symbol: str, at: datetime) -> None: ...

    def set_equity(self, value: Decimal) -> None: ...

    def set_cash(self, value: Decimal) -> None: ...

    def set_drawdown_ratio(self, value: Decimal) -> None: ...

    def set_daily_pnl_ratio(self, value: Decimal) -> None: ...

    def set_broker_connected(self, broker: str, connected: bool) -> None: ...

    def observe_order_latency(self, broker: str, seconds: float) -> None: ...

    def set_trading_state(self, state: TradingState) -> None: ...


class NullMetrics:
    """Used when nothing collects metrics: reporting is optional, trading is not."""

    def record_decision(self, decision_type: str) -> None:
        return None

    def record_order(self, status: str) -> None:
        return None

    def record_fill(self) -> None:
        return None

    def record_risk_rejection(self, code: str) -> None:
        return None

    def record_bar(self, symbol: str) -> None:
        return None

    def set_data_feed_last_update(self, symbol: str, at: datetime) -> None:
        return None

    def set_equity(self, value: Decimal) -> None:
        return None

    def set_cash(self, value: Decimal) -> None:
        return None

    def set_drawdown_ratio(self, value: Decimal) -> None:
        return None

    def set_daily_pnl_ratio(self, value: Decimal) -> None:
        return None

    def set_broker_connected(self, broker: str, connected: bool) -> None:
        return None

    def observe_order_latency(self, broker: str, seconds: float) -> None:
        return None

    def set_trading_state(self, state: TradingState) -> None:
        return None
