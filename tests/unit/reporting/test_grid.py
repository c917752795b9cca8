"""The sweep's grid: parsing, combinations checked before anything runs, and the ranking."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.reporting.grid import GridOutcome, GridPoint, grid_points, parse_grid, rank
from trading_core.settings import AgentSettings


def test_a_grid_is_names_and_their_values_numbers_where_they_are_numbers() -> None:
    grid = parse_grid(["fast=5,10, 20", "entry_threshold=0.3,0.5", "mode=a"])
    assert grid == {"fast": [5, 10, 20], "entry_threshold": [0.3, 0.5], "mode": ["a"]}


@pytest.mark.parametrize(
    ("specs", "says"),
    [
        (["fast"], "NAME=V1,V2"),
        (["=1,2"], "NAME=V1,V2"),
        (["fast="], "NAME=V1,V2"),
        (["fast=1", "fast=2"], "twice"),
        ([], "at least one"),
    ],
)
def test_a_bad_grid_is_refused_in_one_line(specs: list[str], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        parse_grid(specs)


def test_every_combination_is_built_and_checked_before_any_run() -> None:
    base = AgentSettings(name="ma_cross")
    points = grid_points(base, {"fast": [5, 10], "slow": [30, 50], "order_fraction": [0.01]})
    assert [p.values for p in points] == [
        {"fast": 5, "slow": 30, "order_fraction": 0.01},
        {"fast": 5, "slow": 50, "order_fraction": 0.01},
        {"fast": 10, "slow": 30, "order_fraction": 0.01},
        {"fast": 10, "slow": 50, "order_fraction": 0.01},
    ]
    assert points[3].agent.parameters == {"fast": 10, "slow": 50}
    assert points[3].agent.order_fraction == Decimal("0.01")
    assert base.parameters == {}  # the base is not changed

    with pytest.raises(ConfigurationError, match="grid point nonsense=1"):
        grid_points(base, {"nonsense": [1]})
    with pytest.raises(ConfigurationError, match="order_fraction"):
        grid_points(base, {"order_fraction": [0.5]})  # above its cap: refused, not run


def test_a_committee_member_is_swept_by_its_dotted_name() -> None:
    base = AgentSettings(committee=["trend_hunter", "mean_reversion"])
    (point,) = grid_points(base, {"trend_hunter.adx_period": [20]})
    assert point.agent.member_parameters == {"trend_hunter": {"adx_period": 20}}
    with pytest.raises(ConfigurationError, match="not in the committee"):
        grid_points(base, {"breakout_hunter.channel": [10]})


def test_ranking_is_best_first_with_failed_and_undefined_runs_last() -> None:
    base = AgentSettings(name="ma_cross")

    def outcome(number: int, sharpe: float | None, failed: bool = False) -> GridOutcome:
        point = GridPoint(number, {"fast": number}, base)
        metrics = None if failed else {"sharpe": sharpe}
        return GridOutcome(point, metrics, 100, 1.0, "boom" if failed else "")

    ranked = rank(
        [outcome(1, 0.5), outcome(2, None), outcome(3, 1.5), outcome(4, 0, True), outcome(5, 0.5)],
        "sharpe",
    )
    assert [o.point.number for o in ranked] == [3, 1, 5, 2, 4]


def test_workers_fork_only_from_a_process_running_no_other_thread() -> None:
    import threading

    from trading_core.reporting.grid import _worker_context

    assert _worker_context().get_start_method() == "fork"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert _worker_context().get_start_method() == "forkserver"
    finally:
        stop.set()
        other.join()
