"""The ``Store`` contract written once over :class:`SqlSession`; backends supply the sessions.

Ordering rules shared by every list method: ``limit`` keeps the most recent rows, and the result is
then ordered as the method documents (oldest first for bars, fills and decisions; newest first for
orders and events). Time ranges are inclusive at both ends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from trading_core.adapters.clock import SystemClock
from trading_core.domain.approval import Approval, ApprovalStatus
from trading_core.domain.errors import DuplicateOrderError
from trading_core.domain.features import FeatureSet
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.order import PAPER_ACCOUNT, Order, OrderStatus
from trading_core.domain.position import Position
from trading_core.domain.signal import Decision
from trading_core.domain.state import Strategy, SystemEvent
from trading_core.ports.clock import Clock
from trading_core.storage import migrations
from trading_core.storage.rows import RowCodec
from trading_core.storage.schema import (
    APPROVALS,
    DECISIONS,
    FEATURE_CATALOG,
    INDICATORS,
    OHLCV,
    ORDERS,
    POSITIONS,
    RISK_LIMITS,
    STATE,
    STRATEGIES,
    SYSTEM_EVENTS,
    TRADES,
    Dialect,
    Table,
)
from trading_core.storage.session import SqlSession, UniqueViolation
from trading_core.storage.statements import (
    Select,
    guarded_update_sql,
    insert_sql,
    insertable_columns,
    upsert_sql,
)

DECISION_COLUMNS = insertable_columns(DECISIONS)
BAR_KEY = ("symbol", "timeframe", "timestamp")


class SqlStore(ABC):
    """Implements :class:`trading_core.ports.store.Store`; subclasses own the connections."""

    dialect: Dialect

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self._url = url
        self._clock: Clock = clock or SystemClock()
        self._codec = RowCodec(self.dialect)

    @property
    def url(self) -> str:
        """Where the data lives, with any password masked (safe to print)."""
        return self._url

    @abstractmethod
    def _session(self) -> AbstractAsyncContextManager[SqlSession]:
        """A connection for one call (SQLite: the connection, held exclusively)."""

    @abstractmethod
    def _migration_session(self) -> AbstractAsyncContextManager[SqlSession]:
        """A session holding whatever lock keeps two processes from migrating at once."""

    @abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # schema
    async def upgrade(self, *, target: int | None = None) -> list[int]:
        """Apply pending migrations (up to ``target``, default all); return the versions applied.

        Empty when up to date. ``target`` exists so a database can be brought to the shape an
        older release left it in (how the upgrade path itself is tested).
        """
        async with self._migration_session() as session:
            return await migrations.upgrade(session, now=self._clock.now, target=target)

    async def schema_version(self) -> int:
        async with self._session() as session:
            return await migrations.current_version(session)

    # market_data
    async def upsert_bars(self, bars: Sequence[Bar]) -> int:
        """Insert or replace bars by (symbol, timeframe, timestamp); returns rows written."""
        # The last bar for a key wins (one statement may not update the same row twice).
        latest = {(b.symbol, b.timeframe, b.timestamp): b for b in bars}
        rows = [self._codec.encode_model(OHLCV, bar) for bar in latest.values()]
        if rows:
            async with self._session() as session, session.transaction():
                await self._write_bar_rows(session, rows)
        return len(rows)

    async def _write_bar_rows(self, session: SqlSession, rows: list[tuple[Any, ...]]) -> None:
        await session.executemany(upsert_sql(OHLCV, self._codec), rows)

    async def get_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """Bars with ``start <= timestamp <= end``, oldest first; ``limit`` keeps the newest."""
        query = Select(OHLCV, self._codec).where("symbol", "=", symbol)
        query.where("timeframe", "=", timeframe).where("timestamp", ">=", start)
        query.where("timestamp", "<=", end)
        sql = query.sql(order_by=[("timestamp", True)], limit=limit)
        rows = await self._fetch(sql, query.params)
        return [self._codec.decode_model(Bar, OHLCV, row) for row in reversed(rows)]

    async def upsert_indicators(
        self,
        symbol: str,
        timeframe: Timeframe,
        timestamp: datetime,
        values: Mapping[str, float | None],
    ) -> None:
        """Store indicator values for one bar (non-finite floats are stored as None)."""
        row = {"symbol": symbol, "timeframe": timeframe, "timestamp": timestamp, "values": values}
        await self._write(upsert_sql(INDICATORS, self._codec), INDICATORS, row)

    async def get_indicators(
        self, symbol: str, timeframe: Timeframe, timestamp: datetime
    ) -> dict[str, float | None]:
        """Values stored for that bar; empty when none were stored."""
        query = Select(INDICATORS, self._codec).where("symbol", "=", symbol)
        query.where("timeframe", "=", timeframe).where("timestamp", "=", timestamp)
        rows = await self._fetch(query.sql(order_by=[]), query.params)
        if not rows:
            return {}
        values: dict[str, float | None] = self._codec.decode_row(INDICATORS, rows[0])["values"]
        return values

    # trading
    async def save_order(self, order: Order) -> None:
        """Insert or update by order_id; DuplicateOrderError if another order has its client id."""
        sql = upsert_sql(ORDERS, self._codec)
        try:
            async with self._session() as session:
                await session.execute(sql, *self._codec.encode_model(ORDERS, order))
        except UniqueViolation:
            holder = await self.get_order_by_client_id(order.client_order_id)
            owner = holder.order_id if holder is not None else "another order"
            raise DuplicateOrderError(
                f"client_order_id {order.client_order_id!r} already belongs to order {owner}; "
                f"order {order.order_id} was not saved"
            ) from None

    async def get_order(self, order_id: str) -> Order | None:
        return await self._get_one_order("order_id", order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        return await self._get_one_order("client_order_id", client_order_id)

    async def _get_one_order(self, column: str, value: str) -> Order | None:
        query = Select(ORDERS, self._codec).where(column, "=", value)
        rows = await self._fetch(query.sql(order_by=[]), query.params)
        return self._codec.decode_model(Order, ORDERS, rows[0]) if rows else None

    async def list_orders(
        self,
        *,
        status: Sequence[OrderStatus] | None = None,
        symbol: str | None = None,
        limit: int | None = None,
        account: str | None = None,
    ) -> list[Order]:
        """Newest first (by created_at); ``account`` keeps one book's orders (None: all)."""
        query = Select(ORDERS, self._codec).where_in("status", status)
        query.where("symbol", "=", symbol).where("account", "=", account)
        sql = query.sql(order_by=[("created_at", True), ("order_id", True)], limit=limit)
        rows = await self._fetch(sql, query.params)
        return [self._codec.decode_model(Order, ORDERS, row) for row in rows]

    async def save_fill(self, fill: Fill) -> bool:
        """Record a fill; False (and nothing written) when its fill_id was already recorded."""
        sql = insert_sql(TRADES, self._codec, on_conflict=("fill_id",), returning=("fill_id",))
        async with self._session() as session:
            inserted = await session.fetch(sql, *self._codec.encode_model(TRADES, fill))
        return bool(inserted)

    async def book_fill(
        self, fill: Fill, position: Position, *, account: str = PAPER_ACCOUNT
    ) -> bool:
        """Fill and position in one transaction; False (nothing written) for a known fill."""
        insert = insert_sql(TRADES, self._codec, on_conflict=("fill_id",), returning=("fill_id",))
        row = {**position.model_dump(), "account": account}
        async with self._session() as session, session.transaction():
            inserted = await session.fetch(insert, *self._codec.encode_model(TRADES, fill))
            if inserted:
                await session.execute(
                    upsert_sql(POSITIONS, self._codec),
                    *self._codec.encode_row(POSITIONS, row, POSITIONS.column_names),
                )
        return bool(inserted)

    async def list_fills(
        self,
        *,
        symbol: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        account: str | None = None,
    ) -> list[Fill]:
        """Oldest first; ``since`` is inclusive; ``limit`` keeps the most recent."""
        query = Select(TRADES, self._codec).where("symbol", "=", symbol)
        query.where("account", "=", account)
        query.where("timestamp", ">=", since)
        order_by = [("timestamp", True), ("fill_id", True)]
        rows = await self._fetch(query.sql(order_by=order_by, limit=limit), query.params)
        return [self._codec.decode_model(Fill, TRADES, row) for row in reversed(rows)]

    async def save_position(self, position: Position, *, account: str = PAPER_ACCOUNT) -> None:
        row = {**position.model_dump(), "account": account}
        await self._write(upsert_sql(POSITIONS, self._codec), POSITIONS, row)

    async def list_positions(self, *, account: str = PAPER_ACCOUNT) -> list[Position]:
        """Every stored position of ``account`` (flat ones included), by symbol."""
        query = Select(POSITIONS, self._codec).where("account", "=", account)
        rows = await self._fetch(query.sql(order_by=[("symbol", False)]), query.params)
        return [
            Position.model_validate(
                {k: v for k, v in self._codec.decode_row(POSITIONS, row).items() if k != "account"}
            )
            for row in rows
        ]

    # approvals
    async def save_approval(self, approval: Approval) -> None:
        """Insert or update by approval_id (unconditionally: use transition_approval to decide)."""
        async with self._session() as session:
            await session.execute(
                upsert_sql(APPROVALS, self._codec), *self._codec.encode_model(APPROVALS, approval)
            )

    async def get_approval(self, approval_id: str) -> Approval | None:
        query = Select(APPROVALS, self._codec).where("approval_id", "=", approval_id)
        rows = await self._fetch(query.sql(order_by=[]), query.params)
        return self._codec.decode_model(Approval, APPROVALS, rows[0]) if rows else None

    async def list_approvals(
        self, *, status: Sequence[ApprovalStatus] | None = None, limit: int | None = None
    ) -> list[Approval]:
        """Newest first (by created_at, then approval_id)."""
        query = Select(APPROVALS, self._codec).where_in("status", status)
        order_by = [("created_at", True), ("approval_id", True)]
        rows = await self._fetch(query.sql(order_by=order_by, limit=limit), query.params)
        return [self._codec.decode_model(Approval, APPROVALS, row) for row in rows]

    async def transition_approval(self, approval: Approval, *, expected: ApprovalStatus) -> bool:
        """Write ``approval`` only if the stored row's status is still ``expected``.

        True when written. One ``UPDATE ... WHERE status = expected``: however many processes
        race on one database, exactly one moves a row out of ``expected``.
        """
        sql = guarded_update_sql(
            APPROVALS, self._codec, guard=("status",), returning=("approval_id",)
        )
        params = self._codec.encode_model(APPROVALS, approval)
        params += (self._codec.encode(APPROVALS.column("status").type, expected),)
        async with self._session() as session:
            written = await session.fetch(sql, *params)
        return bool(written)

    # features
    async def save_feature_set(self, feature_set: FeatureSet) -> None:
        await self._write(
            upsert_sql(FEATURE_CATALOG, self._codec), FEATURE_CATALOG, feature_set.model_dump()
        )

    async def list_feature_sets(self) -> list[FeatureSet]:
        query = Select(FEATURE_CATALOG, self._codec)
        order = [("name", False), ("version", False)]
        rows = await self._fetch(query.sql(order_by=order), query.params)
        return [self._codec.decode_model(FeatureSet, FEATURE_CATALOG, row) for row in rows]

    # config
    async def save_strategy(self, strategy: Strategy) -> None:
        await self._write(upsert_sql(STRATEGIES, self._codec), STRATEGIES, strategy.model_dump())

    async def list_strategies(self) -> list[Strategy]:
        query = Select(STRATEGIES, self._codec)
        rows = await self._fetch(query.sql(order_by=[("strategy_id", False)]), query.params)
        return [self._codec.decode_model(Strategy, STRATEGIES, row) for row in rows]

    async def set_risk_limit(self, key: str, value: Decimal, *, updated_by: str) -> None:
        row = {"key": key, "value": value, "updated_by": updated_by, "updated_at": self._now()}
        await self._write(upsert_sql(RISK_LIMITS, self._codec), RISK_LIMITS, row)

    async def get_risk_limits(self) -> dict[str, Decimal]:
        query = Select(RISK_LIMITS, self._codec)
        rows = await self._fetch(query.sql(order_by=[("key", False)]), query.params)
        decoded = [self._codec.decode_row(RISK_LIMITS, row) for row in rows]
        return {row["key"]: row["value"] for row in decoded}

    # audit
    async def record_decisions(self, decisions: Sequence[Decision]) -> int:
        """Append decisions in one transaction; ``recorded_at`` defaults to the clock's now."""
        if not decisions:
            return 0
        now = self._now()
        rows = [self._decision_row(decision, now) for decision in decisions]
        async with self._session() as session, session.transaction():
            await self._write_decision_rows(session, rows)
        return len(rows)

    def _decision_row(self, decision: Decision, now: datetime) -> tuple[Any, ...]:
        # The fields as they are (a frozen, validated model): model_dump() would deep-copy the
        # signals and risk check only for the encoder to walk them again.
        values = {name: getattr(decision, name) for name in DECISION_COLUMNS}
        values["recorded_at"] = decision.recorded_at or now
        return self._codec.encode_row(DECISIONS, values, DECISION_COLUMNS)

    async def _write_decision_rows(self, session: SqlSession, rows: list[tuple[Any, ...]]) -> None:
        sql = insert_sql(DECISIONS, self._codec, columns=DECISION_COLUMNS)
        await session.executemany(sql, rows)

    async def list_decisions(
        self,
        *,
        symbol: str | None = None,
        since: datetime | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[Decision]:
        """Oldest first (by id); ``since`` is inclusive; ``limit`` keeps the most recent."""
        query = Select(DECISIONS, self._codec).where("symbol", "=", symbol)
        query.where("timestamp", ">=", since).where("run_id", "=", run_id)
        rows = await self._fetch(query.sql(order_by=[("id", True)], limit=limit), query.params)
        return [self._codec.decode_model(Decision, DECISIONS, row) for row in reversed(rows)]

    async def count_decisions(self, *, run_id: str | None = None) -> int:
        query = Select(DECISIONS, self._codec).where("run_id", "=", run_id)
        rows = await self._fetch(query.count_sql(), query.params)
        return int(rows[0]["n"])

    async def record_event(self, event: SystemEvent) -> int:
        """Append a system event; returns its id."""
        columns = insertable_columns(SYSTEM_EVENTS)
        sql = insert_sql(SYSTEM_EVENTS, self._codec, returning=("id",))
        async with self._session() as session:
            rows = await session.fetch(
                sql, *self._codec.encode_model(SYSTEM_EVENTS, event, columns)
            )
        return int(rows[0]["id"])

    async def list_events(
        self, *, event_type: str | None = None, limit: int | None = None
    ) -> list[SystemEvent]:
        """Newest first (by id)."""
        query = Select(SYSTEM_EVENTS, self._codec).where("event_type", "=", event_type)
        rows = await self._fetch(query.sql(order_by=[("id", True)], limit=limit), query.params)
        return [self._codec.decode_model(SystemEvent, SYSTEM_EVENTS, row) for row in rows]

    # small durable key/value state
    async def put_state(self, key: str, value: Mapping[str, Any]) -> None:
        row = {"key": key, "value": value, "updated_at": self._now()}
        await self._write(upsert_sql(STATE, self._codec), STATE, row)

    async def get_state(self, key: str) -> dict[str, Any] | None:
        query = Select(STATE, self._codec).where("key", "=", key)
        rows = await self._fetch(query.sql(order_by=[]), query.params)
        if not rows:
            return None
        value: dict[str, Any] = self._codec.decode_row(STATE, rows[0])["value"]
        return value

    # helpers
    def _now(self) -> datetime:
        return self._clock.now()

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        async with self._session() as session:
            return await session.fetch(sql, *params)

    async def _write(self, sql: str, table: Table, values: Mapping[str, Any]) -> None:
        params = self._codec.encode_row(table, values, table.column_names)
        async with self._session() as session:
            await session.execute(sql, *params)
