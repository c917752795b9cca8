"""`--help` reads cleanly in a terminal and through a pipe: whole sentences, no type metavars."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from trading_core.cli import app

from .conftest import RunCli

pytestmark = pytest.mark.e2e

AGENTS_HELP = (
    "A committee, comma-separated (e.g. trend_hunter,mean_reversion,volatility_filter); its "
    "entry threshold comes from settings (agent.entry_threshold)."
)
COMMANDS = [
    (),
    ("run",),
    ("backtest",),
    ("decisions",),
    ("train",),
    ("db", "upgrade"),
    ("kill-switch", "activate"),
    ("kill-switch", "reset"),
    ("kill-switch", "status"),
    ("state", "status"),
    ("state", "pause"),
    ("state", "resume"),
    ("state", "release"),
    ("approvals", "list"),
    ("approvals", "approve"),
    ("approvals", "reject"),
]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _description(help_text: str) -> list[list[str]]:
    """The paragraphs between the usage line and the first section (Arguments, Options)."""
    body = help_text.split("\n\n", 1)[1].split("\nArguments:")[0].split("\nOptions:")[0]
    return [p.splitlines() for p in body.strip("\n").split("\n\n")]


def test_backtest_help_through_a_pipe_shows_the_whole_agents_help(run_cli: RunCli) -> None:
    result = run_cli("backtest", "--help", env={"COLUMNS": "80"})

    assert result.returncode == 0, result.stderr
    assert AGENTS_HELP in _flat(result.stdout)
    assert "…" not in result.stdout
    assert "<bool>" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_backtest_description_is_wrapped_as_whole_paragraphs(run_cli: RunCli) -> None:
    result = run_cli("backtest", "--help", env={"COLUMNS": "80"})

    paragraphs = _description(result.stdout)
    assert len(paragraphs) == 2
    for lines in paragraphs:
        # A line cut short before the paragraph ends is a docstring line break kept mid-sentence.
        assert all(len(line) > 60 for line in lines[:-1]), lines


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "trading-core")
def test_help_shows_flags_without_type_metavars(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help  " in result.output or "--help\n" in result.output
    options = result.output.split("Options:")[1]
    # --data FILE, --db-url URL: never --data <list[Path]> or --limit <int range>
    assert not re.search(r"<[a-z][^>]*>", options), options
    assert "│" not in result.output
