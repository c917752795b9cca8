"""The repeated-execution monitor's history: what it persists, and what a new monitor adopts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from trading_core.risk.throttles import ExecutionHistory, ExecutionPair, RepeatedExecutionMonitor

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
MAX_FILLS = 10


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def through_json(history: ExecutionHistory) -> ExecutionHistory:
    """What a store round trip gives back (the key/value store holds JSON)."""
    return ExecutionHistory.from_json_dict(json.loads(json.dumps(history.to_json_dict())))


def restarted(monitor: RepeatedExecutionMonitor, now: datetime) -> RepeatedExecutionMonitor:
    fresh = RepeatedExecutionMonitor(max_fills=MAX_FILLS)
    fresh.adopt(through_json(monitor.history(now)))
    return fresh


def test_a_latched_pair_stays_latched_in_a_monitor_that_adopts_the_history() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=MAX_FILLS)
    latched = [monitor.record_fill(at(n), "s1", "BTC/USD") for n in range(MAX_FILLS + 1)]
    assert latched.index(True) == MAX_FILLS

    later = at(3_600)  # the window is long gone: only the latch itself is left to carry over
    fresh = restarted(monitor, later)

    assert fresh.latched == frozenset({("s1", "BTC/USD")})
    assert not fresh.would_allow(later, "s1", "BTC/USD")
    assert fresh.would_allow(later, "s2", "BTC/USD")
    [pair] = monitor.history(later).pairs
    assert pair.latched_at == at(MAX_FILLS)
    assert pair.fills == ()


def test_the_fills_of_the_window_still_count_after_a_restart() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=MAX_FILLS)
    for n in range(8):
        monitor.record_fill(at(n), "s1", "BTC/USD")

    fresh = restarted(monitor, at(8))
    assert fresh.fills_in_window(at(8), "s1", "BTC/USD") == 8
    outcomes = [fresh.record_fill(at(9 + n), "s1", "BTC/USD") for n in range(3)]
    # Eight before the restart and three after: the eleventh fill within the minute latches.
    assert outcomes == [False, False, True]


def test_fills_that_left_the_window_are_not_persisted() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=MAX_FILLS)
    monitor.record_fill(at(0), "s1", "BTC/USD")
    monitor.record_fill(at(30), "s1", "ETH/USD")

    history = monitor.history(at(61))

    assert [(p.symbol, p.fills) for p in history.pairs] == [("ETH/USD", (at(30),))]


def test_adopting_replaces_what_the_monitor_knew() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=MAX_FILLS)
    for n in range(MAX_FILLS + 1):
        monitor.record_fill(at(n), "s1", "BTC/USD")
    released_elsewhere = monitor.history(at(11)).without("s1", "BTC/USD")

    monitor.adopt(released_elsewhere)

    assert monitor.latched == frozenset()
    assert monitor.fills_in_window(at(11), "s1", "BTC/USD") == 0
    assert monitor.would_allow(at(11), "s1", "BTC/USD")


def test_orders_without_a_strategy_are_their_own_pair() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=MAX_FILLS)
    for n in range(MAX_FILLS + 1):
        monitor.record_fill(at(n), None, "BTC/USD")
    history = through_json(monitor.history(at(11)))

    assert [(p.strategy_id, p.symbol) for p in history.latched] == [("", "BTC/USD")]
    assert history.find(None, "BTC/USD") == history.find("", "BTC/USD")
    assert history.find("s1", "BTC/USD") is None


@pytest.mark.parametrize(
    "stored",
    [
        {"version": 2, "pairs": []},
        {"pairs": [{"strategy_id": "s1", "symbol": ""}]},
        {"pairs": [{"symbol": "BTC/USD", "fills": ["2024-03-01T12:00:00"]}]},
        {"pairs": [{"symbol": "BTC/USD", "latched_at": "yesterday"}]},
        {"pairs": "all of them"},
        {"pairs": [], "bypass": True},
    ],
    ids=["unknown_version", "empty_symbol", "naive_time", "bad_time", "not_a_list", "extra_key"],
)
def test_a_corrupt_history_is_refused_not_read_as_empty(stored: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ExecutionHistory.from_json_dict(stored)


def test_nothing_stored_reads_as_an_empty_history() -> None:
    assert ExecutionHistory.from_json_dict({}) == ExecutionHistory()
    assert ExecutionHistory().latched == ()


def test_without_forgets_only_the_named_pair() -> None:
    history = ExecutionHistory(
        pairs=(
            ExecutionPair(strategy_id="s1", symbol="BTC/USD", latched_at=T0),
            ExecutionPair(strategy_id="s1", symbol="ETH/USD", latched_at=T0),
        )
    )
    kept = history.without("s1", "BTC/USD")
    assert [p.symbol for p in kept.pairs] == ["ETH/USD"]
    assert history.without("s2", "BTC/USD") == history
