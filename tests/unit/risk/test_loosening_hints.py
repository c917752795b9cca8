"""A refused loosening says what to do next in the words of whoever reads it: MCP or the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastmcp.exceptions import ToolError

from mcp_servers.errors import tool_errors
from trading_core.domain.errors import TradingError
from trading_core.risk.states import (
    KillSwitchEngaged,
    KillSwitchLatched,
    StateRecord,
    activate_kill_switch,
    reset_kill_switch,
    resume,
)

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def killed() -> StateRecord:
    record, _ = activate_kill_switch(StateRecord.initial(T0), reason="runaway", now=T0, by="a")
    return record


def test_a_reset_inside_the_latch_names_the_parameter_for_mcp_and_the_flag_for_the_cli() -> None:
    with pytest.raises(KillSwitchLatched) as info:
        reset_kill_switch(
            killed(), reason="reviewed", now=T0 + timedelta(hours=1), by="alice", human=True
        )

    assert "override_latch" in info.value.message
    assert "--override-latch" in info.value.cli_message
    assert "override_latch" not in info.value.cli_message


def test_resume_while_killed_names_the_reset_call_for_mcp_and_the_command_for_the_cli() -> None:
    with pytest.raises(KillSwitchEngaged) as info:
        resume(killed(), now=T0, by="alice", human=True)

    assert "reset_kill_switch" in info.value.message
    assert "trading-core kill-switch reset" in info.value.cli_message
    assert "reset_kill_switch" not in info.value.cli_message


def test_an_error_without_cli_wording_reads_the_same_everywhere() -> None:
    error = TradingError("no such symbol", code="INSTRUMENT_NOT_FOUND")

    assert error.cli_message == error.message == "no such symbol"


def test_mcp_tools_report_the_mcp_wording() -> None:
    with pytest.raises(ToolError) as info, tool_errors():
        resume(killed(), now=T0, by="alice", human=True)

    assert str(info.value).startswith("KILL_SWITCH_ACTIVE: ")
    assert "reset_kill_switch" in str(info.value)
    assert "trading-core" not in str(info.value)
