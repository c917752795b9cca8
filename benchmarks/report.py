"""BENCHMARKS.md and results.json from one run's rows."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.environment import Machine
from benchmarks.harness import Measurement, RowResult, is_poor

TABLE_ORDER = (
    "pretrade",
    "mcp_in_memory",
    "mcp_stdio",
    "mcp_http",
    "audit_writes",
    "quote_ingest",
    "replay",
    "sweep",
    "indicators",
    "model_inference",
)
"""The issue's order of rows."""


def latency_scale(row: RowResult) -> tuple[float, str]:
    """Seconds to the row's latency unit: ms when its unit says so (``ms per call``), else µs."""
    return (1e3, "ms") if row.unit.startswith("ms") else (1e6, "µs")


def figure(row: RowResult, side: Measurement) -> str:
    """The cell for one side: p50/p99 (µs or ms) for latencies, the median rate for throughputs."""
    if row.kind == "latency":
        scale, unit = latency_scale(row)
        return (
            f"p50 {side.summary.p50 * scale:,.1f} {unit} · "
            f"p99 {side.summary.p99 * scale:,.1f} {unit}"
        )
    return f"{_rate(side.units_per_second)} {row.unit}"


def ratio_cell(ratio: float | None) -> str:
    if ratio is None:
        return ""
    text = "∞" if math.isinf(ratio) else f"{ratio:.2f}×"
    return f"**{text}**" if is_poor(ratio) else text


def samples_cell(side: Measurement, sample: str) -> str:
    if side.units_per_sample == 1:
        return plural(side.summary.n, sample)
    return f"{plural(side.summary.n, sample)} × {side.units_per_sample:,}"


def plural(count: int, noun: str) -> str:
    suffix = "es" if noun.endswith(("s", "ch")) else "s"
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}{suffix}"


def outliers_cell(ours: Measurement, baseline: Measurement) -> str:
    return f"ours {_share(ours)} · base {_share(baseline)}"


def render_markdown(
    machine: Machine,
    timer_overhead_ns: float,
    rows: Sequence[RowResult],
    *,
    command: str,
    elapsed_seconds: float,
) -> str:
    by_key = {row.key: row for row in rows}
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` (`make bench`); do not edit by hand. Every figure sits next to "
        "a baseline measured in the same run on the same data and work: the machine here is "
        "noisy and shared, so the ratio is what to track, not the absolute numbers.",
        "",
        f"- CPU: {machine.cpu_model}, {machine.cores} cores ({machine.cores_usable} usable)",
        f"- Python: {machine.python} on {machine.platform}",
        f"- Date: {machine.date}; commit {machine.commit}; the run took {elapsed_seconds:.0f} s",
        f"- Timer: `time.perf_counter_ns`, {timer_overhead_ns:.0f} ns per back-to-back pair of "
        "reads (included in every per-call sample, on both sides)",
        "",
        "**ratio** = our median cost per unit of work ÷ the baseline's (1.00× = at the floor; "
        "3× = three times the time, a third of the rate); **bold** from 2× up, with a profile "
        "below. **n** = timed samples (× units of work per sample), warm-up samples excluded. "
        "**outliers** = samples above p50 + 3 × IQR, counted and kept in the figures.",
        "",
        "| path | our figure | baseline | ratio | n | warm-up | outliers |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_table_line(by_key[key]) for key in TABLE_ORDER if key in by_key]
    lines += ["", "## Notes per row", ""]
    for key in TABLE_ORDER:
        if key in by_key:
            lines += _notes(by_key[key])
    return "\n".join(lines).rstrip("\n") + "\n"


def _table_line(row: RowResult) -> str:
    if row.status != "measured" or row.ours is None or row.baseline is None:
        return f"| {row.path} | {row.status}: {_cell_text(row.reason)} | | | | | |"
    ours, base = row.ours, row.baseline
    return (
        f"| {row.path} | {figure(row, ours)} | {figure(row, base)} | {ratio_cell(row.ratio)} | "
        f"{samples_cell(ours, row.sample)} | {plural(ours.warmup, row.sample)} | "
        f"{outliers_cell(ours, base)} |"
    )


def _notes(row: RowResult) -> list[str]:
    lines = [f"### {row.path}", ""]
    if row.status != "measured" or row.ours is None or row.baseline is None:
        return [*lines, f"{_sentence(row.status)}: {row.reason}", ""]
    for name, side in (("ours", row.ours), ("baseline", row.baseline)):
        s = side.summary
        scale, unit = latency_scale(row) if row.kind == "latency" else (1e3, "ms")
        lines.append(
            f"- {name}: `{side.label}`: per {row.sample} p50 {s.p50 * scale:,.2f} {unit}, "
            f"p99 {s.p99 * scale:,.2f}, mean {s.mean * scale:,.2f}, min {s.minimum * scale:,.2f}, "
            f"max {s.maximum * scale:,.2f}; {s.outliers} outliers above "
            f"{s.outlier_threshold * scale:,.2f} {unit}"
        )
    lines += [f"- {note}" for note in row.notes]
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in row.versions.items()))
    if row.profile:
        lines += ["", "```", *row.profile, "```"]
    return [*lines, ""]


def results_document(
    machine: Machine, timer_overhead_ns: float, rows: Sequence[RowResult], *, elapsed_seconds: float
) -> dict[str, Any]:
    """The same numbers, machine-readable (seconds per sample; rates per second)."""
    return {
        "machine": dataclasses.asdict(machine),
        "timer_overhead_ns": timer_overhead_ns,
        "elapsed_seconds": elapsed_seconds,
        "rows": [_row_document(row) for row in rows],
    }


def _row_document(row: RowResult) -> dict[str, Any]:
    document: dict[str, Any] = {
        "key": row.key,
        "path": row.path,
        "status": row.status,
        "reason": row.reason,
        "kind": row.kind,
        "unit": row.unit,
        "sample": row.sample,
        "ratio": row.ratio,
        "poor": is_poor(row.ratio),
    }
    for name, side in (("ours", row.ours), ("baseline", row.baseline)):
        document[name] = None if side is None else _side_document(side)
    document |= {
        "versions": row.versions,
        "notes": row.notes,
        "profile": row.profile,
        "diagnostics": row.diagnostics,
    }
    return document


def _side_document(side: Measurement) -> dict[str, Any]:
    return {
        "label": side.label,
        "units_per_sample": side.units_per_sample,
        "warmup": side.warmup,
        "seconds_per_unit_p50": side.seconds_per_unit,
        "units_per_second_p50": side.units_per_second,
        "summary_seconds": dataclasses.asdict(side.summary),
    }


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_json(path: Path, document: dict[str, Any]) -> None:
    write(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _rate(value: float) -> str:
    if math.isinf(value):
        return "∞"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _share(side: Measurement) -> str:
    s = side.summary
    return f"{s.outliers:,} ({s.outliers / s.n:.1%})"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
