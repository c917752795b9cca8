"""Row: the pre-trade risk check, µs per ``check_order`` against building the request alone.

The floor is constructing and validating the same ``OrderRequest`` from its fields: every check
needs at least that, so the ratio says how many "order validations" one full check costs. The
instrument, the exposure view and the limits are built once (as the order service holds them);
the request is one the checks approve, so every control runs to the end.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from benchmarks.environment import CONFIG_DIR, versions
from benchmarks.harness import (
    Measurement,
    Progress,
    RowResult,
    is_poor,
    time_interleaved,
)
from benchmarks.profiling import profile_sync
from trading_core.domain.market import Quote
from trading_core.domain.order import Side
from trading_core.instruments import InstrumentRegistry
from trading_core.risk.pretrade import ExposureView, OrderRequest, RiskLimits, check_order

KEY = "pretrade"
TITLE = "pre-trade risk check"
N = 20_000
WARMUP = 2_000
PROFILE_CALLS = 5_000
SYMBOL = "ETH/BTC"
AT = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)


def request_fields() -> dict[str, Any]:
    """A 2 %-of-equity limit buy just above the ask, as the pipeline sends it."""
    return {
        "symbol": SYMBOL,
        "side": Side.BUY,
        "quantity": Decimal("2.19298245"),
        "limit_price": Decimal("0.09122810"),
        "client_order_id": "bench-run-000001",
        "strategy_id": "ma_cross",
        "reason": "entry: ma_cross score +1.00 (sma10 crossed above sma30) >= entry 0.5",
    }


def run(progress: Progress) -> RowResult:
    row = RowResult(
        key=KEY,
        path=TITLE,
        sample="call",
        kind="latency",
        unit="µs per check",
        versions=versions("trading-core", "pydantic", "pydantic-core"),
    )
    instrument = InstrumentRegistry.from_file(CONFIG_DIR / "symbols.toml").get(SYMBOL)
    quote = Quote(
        symbol=SYMBOL,
        bid=Decimal("0.09118"),
        ask=Decimal("0.09122"),
        last=Decimal("0.09120"),
        volume=Decimal("812.5"),
        timestamp=AT - timedelta(seconds=1),
        source="bench",
    )
    view = ExposureView(now=AT, equity=Decimal(10), cash=Decimal(10), quote=quote)
    limits = RiskLimits()
    fields = request_fields()
    request = OrderRequest(**fields)
    decision = check_order(request, instrument, view, limits)
    if not decision.approved:
        raise AssertionError(f"the benchmark order should pass every check: {decision.codes}")

    def ours() -> object:
        return check_order(request, instrument, view, limits)

    def baseline() -> object:
        return OrderRequest(**fields)

    progress(f"timing {N} checks and {N} request validations, interleaved ({WARMUP} warm-up)")
    gc.collect()
    ours_ns, baseline_ns = time_interleaved(ours, baseline, n=N, warmup=WARMUP)
    row.ours = Measurement.from_ns(
        "check_order(request, instrument, view, limits)", ours_ns, 1, WARMUP
    )
    row.baseline = Measurement.from_ns("OrderRequest(**fields)", baseline_ns, 1, WARMUP)
    row.notes.append(
        "Each call timed on its own with perf_counter_ns (samples include ~2 timer reads); "
        "the approved path, so every control runs. The view carries no open orders and no "
        "throttle history."
    )
    if is_poor(row.ratio):
        progress("profiling our side")
        row.profile = profile_sync(lambda: [ours() for _ in range(PROFILE_CALLS)]).lines()
    return row
