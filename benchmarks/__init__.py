"""Benchmarks: every hot path timed against its floor, measured in the same run.

Run with ``make bench`` (``uv run --group bench python -m benchmarks`` from the repository root);
it writes ``BENCHMARKS.md`` and ``benchmarks/results.json``. Never part of the test command, and
never fails on a time. ``harness`` holds the shared maths and timers; one module per row.
"""
