"""Row: audit writes to PostgreSQL, decisions per second through ``store.record_decisions``.

Both sides write the same decisions, in batches of the pipeline's flush size, into tables of the
same shape (the baseline's is ``LIKE audit.decisions INCLUDING ALL``: same columns, identity,
indexes) in a fresh database created for the run and dropped afterwards. Batches alternate
between the two sides so both tables grow alike.

The baseline is raw asyncpg ``copy_records_to_table`` of ready-made tuples on one connection:
the floor. Our side starts from ``Decision`` models, so it also pays for turning them into rows;
a diagnostic (raw COPY that builds the tuples by hand inside the timing) splits the two costs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from benchmarks import inputs
from benchmarks.environment import versions
from benchmarks.harness import (
    Measurement,
    Progress,
    RowResult,
    is_poor,
    share_of_gap,
    time_round_robin_async,
)
from benchmarks.profiling import profile_async
from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import StorageUnavailableError
from trading_core.domain.signal import Decision
from trading_core.orchestrator.pipeline import DECISION_FLUSH_ROWS
from trading_core.storage.factory import open_store
from trading_core.storage.sql_store import DECISION_COLUMNS

KEY = "audit_writes"
TITLE = "audit writes to PostgreSQL"
ADMIN_URL = os.environ.get(
    "TRADING_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BATCH = DECISION_FLUSH_ROWS
N = 30
WARMUP = 3
PROFILE_BATCHES = 10
CONNECT_TIMEOUT_S = 5.0
FLOOR_TABLE = "decisions"
FLOOR_SCHEMA = "bench_floor"


def run(progress: Progress) -> RowResult:
    row = RowResult(
        key=KEY,
        path=TITLE,
        sample="batch",
        kind="throughput",
        unit="decisions/s",
        versions=versions("trading-core", "asyncpg", "pydantic"),
    )
    return asyncio.run(_run(row, progress))


async def _run(row: RowResult, progress: Progress) -> RowResult:
    try:
        admin = await asyncpg.connect(ADMIN_URL, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc) or type(exc).__name__
        row.status, row.reason = (
            "skipped",
            f"PostgreSQL unreachable at {_where(ADMIN_URL)}: {reason}",
        )
        return row
    database = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        row.versions["PostgreSQL server"] = str(await admin.fetchval("SHOW server_version"))
        await admin.execute(f'CREATE DATABASE "{database}"')
        progress(f"created temporary database {database}")
        try:
            await _measure(row, progress, _with_database(ADMIN_URL, database))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            progress(f"dropped {database}")
    finally:
        await admin.close()
    return row


async def _measure(row: RowResult, progress: Progress, url: str) -> None:
    try:
        store = await open_store(url, clock=SystemClock())
    except StorageUnavailableError as exc:
        row.status, row.reason = "skipped", str(exc)
        return
    floor = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    try:
        await store.upgrade()
        await floor.execute(f"CREATE SCHEMA {FLOOR_SCHEMA}")
        await floor.execute(
            f"CREATE TABLE {FLOOR_SCHEMA}.{FLOOR_TABLE} (LIKE audit.decisions INCLUDING ALL)"
        )
        decisions = inputs.decisions()
        stamped = SystemClock().now()
        batches = [_batch(decisions, i) for i in range(WARMUP + N)]
        rows = [[_floor_row(d, stamped) for d in batch] for batch in batches]

        async def ours(i: int) -> None:
            await store.record_decisions(batches[i])

        async def baseline(i: int) -> None:
            await _copy(floor, rows[i])

        async def by_hand(i: int) -> None:
            at = SystemClock().now()
            await _copy(floor, [_floor_row(d, at) for d in batches[i]])

        progress(
            f"{WARMUP} warm-up + {N} batches of {BATCH} decisions, ours / floor / diagnostic "
            "taking turns"
        )
        gc.collect()
        ours_ns, base_ns, hand_ns = await time_round_robin_async(
            (ours, baseline, by_hand), n=N, warmup=WARMUP
        )
        row.ours = Measurement.from_ns("store.record_decisions(batch)", ours_ns, BATCH, WARMUP)
        row.baseline = Measurement.from_ns(
            "connection.copy_records_to_table(ready tuples)", base_ns, BATCH, WARMUP
        )
        by_hand_side = Measurement.from_ns("raw COPY building its rows", hand_ns, BATCH, WARMUP)
        row.notes.append(
            f"Same {BATCH}-row batches (the pipeline's flush size) on every side, from the real "
            "ETH/BTC bars; 1 in 20 rows carries a risk check. Ours goes through the pool, a "
            "transaction, the row codec and the JSONB codec; the floor is one connection in "
            "autocommit."
        )
        row.notes.append(_diagnostic_note(row, by_hand_side))
        if is_poor(row.ratio):
            progress("profiling our side")
            extra = [_batch(decisions, i) for i in range(PROFILE_BATCHES)]

            async def work() -> None:
                for batch in extra:
                    await store.record_decisions(batch)

            row.profile = (await profile_async(work)).lines()
    finally:
        await floor.close()
        await store.close()


def _diagnostic_note(row: RowResult, by_hand: Measurement) -> str:
    """How much of our gap to the floor is merely building rows from Decision models."""
    row.diagnostics["raw_copy_building_rows_decisions_per_s"] = by_hand.units_per_second
    text = (
        f"Diagnostic, timed in turn with the two sides: raw COPY that builds its tuples from the "
        f"same Decision models inside the timing (attribute reads + json.dumps) runs at "
        f"{by_hand.units_per_second:,.0f} decisions/s."
    )
    if row.ours is None or row.baseline is None:
        return text
    share = share_of_gap(
        row.ours.seconds_per_unit, row.baseline.seconds_per_unit, by_hand.seconds_per_unit
    )
    if share is None:
        return text
    row.diagnostics["gap_share_row_building"] = share
    return (
        f"{text} Building rows by hand accounts for {share:.0%} of our gap to the floor; the "
        f"other {1 - share:.0%} is our store's own path (model_dump, json_safe, the row codec, "
        f"pool and transaction)."
    )


async def _copy(connection: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    await connection.copy_records_to_table(
        FLOOR_TABLE, schema_name=FLOOR_SCHEMA, columns=list(DECISION_COLUMNS), records=rows
    )


def _batch(decisions: list[Decision], index: int) -> list[Decision]:
    start = (index * BATCH) % (len(decisions) - BATCH)
    return decisions[start : start + BATCH]


def _floor_row(decision: Decision, recorded_at: datetime) -> tuple[Any, ...]:
    """The row a hand-written writer would send: JSON as text (asyncpg's default jsonb codec)."""
    values = {
        "timestamp": decision.timestamp,
        "decision_type": decision.decision_type.value,
        "symbol": decision.symbol,
        "signals": json.dumps(decision.signals),
        "risk_check": json.dumps(decision.risk_check),
        "final_action": decision.final_action,
        "reasoning": decision.reasoning,
        "order_id": decision.order_id,
        "run_id": decision.run_id,
        "principal": decision.principal,
        "recorded_at": decision.recorded_at or recorded_at,
    }
    return tuple(values[name] for name in DECISION_COLUMNS)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
