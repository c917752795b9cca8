"""The trading state as a service: persisted, restored on restart, announced on every change.

The rules live in the pure ``risk.states`` and ``risk.breakers`` modules; this service applies
their outcomes: it writes the record to the store (the truth), each event to
``audit.system_events``, each transition of the shared state as a ``state_change`` row of
``audit.decisions`` (with who set it), publishes an alert on the ``alerts`` channel, and sets the
``trading_state`` gauge. A failed alert never undoes a state change: the database is the truth.
The breakers run on the effective thresholds given at construction (``RiskLimits.breakers``, the
hard values by default); they also set the kill-switch latch.

The service also keeps the repeated-execution history (``risk.throttles.ExecutionHistory``) of the
shared account under :data:`EXECUTIONS_KEY`: the order service reads and writes it through
:meth:`TradingStateService.load_executions` / :meth:`~TradingStateService.save_executions`, and
only a person releases a latched pair (:meth:`~TradingStateService.release_execution_latch`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Final, Protocol

from pydantic import ValidationError

from trading_core.audit_trail import state_change_row
from trading_core.domain.errors import BusUnavailableError, TradingError
from trading_core.domain.state import Severity, SystemEvent, TradingState
from trading_core.ports.bus import SESSION_STATE_KEY, Bus, circuit_key
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.risk import breakers, states
from trading_core.risk.breaker_config import BreakerLimits
from trading_core.risk.states import HumanApprovalRequired, Outcome, ReasonRequired, StateRecord
from trading_core.risk.throttles import ExecutionHistory, ExecutionPair

STATE_KEY: Final = "trading_state"
EXECUTIONS_KEY: Final = "throttles:repeated_executions"
"""Store key of the shared account's repeated-execution history (latched pairs, recent fills)."""
EXECUTIONS_COMPONENT: Final = "risk.throttles"


class NotLatched(TradingError):
    """A release named a strategy and symbol the repeated-execution latch does not hold."""

    code = "NOT_LATCHED"


class StateGauge(Protocol):
    def set_trading_state(self, state: TradingState) -> None: ...


class TradingStateService:
    """Holds the current StateRecord and applies transitions durably."""

    def __init__(
        self,
        record: StateRecord,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        gauge: StateGauge | None = None,
        key: str = STATE_KEY,
        breaker_limits: BreakerLimits | None = None,
    ) -> None:
        self._key = key
        self._breakers = breakers.HARD_THRESHOLDS if breaker_limits is None else breaker_limits
        self._record = record
        self._store = store
        self._bus = bus
        self._clock = clock
        self._gauge = gauge
        self._on_kill: list[Callable[[], Awaitable[object]]] = []

    @classmethod
    async def load(
        cls,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        gauge: StateGauge | None = None,
        key: str = STATE_KEY,
        breaker_limits: BreakerLimits | None = None,
    ) -> TradingStateService:
        """Restore the persisted state (a corrupt record restores as HALTED, never ACTIVE).

        ``key`` names the account's state: the shared one by default; a replay uses its own so
        a simulation never trips (or is blocked by) the live kill switch. ``breaker_limits`` are
        the effective breaker thresholds (``RiskLimits.breakers``); None means the hard values.
        """
        stored = await store.get_state(key)
        record, events = states.restore(stored, now=clock.now())
        service = cls(
            record,
            store=store,
            bus=bus,
            clock=clock,
            gauge=gauge,
            key=key,
            breaker_limits=breaker_limits,
        )
        await service._commit((record, events), force=stored is None)
        if key == STATE_KEY:
            await service._announce_session_state(service._record)  # the bus may be new
        return service

    @property
    def record(self) -> StateRecord:
        return self._record

    @property
    def shared(self) -> bool:
        """True for the shared account, which other processes and a restart see (not a replay)."""
        return self._key == STATE_KEY

    @property
    def breaker_limits(self) -> BreakerLimits:
        """The thresholds the breakers run on (and the kill-switch latch)."""
        return self._breakers

    @property
    def state(self) -> TradingState:
        return states.expire(self._record, self._clock.now())[0].state

    async def refresh(self) -> None:
        """Adopt a change made by another process (a person's CLI command) from the store.

        A kill switch fired elsewhere also runs this process's kill callbacks (cancel orders).
        Only the shared state can change elsewhere; a replay's own key is never read back.
        """
        if self._key != STATE_KEY:
            return
        stored = await self._store.get_state(self._key)
        record, events = states.restore(stored, now=self._clock.now())
        if record == self._record and not events:
            return
        # A new activation (even on top of a kill in force) starts a new kill episode: its
        # actions run again, so a person can retry a flatten a control refused the first time.
        newly_killed = record.kill_switch and (
            not self._record.kill_switch or record.since != self._record.since
        )
        await self._commit((record, events))
        if newly_killed:
            await self._run_kill_actions()

    def on_kill(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Run ``callback`` (e.g. cancel every open order) whenever the kill switch fires.

        Callbacks run in the order registered, after KILLED is latched and persisted.
        """
        self._on_kill.append(callback)

    def order_allowed(self, *, reduces_position: bool, is_cancel: bool = False) -> str | None:
        """None when an order may leave now, else the stable code that blocks it."""
        allowed, code = states.order_allowed(
            self._record,
            reduces_position=reduces_position,
            is_cancel=is_cancel,
            now=self._clock.now(),
        )
        return None if allowed else code

    async def evaluate(self, compute: Callable[[], tuple[Decimal, Decimal]]) -> None:
        """Run the breakers on (daily P&L %, drawdown %); any failure fails closed."""
        now = self._clock.now()
        expired = states.expire(self._record, now)
        await self._commit(expired)
        await self._commit(
            breakers.evaluate_safely(compute, self._record, now, thresholds=self._breakers)
        )

    async def pause(self, *, reason: str, minutes: int, by: str) -> StateRecord:
        await self._commit(
            states.pause(self._record, reason=reason, minutes=minutes, now=self._clock.now(), by=by)
        )
        return self._record

    async def halt(self, *, reason: str, by: str) -> StateRecord:
        """HALTED until a person resumes (the repeated-execution latch)."""
        await self._commit(states.halt(self._record, reason=reason, now=self._clock.now(), by=by))
        return self._record

    async def reduce(self, *, reason: str, by: str) -> StateRecord:
        """REDUCING until a person resumes: only orders that reduce a position may leave."""
        await self._commit(states.reduce(self._record, reason=reason, now=self._clock.now(), by=by))
        return self._record

    async def resume(self, *, by: str, human: bool, reason: str) -> StateRecord:
        await self._commit(
            states.resume(self._record, now=self._clock.now(), by=by, human=human, reason=reason)
        )
        return self._record

    async def activate_kill_switch(self, *, reason: str, by: str) -> StateRecord:
        """Latch KILLED first (so nothing new leaves), then cancel open orders."""
        await self._commit(
            states.activate_kill_switch(
                self._record,
                reason=reason,
                now=self._clock.now(),
                by=by,
                latch=self._breakers.kill_latch,
            )
        )
        await self._run_kill_actions()
        return self._record

    async def reset_kill_switch(
        self, *, reason: str, by: str, human: bool, override_latch: bool = False
    ) -> StateRecord:
        await self._commit(
            states.reset_kill_switch(
                self._record,
                reason=reason,
                now=self._clock.now(),
                by=by,
                human=human,
                override_latch=override_latch,
            )
        )
        return self._record

    async def alert(self, event: SystemEvent) -> None:
        """Write ``event`` to audit.system_events and publish it on the ``alerts`` channel."""
        await self._store.record_event(event)
        await self._alert(event)

    async def load_executions(self, *, fail_closed: bool = True) -> ExecutionHistory | None:
        """The persisted repeated-execution history; None when it is unreadable.

        Nothing stored is an empty history. An unreadable one fails closed: the account is
        HALTED (a latch may hide in it) until a person releases it (:meth:`release_execution_latch`
        replaces it) and resumes. ``fail_closed=False`` only reads (a status display).
        """
        stored = await self._store.get_state(self.executions_key)
        try:
            return ExecutionHistory.from_json_dict(stored or {})
        except ValidationError as exc:
            if not fail_closed:
                return None
            await self.alert(
                self._executions_event(
                    "throttles.history_unreadable",
                    Severity.CRITICAL,
                    "repeated-execution history unreadable: halting",
                    error=str(exc),
                )
            )
            await self.halt(reason="repeated-execution history unreadable", by=EXECUTIONS_COMPONENT)
            return None

    async def save_executions(self, history: ExecutionHistory) -> None:
        """Persist the repeated-execution history (the order service calls this on each fill)."""
        await self._store.put_state(self.executions_key, history.to_json_dict())

    async def release_execution_latch(
        self, *, strategy_id: str, symbol: str, by: str, human: bool, reason: str
    ) -> ExecutionPair | None:
        """Re-enable a strategy and symbol latched by repeated executions. A person only.

        The pair's latch and fill history are forgotten; running order services adopt the change
        before their next order. Returns the released pair, or None when the stored history was
        unreadable and was replaced by an empty one (its raw value is kept in the audit event).
        The trading state is not changed: lifting HALTED is ``resume``, a separate decision.
        """
        if not human:
            raise HumanApprovalRequired("only a person can release a repeated-execution latch")
        if not reason.strip():
            raise ReasonRequired("releasing a latch needs a reason (what was reviewed)")
        stored = await self._store.get_state(self.executions_key)
        try:
            history = ExecutionHistory.from_json_dict(stored or {})
        except ValidationError:
            await self.save_executions(ExecutionHistory())
            await self.alert(
                self._executions_event(
                    "throttles.history_reset",
                    Severity.CRITICAL,
                    f"unreadable repeated-execution history replaced by {by}: {reason}",
                    by=by,
                    reason=reason,
                    raw=stored,
                )
            )
            return None
        pair = history.find(strategy_id, symbol)
        if pair is None or pair.latched_at is None:
            held = ", ".join(f"{p.strategy_id or '-'}/{p.symbol}" for p in history.latched)
            raise NotLatched(
                f"strategy {strategy_id or '-'} on {symbol} is not latched "
                f"(latched: {held or 'none'})"
            )
        await self.save_executions(history.without(strategy_id, symbol))
        await self.alert(
            self._executions_event(
                "throttles.repeated_execution_released",
                Severity.WARNING,
                f"repeated-execution latch on {strategy_id or '-'}/{symbol} released by {by}: "
                f"{reason}",
                strategy_id=strategy_id,
                symbol=symbol,
                by=by,
                reason=reason,
                latched_at=pair.latched_at.isoformat(),
                fills=len(pair.fills),
                trading_state=str(self.state),
            )
        )
        return pair

    @property
    def executions_key(self) -> str:
        """Where this account's repeated-execution history lives (a replay has its own)."""
        return EXECUTIONS_KEY if self.shared else f"{EXECUTIONS_KEY}:{self._key}"

    def _executions_event(
        self, kind: str, severity: Severity, message: str, **details: object
    ) -> SystemEvent:
        return SystemEvent(
            timestamp=self._clock.now(),
            event_type=kind,
            component=EXECUTIONS_COMPONENT,
            severity=severity,
            message=message,
            details=details,
        )

    async def _run_kill_actions(self) -> None:
        """Every kill callback runs even if an earlier one fails (a failed cancel must not skip
        the flatten); each failure is alerted, and the first is raised once all have run."""
        failures: list[Exception] = []
        for callback in self._on_kill:
            try:
                await callback()
            except Exception as exc:  # noqa: BLE001 - alerted here, re-raised below
                failures.append(exc)
                await self.alert(
                    SystemEvent(
                        timestamp=self._clock.now(),
                        event_type="kill_switch.action_failed",
                        component="execution.trading_state",
                        severity=Severity.CRITICAL,
                        message=f"kill switch action failed: {type(exc).__name__}: {exc}",
                        details={"action": getattr(callback, "__qualname__", repr(callback))},
                    )
                )
        if failures:
            raise failures[0]

    async def _commit(self, outcome: Outcome, *, force: bool = False) -> None:
        record, events = outcome
        previous = self._record
        changed = record != previous
        self._record = record
        if changed or force or events:
            await self._store.put_state(self._key, record.to_json_dict())
        for event in events:
            await self._store.record_event(event)
            await self._alert(event)
        if changed and events and self._key == STATE_KEY:
            # Only where the transition is made (it has events): a process adopting another's
            # change in refresh() has none, so each decision is one row. A replay's own state
            # stays in audit.system_events; its bars' rows already say TRADING_HALTED.
            row = state_change_row(previous, record, events, at=self._clock.now())
            await self._store.record_decisions([row])
        if self._gauge is not None:
            self._gauge.set_trading_state(record.state)
        if (changed or force) and self._key == STATE_KEY:
            await self._announce_session_state(record)

    async def _alert(self, event: SystemEvent) -> None:
        # The event is already in audit.system_events; the bus only notifies.
        with contextlib.suppress(BusUnavailableError):
            await self._bus.publish("alerts", event.model_dump(mode="json", exclude={"id"}))

    async def _announce_session_state(self, record: StateRecord) -> None:
        # The store holds the state; the bus keys are a cache for dashboards and Telegram.
        with contextlib.suppress(BusUnavailableError):
            await self._bus.set(SESSION_STATE_KEY, record.state.value)
            for component, value in circuit_levels(record).items():
                await self._bus.set(circuit_key(component), value)


def circuit_levels(record: StateRecord) -> dict[str, str]:
    """What ``circuit:{component}`` shows: each breaker's level and the kill switch."""
    return {
        "drawdown": record.breaker_tier.name.lower(),
        "daily_loss": str(record.daily_level.value),
        "kill_switch": "on" if record.kill_switch else "off",
    }
