"""The hints of a refused loosening name what a person types at the terminal, not MCP's names."""

from __future__ import annotations

import pytest

from .conftest import RunCli

pytestmark = pytest.mark.e2e


def test_a_reset_inside_the_latch_names_the_override_flag(run_cli: RunCli) -> None:
    assert run_cli("kill-switch", "activate", "--reason", "runaway orders").returncode == 0

    early = run_cli("kill-switch", "reset", "--reason", "looked at it")

    assert early.returncode == 2
    assert "KILL_SWITCH_LATCHED" in early.stderr
    assert "--override-latch" in early.stderr
    assert "override_latch" not in early.stderr


def test_resume_while_killed_names_the_kill_switch_reset_command(run_cli: RunCli) -> None:
    assert run_cli("kill-switch", "activate", "--reason", "runaway orders").returncode == 0

    resumed = run_cli("state", "resume", "--reason", "back")

    assert resumed.returncode == 2
    assert "KILL_SWITCH_ACTIVE" in resumed.stderr
    assert "trading-core kill-switch reset" in resumed.stderr
    assert "reset_kill_switch" not in resumed.stderr
