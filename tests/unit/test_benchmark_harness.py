"""The benchmark harness's maths and bookkeeping, on made-up timings (nothing here is timed)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

# `benchmarks` is a top-level directory run as `python -m benchmarks` from the repository root,
# not an installed package: make the root importable for this test.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.environment import Machine, cpu_model  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    Measurement,
    RowResult,
    Summary,
    cost_ratio,
    count_outliers,
    is_poor,
    outlier_threshold,
    percentile,
    share_of_gap,
    throughput,
    time_interleaved,
    time_round_robin_async,
)
from benchmarks.report import render_markdown, results_document  # noqa: E402

# 1..9 plus two slow samples and one very slow one: p25 3.75, p50 6.5, p75 11 (by hand, numpy's
# linear method), so IQR 7.25 and the outlier threshold 6.5 + 3 x 7.25 = 28.25.
TIMINGS = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 17.0, 17.5, 40.0]


def _measured(p50_seconds: float, units: int, *, n: int = 5) -> Measurement:
    summary = Summary.of([p50_seconds] * n)
    return Measurement("made up", summary, units_per_sample=units, warmup=1)


@pytest.mark.parametrize("q", [0, 1, 25, 50, 75, 90, 99, 99.9, 100])
def test_percentile_matches_numpy_linear_interpolation(q: float) -> None:
    samples = [float(x) for x in np.random.default_rng(7).lognormal(3.0, 0.8, size=501)]
    assert percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), rel=1e-12)


def test_percentile_interpolates_between_ranks_of_unsorted_samples() -> None:
    assert percentile([40.0, 1.0, 17.0, 9.0], 50) == 13.0
    assert percentile(TIMINGS, 25) == pytest.approx(3.75)
    assert percentile(TIMINGS, 75) == pytest.approx(11.0)


def test_percentile_of_a_single_sample_is_that_sample() -> None:
    assert percentile([4.2], 0) == percentile([4.2], 99) == 4.2


def test_percentile_refuses_no_samples_and_out_of_range_ranks() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        percentile([1.0], 101)


def test_outliers_are_the_samples_above_median_plus_three_iqr() -> None:
    assert outlier_threshold(TIMINGS) == pytest.approx(28.25)
    assert count_outliers(TIMINGS) == 1


def test_a_sample_exactly_at_the_threshold_is_not_an_outlier() -> None:
    assert count_outliers([*TIMINGS[:-1], 28.25]) == 0


def test_fast_samples_are_never_outliers() -> None:
    assert count_outliers([0.001, 10.0, 10.0, 10.0, 10.0, 10.0]) == 0


def test_identical_samples_have_no_outliers() -> None:
    assert count_outliers([3.0] * 10) == 0


def test_summary_reports_outliers_and_keeps_them_in_the_figures() -> None:
    summary = Summary.of(TIMINGS)
    assert summary.n == len(TIMINGS)
    assert summary.outliers == 1
    assert summary.maximum == 40.0
    assert summary.mean == pytest.approx(sum(TIMINGS) / len(TIMINGS))
    assert summary.p50 == pytest.approx(6.5)
    assert summary.iqr == pytest.approx(7.25)
    assert summary.p99 == pytest.approx(float(np.percentile(TIMINGS, 99)))


def test_summary_of_no_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        Summary.of([])


def test_cost_ratio_compares_median_cost_per_unit_of_work() -> None:
    ours = _measured(0.050, units=500)
    floor = _measured(0.010, units=500)
    assert cost_ratio(ours, floor) == pytest.approx(5.0)
    assert cost_ratio(floor, ours) == pytest.approx(0.2)


def test_cost_ratio_accounts_for_different_work_per_sample() -> None:
    one_bar_in_two_seconds = _measured(2.0, units=1)
    ten_bars_in_two_seconds = _measured(2.0, units=10)
    assert cost_ratio(one_bar_in_two_seconds, ten_bars_in_two_seconds) == pytest.approx(10.0)


def test_cost_ratio_against_a_free_baseline_is_infinite() -> None:
    assert math.isinf(cost_ratio(_measured(1.0, units=1), _measured(0.0, units=1)))


def test_throughput_is_units_over_the_median_sample() -> None:
    assert _measured(0.25, units=500).units_per_second == pytest.approx(2000.0)
    assert _measured(0.25, units=500).seconds_per_unit == pytest.approx(0.0005)
    assert math.isinf(throughput(10, 0.0))
    with pytest.raises(ValueError, match="negative"):
        throughput(10, -1.0)


def test_a_ratio_of_two_or_more_is_poor() -> None:
    assert is_poor(2.0)
    assert is_poor(15.4)
    assert not is_poor(1.99)
    assert not is_poor(None)


def test_row_ratio_needs_both_sides() -> None:
    row = RowResult(key="k", path="p", kind="throughput", unit="bars/s")
    assert row.ratio is None
    row.ours, row.baseline = _measured(0.3, units=3), _measured(0.1, units=3)
    assert row.ratio == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("intermediate", "expected"),
    [(8.0, 0.75), (2.0, 0.0), (1.0, 0.0), (12.0, 1.0)],
)
def test_share_of_gap_is_how_much_of_our_extra_cost_an_intermediate_explains(
    intermediate: float, expected: float
) -> None:
    assert share_of_gap(10.0, 2.0, intermediate) == pytest.approx(expected)


def test_share_of_gap_is_none_when_we_are_at_or_below_the_floor() -> None:
    assert share_of_gap(2.0, 2.0, 1.0) is None
    assert share_of_gap(1.0, 2.0, 1.5) is None


def test_interleaved_timer_alternates_sides_and_drops_the_warmup() -> None:
    calls: list[str] = []
    ours, floor = time_interleaved(
        lambda: calls.append("ours"), lambda: calls.append("floor"), n=4, warmup=2
    )
    assert calls == ["ours", "floor"] * 6
    assert len(ours) == len(floor) == 4
    assert all(sample >= 0 for sample in ours + floor)


async def test_round_robin_timer_gives_each_call_its_round_and_keeps_n_samples_per_side() -> None:
    calls: list[tuple[str, int]] = []

    async def first(round_: int) -> None:
        calls.append(("first", round_))

    async def second(round_: int) -> None:
        calls.append(("second", round_))

    samples = await time_round_robin_async((first, second), n=3, warmup=1)
    assert calls == [(name, r) for r in range(4) for name in ("first", "second")]
    assert [len(side) for side in samples] == [3, 3]


def test_cpu_model_is_read_from_the_model_name_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Made-up CPU 9000\nflags\t: fpu\n")
    assert cpu_model(cpuinfo) == "Made-up CPU 9000"


def _machine() -> Machine:
    return Machine(
        cpu_model="Made-up CPU",
        cores=2,
        cores_usable=2,
        python="CPython 3.11",
        platform="Linux",
        date="2026-01-01 00:00 UTC",
        commit="abc1234",
    )


def test_report_shows_skipped_rows_without_inventing_numbers() -> None:
    measured = RowResult(
        key="indicators",
        path="indicators over history",
        kind="throughput",
        unit="bars/s",
        sample="pass",
    )
    measured.ours, measured.baseline = _measured(0.004, 5760), _measured(0.002, 5760)
    skipped = RowResult(
        key="audit_writes",
        path="audit writes to PostgreSQL",
        kind="throughput",
        unit="decisions/s",
        status="skipped",
        reason="PostgreSQL unreachable at 127.0.0.1:5432",
    )
    text = render_markdown(
        _machine(), 90.0, [measured, skipped], command="make bench", elapsed_seconds=60.0
    )
    assert "| audit writes to PostgreSQL | skipped: PostgreSQL unreachable" in text
    assert "not measured yet" not in text
    assert "MCP tool call" not in text  # rows that did not run get no line at all
    assert "| indicators over history | 1,440,000 bars/s | 2,880,000 bars/s | **2.00×** |" in text
    assert "Made-up CPU, 2 cores" in text


def test_results_document_is_json_with_the_same_numbers() -> None:
    row = RowResult(key="pretrade", path="pre-trade risk check", kind="latency", unit="µs")
    row.ours, row.baseline = _measured(50e-6, 1), _measured(5e-6, 1)
    document = json.loads(
        json.dumps(results_document(_machine(), 90.0, [row], elapsed_seconds=1.0))
    )
    (only,) = document["rows"]
    assert only["ratio"] == pytest.approx(10.0)
    assert only["poor"] is True
    assert only["ours"]["summary_seconds"]["p50"] == pytest.approx(50e-6)
    assert "not_measured" not in document


def test_latency_rows_in_ms_per_call_are_shown_in_ms_and_others_in_us() -> None:
    mcp = RowResult(
        key="mcp_http",
        path="MCP tool call (`get_quote`), streamable HTTP",
        kind="latency",
        unit="ms per call",
    )
    mcp.ours, mcp.baseline = _measured(0.0125, 1), _measured(0.0025, 1)
    check = RowResult(key="pretrade", path="pre-trade risk check", kind="latency", unit="µs")
    check.ours, check.baseline = _measured(30e-6, 1), _measured(5e-6, 1)
    text = render_markdown(_machine(), 90.0, [mcp, check], command="make bench", elapsed_seconds=1)
    assert "| p50 12.5 ms · p99 12.5 ms | p50 2.5 ms · p99 2.5 ms | **5.00×** |" in text
    assert "| p50 30.0 µs · p99 30.0 µs | p50 5.0 µs · p99 5.0 µs | **6.00×** |" in text
    assert "per call p50 12.50 ms, p99 12.50" in text
    # the MCP row sits where the issue puts it: right after the pre-trade check
    assert text.index("pre-trade risk check |") < text.index("MCP tool call (`get_quote`)")


def test_every_registered_row_has_a_place_in_the_table_and_the_mcp_rows_are_registered() -> None:
    pytest.importorskip("pyinstrument", reason="the bench dependency group is not installed")
    pytest.importorskip("backtesting", reason="the bench dependency group is not installed")
    from benchmarks.__main__ import ROWS
    from benchmarks.report import TABLE_ORDER

    keys = [row.key for row in ROWS]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(TABLE_ORDER)
    titles = {row.key: row.title for row in ROWS}
    assert titles["mcp_in_memory"] == "MCP tool call (`get_quote`), in-memory"
    assert titles["mcp_stdio"] == "MCP tool call (`get_quote`), stdio"
    assert titles["mcp_http"] == "MCP tool call (`get_quote`), streamable HTTP"


async def test_the_bare_mcp_floor_answers_a_constant_with_get_quotes_fields() -> None:
    from benchmarks.bare_mcp_server import CONSTANT, TOOL, build_bare_server
    from fastmcp import Client

    from mcp_servers.market_data import QuoteResult

    assert set(CONSTANT) == set(QuoteResult.model_fields)
    async with Client(build_bare_server(), mode="auto") as client:
        result = await client.call_tool(TOOL, {"symbol": "ETH/USD"})
        tools = await client.list_tools()
    assert result.structured_content == CONSTANT
    assert [tool.name for tool in tools] == [TOOL]
    assert tools[0].input_schema["required"] == ["symbol"]


def test_inclusive_seconds_counts_a_function_once_per_stack_or_its_nth_call() -> None:
    pytest.importorskip("pyinstrument", reason="the bench dependency group is not installed")
    from benchmarks.mcp_profile import inclusive_seconds
    from pyinstrument.frame import Frame

    def frame(function: str, path: str, time: float, *children: Frame) -> Frame:
        return Frame(f"{function}\x00{path}\x001", children=list(children), time=time)

    middleware = ("on_call_tool", "mcp_servers/middleware.py")
    inner = frame("on_call_tool", "/x/mcp_servers/middleware.py", 3.0)
    outer = frame("on_call_tool", "/x/mcp_servers/middleware.py", 5.0, inner)
    elsewhere = frame("on_call_tool", "/x/other/middleware.py", 7.0)
    root = frame("run", "/x/loop.py", 20.0, outer, elsewhere)
    assert inclusive_seconds(root, [middleware]) == 5.0
    assert inclusive_seconds(root, [middleware], depth=2) == 3.0
    assert inclusive_seconds(root, [middleware], depth=3) == 0.0
    assert inclusive_seconds(None, [middleware]) == 0.0
