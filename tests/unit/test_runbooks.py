"""The runbooks' commands exist as written: every `trading-core ...` line names real
sub-commands and options (a runbook that lies is worse than none in an incident)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_core.cli import app

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
COMMAND = re.compile(r"trading-core ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)((?: [^#\n`]*)?)")


def _commands() -> list[tuple[str, str, str]]:
    found = []
    for page in sorted(RUNBOOKS.glob("*.md")):
        for match in COMMAND.finditer(page.read_text(encoding="utf-8")):
            found.append((page.name, match.group(1), match.group(2)))
    return found


def test_the_runbooks_name_commands_at_all() -> None:
    pages = {page for page, _, _ in _commands()}
    assert {"kill-switch.md", "reconciliation-mismatch.md", "restore.md"} <= pages


@pytest.mark.parametrize(("page", "command", "rest"), _commands())
def test_each_runbook_command_and_its_options_exist(page: str, command: str, rest: str) -> None:
    words = command.split()
    result = CliRunner().invoke(app, [*words, "--help"])
    if result.exit_code != 0 and len(words) == 2:  # "run --live": one word, then arguments
        words = words[:1]
        rest = f" {command.split()[1]}{rest}"
        result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, f"{page}: trading-core {command}: {result.output}"
    for option in (w for w in shlex.split(rest.replace("...", "x")) if w.startswith("--")):
        assert option in result.output, f"{page}: trading-core {' '.join(words)} has no {option}"
