"""`trading-core decisions`: the audit trail at the terminal, and when it shows only part of it."""

from __future__ import annotations

import pytest

from .conftest import RunCli

pytestmark = pytest.mark.e2e


@pytest.fixture
def audited(run_cli: RunCli) -> RunCli:
    """A data directory holding one run of 2 synthetic symbols x 15 bars: 30 decisions."""
    result = run_cli("run", "--max-bars", "15", "-q")
    assert result.returncode == 0, result.stderr
    return run_cli


def test_decisions_says_when_it_shows_only_the_last_rows(audited: RunCli) -> None:
    result = audited("decisions")

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 20
    assert "showing the last 20 of 30 decisions (--limit N for more)" in result.stderr


def test_decisions_says_nothing_more_when_every_row_is_shown(audited: RunCli) -> None:
    result = audited("decisions", "--limit", "30")

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 30
    assert "showing" not in result.stderr


def test_a_filtered_listing_counts_only_the_matching_rows(audited: RunCli) -> None:
    result = audited("decisions", "--symbol", "BTC/USD", "--limit", "5")

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
    assert "showing the last 5 of 15 matching decisions (--limit N for more)" in result.stderr
