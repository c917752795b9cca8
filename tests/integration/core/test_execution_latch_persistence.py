"""The repeated-execution latch survives a restart, and only a person releases it.

Real SQLite store, paper broker, simulated clock. Eleven fills of one strategy and symbol within
a minute latch the pair (the hard cap is ten); the history lives under the store's
``throttles:repeated_executions`` key, so a new order service on the same store still refuses the
pair, and a release from the CLI (or another process) reaches a running one before its next order.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock, SystemClock
from trading_core.cli import app as cli
from trading_core.domain.order import OrderStatus, OrderType, Side, TimeInForce
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.state import TradingState
from trading_core.execution.order_service import OrderOutcome, OrderService, OutcomeStatus
from trading_core.execution.paper_broker import PaperBroker
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import (
    EXECUTIONS_KEY,
    STATE_KEY,
    NotLatched,
    TradingStateService,
)
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk import limits
from trading_core.risk.pretrade import OrderRequest
from trading_core.risk.states import HumanApprovalRequired, ReasonRequired, StateRecord
from trading_core.risk.throttles import ExecutionHistory
from trading_core.services.container import open_app
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings
from trading_core.storage.factory import open_store

from .conftest import SYMBOL, T0, Account, build_account, quote

pytestmark = pytest.mark.integration

CAP = limits.MAX_FILLS_PER_STRATEGY_SYMBOL
REPO = Path(__file__).resolve().parents[3]


def request(cid: str, strategy: str, *, qty: str = "1", limit: str = "100.05") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=Side.BUY,
        quantity=Decimal(qty),
        limit_price=Decimal(limit),
        time_in_force=TimeInForce.IOC,
        client_order_id=cid,
        strategy_id=strategy,
    )


async def place_at_market(account: Account, cid: str, strategy: str, qty: str) -> OrderOutcome:
    """A marketable buy on a fresh quote, then one second passes (inside every rate limit)."""
    await account.service.on_quote(quote(at=account.clock.now()))
    outcome = await account.service.place(request(cid, strategy, qty=qty))
    account.clock.advance(timedelta(seconds=1))
    return outcome


async def fill(account: Account, count: int, strategy: str = "s1", first: int = 0) -> None:
    for n in range(first, first + count):
        # Distinct sizes: the same content twice within 10 s would be a duplicate.
        outcome = await place_at_market(account, f"{strategy}-{n}", strategy, f"1.{n:03d}")
        assert outcome.status is OutcomeStatus.FILLED, outcome.codes


def restarted(store: Store, at: datetime) -> Account:
    account = build_account(store)
    account.clock.set(at)
    return account


async def stored_history(store: Store) -> ExecutionHistory:
    return ExecutionHistory.from_json_dict(await store.get_state(EXECUTIONS_KEY) or {})


async def person(store: Store, account: Account) -> TradingStateService:
    return await TradingStateService.load(
        store=store, bus=InMemoryBus(account.clock), clock=account.clock
    )


# --- a restart -----------------------------------------------------------------------------


async def test_a_latched_pair_stays_latched_in_a_new_order_service(store: Store) -> None:
    first = build_account(store)
    await fill(first, CAP + 1)
    [latched] = await store.list_events(event_type="throttles.repeated_execution_latched")
    assert latched.details == {"strategy_id": "s1", "symbol": SYMBOL}

    later = restarted(store, T0 + timedelta(hours=1))  # the fills' window is long gone
    history = await later.service.restore()

    assert history is not None
    assert [(p.strategy_id, p.symbol) for p in history.latched] == [("s1", SYMBOL)]
    assert await store.list_events(event_type="throttles.repeated_execution_restored")
    await later.service.on_quote(quote(at=later.clock.now()))
    assert "REPEATED_EXECUTION" in later.service.check(request("dry", "s1")).codes
    other = await later.service.place(request("s2-0", "s2"))
    assert other.status is OutcomeStatus.FILLED
    refused = await later.service.place(request("s1-again", "s1", qty="2"))
    assert "REPEATED_EXECUTION" in refused.codes
    assert await later.broker.find_by_client_id("s1-again") is None
    assert later.state.state is TradingState.HALTED


async def test_the_fills_of_the_window_still_count_after_a_restart(store: Store) -> None:
    first = build_account(store)
    await fill(first, CAP - 2)

    second = restarted(store, first.clock.now())
    await second.service.restore()
    await fill(second, 3, first=CAP - 2)  # the eleventh fill in the minute latches the pair

    assert "REPEATED_EXECUTION" in second.service.check(request("dry", "s1")).codes
    [pair] = (await stored_history(store)).latched
    assert len(pair.fills) == CAP + 1


async def test_a_replay_keeps_its_latch_to_itself(store: Store) -> None:
    clock = SimulatedClock(T0)
    state = TradingStateService(
        StateRecord.initial(T0),
        store=store,
        bus=InMemoryBus(clock),
        clock=clock,
        key=f"{STATE_KEY}:replay:r1",
    )
    account = build_account(store)
    replay = OrderService(
        broker=PaperBroker(clock, seed=7, slippage_bps=Decimal(0)),
        store=store,
        clock=clock,
        instruments=account.instruments,
        ledger=PortfolioLedger(Portfolio.start(Decimal(100_000))),
        quotes=QuoteBook(),
        state=state,
    )
    assert await replay.restore() is None
    for n in range(CAP + 1):
        await replay.on_quote(quote(at=clock.now()))
        outcome = await replay.place(request(f"r-{n}", "s1", qty=f"1.{n:03d}"))
        assert outcome.status is OutcomeStatus.FILLED
        clock.advance(timedelta(seconds=1))

    assert "REPEATED_EXECUTION" in replay.check(request("dry", "s1")).codes
    assert await store.get_state(EXECUTIONS_KEY) is None
    assert await store.get_state(state.executions_key) is None
    live = restarted(store, clock.now())
    await live.service.on_quote(quote(at=live.clock.now()))
    assert live.service.check(request("dry", "s1")).approved


# --- a person releases ---------------------------------------------------------------------


async def test_only_a_person_with_a_reason_releases_and_a_running_process_adopts_it(
    store: Store,
) -> None:
    running = build_account(store)
    await fill(running, CAP + 1)
    alice = await person(store, running)

    with pytest.raises(HumanApprovalRequired):
        await alice.release_execution_latch(
            strategy_id="s1", symbol=SYMBOL, by="model", human=False, reason="looks fine"
        )
    with pytest.raises(ReasonRequired):
        await alice.release_execution_latch(
            strategy_id="s1", symbol=SYMBOL, by="alice", human=True, reason="  "
        )
    assert (await stored_history(store)).latched
    released = await alice.release_execution_latch(
        strategy_id="s1", symbol=SYMBOL, by="alice", human=True, reason="reviewed the loop"
    )

    assert released is not None
    assert released.latched_at is not None
    assert (await stored_history(store)).pairs == ()
    [event] = await store.list_events(event_type="throttles.repeated_execution_released")
    assert (event.details["by"], event.details["reason"]) == ("alice", "reviewed the loop")
    again = await place_at_market(running, "s1-after", "s1", "2")
    assert again.status is OutcomeStatus.FILLED
    with pytest.raises(NotLatched):
        await alice.release_execution_latch(
            strategy_id="s1", symbol=SYMBOL, by="alice", human=True, reason="twice"
        )


async def test_a_fill_in_a_process_that_still_held_the_latch_does_not_undo_a_release(
    store: Store,
) -> None:
    running = build_account(store)
    await fill(running, CAP + 1)
    resting = await running.service.place(
        OrderRequest(
            symbol=SYMBOL,
            side=Side.BUY,
            quantity=Decimal(1),
            limit_price=Decimal("99.00"),
            client_order_id="resting",
            strategy_id="s2",
        )
    )
    assert resting.status is OutcomeStatus.ACCEPTED
    alice = await person(store, running)
    await alice.release_execution_latch(
        strategy_id="s1", symbol=SYMBOL, by="alice", human=True, reason="reviewed"
    )

    fills = await running.service.on_quote(quote("98.90", at=running.clock.now()))

    assert [f.client_order_id for f in fills] == ["resting"]
    history = await stored_history(store)
    assert history.latched == ()
    assert [(p.strategy_id, len(p.fills)) for p in history.pairs] == [("s2", 1)]


async def test_an_unreadable_history_halts_until_a_person_replaces_it(store: Store) -> None:
    await store.put_state(EXECUTIONS_KEY, {"version": 99, "pairs": "?"})
    account = build_account(store)

    assert await account.service.restore() is None

    assert account.state.state is TradingState.HALTED
    assert await store.list_events(event_type="throttles.history_unreadable")
    await account.service.on_quote(quote(at=account.clock.now()))
    refused = await account.service.place(request("x-0", "s1"))
    assert "TRADING_HALTED" in refused.codes
    alice = await person(store, account)
    assert (
        await alice.release_execution_latch(
            strategy_id="s1", symbol=SYMBOL, by="alice", human=True, reason="reset it"
        )
        is None
    )
    [reset] = await store.list_events(event_type="throttles.history_reset")
    assert reset.details["raw"] == {"version": 99, "pairs": "?"}
    await alice.resume(by="alice", human=True, reason="history reviewed")
    await account.state.refresh()
    placed = await account.service.place(request("x-1", "s1"))
    assert placed.status is OutcomeStatus.FILLED


# --- the command line ----------------------------------------------------------------------


def _latch_in(db: Path) -> None:
    async def go() -> None:
        store = await open_store(f"sqlite:///{db}")
        try:
            await store.upgrade()
            # Fills stamped just now: the command's own (real) clock sees the same window.
            account = restarted(store, SystemClock().now())
            await fill(account, CAP + 1)
        finally:
            await store.close()

    asyncio.run(go())


def _after_release(db: Path) -> tuple[list[str], OrderStatus | None]:
    async def go() -> tuple[list[str], OrderStatus | None]:
        store = await open_store(f"sqlite:///{db}")
        try:
            events = await store.list_events(event_type="throttles.repeated_execution_released")
            account = restarted(store, SystemClock().now() + timedelta(seconds=30))
            await account.service.restore()
            outcome = await place_at_market(account, "s1-after", "s1", "2")
            status = outcome.order.status if outcome.order else None
            return [f"{e.details['by']}|{e.details['reason']}" for e in events], status
        finally:
            await store.close()

    return asyncio.run(go())


def test_state_release_from_the_command_line_is_audited_and_takes_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADING_CONFIG_DIR", str(PACKAGED_CONFIG_DIR))
    db = tmp_path / "cli.db"
    url = ["--db-url", f"sqlite:///{db}"]
    _latch_in(db)
    runner = CliRunner()

    status = runner.invoke(cli, ["state", "status", *url])
    assert status.exit_code == 0, status.output
    assert f"latched: strategy s1 on {SYMBOL}" in status.output
    blank = runner.invoke(
        cli, ["state", "release", "--strategy", "s1", "--symbol", SYMBOL, "--reason", " ", *url]
    )
    assert blank.exit_code == 2
    wrong = runner.invoke(
        cli, ["state", "release", "--strategy", "s9", "--symbol", SYMBOL, "--reason", "x", *url]
    )
    assert wrong.exit_code == 2
    assert "NOT_LATCHED" in wrong.output
    released = runner.invoke(
        cli,
        ["state", "release", "--strategy", "s1", "--symbol", SYMBOL, "--reason", "reviewed", *url],
    )
    assert released.exit_code == 0, released.output
    assert f"released: strategy s1 on {SYMBOL}" in released.output
    assert "latched" not in runner.invoke(cli, ["state", "status", *url]).output

    audited, status_after = _after_release(db)
    assert len(audited) == 1
    by, reason = audited[0].split("|")
    assert by.startswith("cli:")
    assert reason == "reviewed"
    assert status_after is OrderStatus.FILLED


# --- the app the MCP servers and the CLI open ----------------------------------------------

START = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(("policy", "left"), [(None, Decimal("0.01")), ("all", Decimal(0))])
async def test_open_app_flattens_on_the_kill_switch_only_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str | None, left: Decimal
) -> None:
    if policy is not None:
        monkeypatch.setenv("TRADING_KILL_SWITCH__FLATTEN", policy)
    settings = load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path / "data")
    assert settings.kill_switch.flatten == (policy or "never")
    app = await open_app(settings, channel="cli", clock=SimulatedClock(START))
    try:
        entry = await app.orders.place(
            OrderRequest(
                symbol="BTC/USD",
                side=Side.BUY,
                quantity=Decimal("0.01"),
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.IOC,
                client_order_id="entry",
            )
        )
        assert entry.status is OutcomeStatus.FILLED, entry.codes

        await app.state.activate_kill_switch(reason="operator", by="alice")

        assert app.account.portfolio.position("BTC/USD").quantity == left
        flattened = await app.store.list_events(event_type="kill_switch.flatten")
        assert len(flattened) == (1 if policy else 0)
    finally:
        await app.close()
