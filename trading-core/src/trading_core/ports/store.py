"""Storage port: PostgreSQL (asyncpg) and SQLite implement the same contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from trading_core.domain.approval import Approval, ApprovalStatus
from trading_core.domain.features import FeatureSet
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.order import PAPER_ACCOUNT, Order, OrderStatus
from trading_core.domain.position import Position
from trading_core.domain.signal import Decision
from trading_core.domain.state import Strategy, SystemEvent


class Store(Protocol):
    """The source of truth. Every write is durable when the awaited call returns."""

    @property
    def url(self) -> str:
        """Where the data lives, with any password masked (safe to print)."""
        ...

    async def close(self) -> None: ...

    # schema
    async def upgrade(self) -> list[int]:
        """Apply pending migrations; return the versions applied (empty when up to date)."""
        ...

    async def schema_version(self) -> int: ...

    # market_data
    async def upsert_bars(self, bars: Sequence[Bar]) -> int:
        """Insert or replace bars by (symbol, timeframe, timestamp); returns rows written."""
        ...

    async def get_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """Bars oldest first; with ``limit``, the most recent ``limit`` bars in range."""
        ...

    async def upsert_indicators(
        self,
        symbol: str,
        timeframe: Timeframe,
        timestamp: datetime,
        values: Mapping[str, float | None],
    ) -> None: ...

    async def get_indicators(
        self, symbol: str, timeframe: Timeframe, timestamp: datetime
    ) -> dict[str, float | None]: ...

    # trading
    async def save_order(self, order: Order) -> None:
        """Insert or update by order_id (client_order_id is unique)."""
        ...

    async def get_order(self, order_id: str) -> Order | None: ...

    async def get_order_by_client_id(self, client_order_id: str) -> Order | None: ...

    async def list_orders(
        self,
        *,
        status: Sequence[OrderStatus] | None = None,
        symbol: str | None = None,
        limit: int | None = None,
        account: str | None = None,
    ) -> list[Order]:
        """Newest first; ``account`` keeps one book's orders (None: every book)."""
        ...

    def order_gate(
        self, account: str, *, timeout: float = ...
    ) -> AbstractAsyncContextManager[None]:
        """Hold ``account``'s order gate for the block: one check-and-send at a time, across
        every process on this database (see :mod:`trading_core.storage.order_gate`).

        Raises ``OrderGateBusy`` (code ``ORDER_GATE_BUSY``) when not had within ``timeout``.
        """
        ...

    def process_lease(self, owner: str) -> AbstractAsyncContextManager[None]:
        """Hold ``owner``'s lease for the block: other processes see it alive until the block
        ends or the process dies, however it dies."""
        ...

    async def lease_alive(self, owner: str) -> bool:
        """Whether a process still holds ``owner``'s lease."""
        ...

    async def save_fill(self, fill: Fill) -> bool:
        """Record a fill; False (and nothing written) when its fill_id was already recorded."""
        ...

    async def book_fill(
        self, fill: Fill, position: Position, *, account: str = PAPER_ACCOUNT
    ) -> bool:
        """Record a fill and the position it leaves in one transaction (both or neither).

        False, and nothing written, when the fill_id was already recorded: a crash can never
        leave a fill stored without its position, or a position moved by an unstored fill.
        """
        ...

    async def list_fills(
        self,
        *,
        symbol: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        account: str | None = None,
    ) -> list[Fill]:
        """Oldest first; ``account`` keeps one book's fills (None: every book)."""
        ...

    async def save_position(self, position: Position, *, account: str = PAPER_ACCOUNT) -> None: ...

    async def list_positions(self, *, account: str = PAPER_ACCOUNT) -> list[Position]: ...

    # approvals (requests waiting for a person)
    async def save_approval(self, approval: Approval) -> None:
        """Insert or update by approval_id, whatever the stored status (for creating one)."""
        ...

    async def get_approval(self, approval_id: str) -> Approval | None: ...

    async def list_approvals(
        self, *, status: Sequence[ApprovalStatus] | None = None, limit: int | None = None
    ) -> list[Approval]:
        """Newest first (by created_at, then approval_id)."""
        ...

    async def transition_approval(self, approval: Approval, *, expected: ApprovalStatus) -> bool:
        """Compare-and-set: write ``approval`` only if the stored status is still ``expected``.

        Returns True when written. Atomic across processes sharing the database, which is what
        makes an approval single use: of two callers claiming one PENDING approval, one wins.
        """
        ...

    # features
    async def save_feature_set(self, feature_set: FeatureSet) -> None:
        """Add or replace the catalog row of ``feature_set`` (keyed by name and version)."""
        ...

    async def list_feature_sets(self) -> list[FeatureSet]:
        """Every catalogued feature set, by name then version."""
        ...

    # config
    async def save_strategy(self, strategy: Strategy) -> None: ...

    async def list_strategies(self) -> list[Strategy]: ...

    async def set_risk_limit(self, key: str, value: Decimal, *, updated_by: str) -> None: ...

    async def get_risk_limits(self) -> dict[str, Decimal]: ...

    # audit
    async def record_decisions(self, decisions: Sequence[Decision]) -> int:
        """Append decisions (bulk path: COPY on PostgreSQL); returns rows written."""
        ...

    async def list_decisions(
        self,
        *,
        symbol: str | None = None,
        since: datetime | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[Decision]:
        """Oldest first (by id)."""
        ...

    async def count_decisions(self, *, run_id: str | None = None) -> int: ...

    async def record_event(self, event: SystemEvent) -> int: ...

    async def list_events(
        self, *, event_type: str | None = None, limit: int | None = None
    ) -> list[SystemEvent]:
        """Newest first."""
        ...

    # small durable key/value state (trading state, breakers, kill switch latch)
    async def put_state(self, key: str, value: Mapping[str, Any]) -> None: ...

    async def get_state(self, key: str) -> dict[str, Any] | None: ...
