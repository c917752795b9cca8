"""`trading-core approvals approve` end to end: what a person sees when approving is not enough."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.domain.approval import ApprovalKind
from trading_core.domain.order import OrderType, Side
from trading_core.services.container import TradingApp, open_app
from trading_core.services.desk import OrderTicket, PlaceStatus
from trading_core.services.loosening import state_fingerprint
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

from .conftest import RunCli

pytestmark = pytest.mark.e2e

ASSISTANT = Principal(name="assistant", kind=PrincipalKind.ASSISTANT)
EXIT_NOT_CARRIED_OUT = 3


async def _open(tmp_path: Path) -> TradingApp:
    """This process's view of the account the CLI opens (same data directory)."""
    return await open_app(
        load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path / "data"), channel="mcp"
    )


async def _ask_for_a_big_order(tmp_path: Path) -> str:
    """An assistant's order over its paper threshold: it waits for a person."""
    app = await _open(tmp_path)
    try:
        symbol = next(iter(app.feed.symbols()))
        quote = await app.feed.latest_quote(symbol)
        quantity = (Decimal(1500) / quote.ask).quantize(Decimal("0.001"))
        ticket = OrderTicket(
            symbol=symbol, side=Side.BUY, quantity=quantity, order_type=OrderType.MARKET
        )
        placed = await app.desk.place(ticket, by=ASSISTANT)
    finally:
        await app.close()
    assert placed.status is PlaceStatus.PENDING_APPROVAL, placed
    assert placed.approval_id is not None
    return placed.approval_id


async def _ask_to_resume_while_killed(tmp_path: Path) -> str:
    """A resume asked for while the kill switch is on: carrying it out cannot lift the kill."""
    app = await _open(tmp_path)
    try:
        record = await app.state.activate_kill_switch(reason="runaway orders", by="cli:test")
        approval = await app.approvals.request(
            ApprovalKind.RESUME_TRADING,
            {"record": state_fingerprint(record), "state": str(record.state), "reason": "go"},
            summary="resume trading",
            by=ASSISTANT,
        )
    finally:
        await app.close()
    return approval.approval_id


def test_approving_an_order_the_guardrails_then_refuse_exits_non_zero_and_says_why(
    run_cli: RunCli, tmp_path: Path
) -> None:
    approval_id = asyncio.run(_ask_for_a_big_order(tmp_path))
    assert run_cli("kill-switch", "activate", "--reason", "runaway orders").returncode == 0

    result = run_cli("approvals", "approve", approval_id, "--reason", "looked fine")

    assert result.returncode == EXIT_NOT_CARRIED_OUT, (result.stdout, result.stderr)
    assert f"{approval_id}  refused" in result.stdout
    assert "not carried out" in result.stderr
    assert "KILL_SWITCH_ACTIVE: trading state KILLED" in result.stderr


def test_approving_a_resume_while_killed_names_the_reset_command_not_the_mcp_call(
    run_cli: RunCli, tmp_path: Path
) -> None:
    approval_id = asyncio.run(_ask_to_resume_while_killed(tmp_path))

    result = run_cli("approvals", "approve", approval_id)

    assert result.returncode == EXIT_NOT_CARRIED_OUT, (result.stdout, result.stderr)
    assert "KILL_SWITCH_ACTIVE" in result.stderr
    assert "trading-core kill-switch reset" in result.stderr
    assert "reset_kill_switch" not in result.stdout + result.stderr


def test_an_executed_approval_exits_zero(run_cli: RunCli, tmp_path: Path) -> None:
    approval_id = asyncio.run(_ask_for_a_big_order(tmp_path))

    result = run_cli("approvals", "approve", approval_id, "--reason", "checked the size")

    assert result.returncode == 0, (result.stdout, result.stderr)
    assert f"{approval_id}  executed" in result.stdout
    assert "not carried out" not in result.stderr


def test_approve_help_documents_its_exit_codes(run_cli: RunCli) -> None:
    result = run_cli("approvals", "approve", "--help")

    assert result.returncode == 0, result.stderr
    assert "3 when it was not carried out" in " ".join(result.stdout.split())
