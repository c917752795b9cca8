"""``python -m benchmarks``: run every row, print progress, write BENCHMARKS.md and results.json."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

from benchmarks import (
    audit_writes,
    indicators,
    mcp_calls,
    model_inference,
    pretrade,
    quote_ingest,
    replay,
    report,
    sweep,
)
from benchmarks.environment import REPO_ROOT, describe_machine
from benchmarks.harness import Progress, RowResult, timer_overhead_ns

COMMAND = "uv run --group bench python -m benchmarks"
MARKDOWN = REPO_ROOT / "BENCHMARKS.md"
RESULTS = REPO_ROOT / "benchmarks" / "results.json"


@dataclass(frozen=True)
class Row:
    """One row to run: its key (for ``--only``), its title and its function."""

    key: str
    title: str
    run: Callable[[Progress], RowResult]


def _module_row(module: ModuleType) -> Row:
    """A module that is one row (``KEY``, ``TITLE``, ``run``)."""
    return Row(module.KEY, module.TITLE, module.run)


# Quick rows first, the whole-replay row (the longest) last.
ROWS: tuple[Row, ...] = (
    _module_row(pretrade),
    _module_row(model_inference),
    *(Row(entry.key, entry.title, entry.run) for entry in mcp_calls.ROWS),
    *map(_module_row, (audit_writes, quote_ingest, indicators, replay, sweep)),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rows; 1 when a row failed with an error (never because of a time)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=[row.key for row in ROWS],
        help="run only this row (repeatable); the report files are then left untouched",
    )
    parser.add_argument("--no-write", action="store_true", help="print only, write no files")
    args = parser.parse_args(argv)
    selected = [row for row in ROWS if not args.only or row.key in args.only]

    machine = describe_machine()
    overhead = timer_overhead_ns()
    print(f"benchmarks on {machine.cpu_model} ({machine.cores} cores), {machine.python}")
    started = time.perf_counter()
    results = [
        _run_row(index, len(selected), row.key, row.title, row.run)
        for index, row in enumerate(selected, start=1)
    ]
    elapsed = time.perf_counter() - started
    print(f"done in {elapsed:.0f} s")

    if args.only or args.no_write:
        print("report files not written (partial run or --no-write)")
    else:
        text = report.render_markdown(
            machine, overhead, results, command=COMMAND, elapsed_seconds=elapsed
        )
        report.write(MARKDOWN, text)
        document = report.results_document(machine, overhead, results, elapsed_seconds=elapsed)
        report.write_json(RESULTS, document)
        print(f"wrote {MARKDOWN.relative_to(REPO_ROOT)} and {RESULTS.relative_to(REPO_ROOT)}")
    failed = [row.key for row in results if row.status == "failed"]
    if failed:
        print(f"rows that failed with an error: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run_row(
    index: int, total: int, key: str, title: str, run: Callable[[Progress], RowResult]
) -> RowResult:
    print(f"[{index}/{total}] {title}", flush=True)
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"    {time.perf_counter() - started:6.1f} s  {message}", flush=True)

    try:
        row = run(progress)
    except Exception as exc:  # noqa: BLE001 - one broken row must not cost the others
        sys.stdout.flush()
        traceback.print_exc()
        row = RowResult(key=key, path=title, kind="throughput", unit="", status="failed")
        row.reason = f"{type(exc).__name__}: {exc}"
    print(f"    -> {_verdict(row)} ({time.perf_counter() - started:.1f} s)", flush=True)
    return row


def _verdict(row: RowResult) -> str:
    if row.status != "measured" or row.ours is None or row.baseline is None:
        return f"{row.status}: {row.reason}"
    ours = report.figure(row, row.ours)
    base = report.figure(row, row.baseline)
    return f"ours {ours} | baseline {base} | ratio {row.ratio:.2f}x"


if __name__ == "__main__":
    sys.exit(main())
