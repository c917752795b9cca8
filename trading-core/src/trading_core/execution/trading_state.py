"""The trading state as a service: persisted, restored on restart, announced on every change.

The rules live in the pure ``risk.states`` and ``risk.breakers`` modules; this service applies
their outcomes: it writes the record to the store (the truth), each event to
``audit.system_events``, publishes an alert on the ``alerts`` channel, and sets the
``trading_state`` gauge. A failed alert never undoes a state change: the database is the truth.
The breakers run on the effective thresholds given at construction (``RiskLimits.breakers``, the
hard values by default); they also set the kill-switch latch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Final, Protocol

from trading_core.domain.errors import BusUnavailableError
from trading_core.domain.state import SystemEvent, TradingState
from trading_core.ports.bus import SESSION_STATE_KEY, Bus
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.risk import breakers, states
from trading_core.risk.breaker_config import BreakerLimits
from trading_core.risk.states import Outcome, StateRecord

STATE_KEY: Final = "trading_state"


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
        return service

    @property
    def record(self) -> StateRecord:
        return self._record

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
        newly_killed = record.kill_switch and not self._record.kill_switch
        await self._commit((record, events))
        if newly_killed:
            for callback in self._on_kill:
                await callback()

    def on_kill(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Run ``callback`` (e.g. cancel every open order) whenever the kill switch fires."""
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
        for callback in self._on_kill:
            await callback()
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

    async def _commit(self, outcome: Outcome, *, force: bool = False) -> None:
        record, events = outcome
        changed = record != self._record
        self._record = record
        if changed or force or events:
            await self._store.put_state(self._key, record.to_json_dict())
        for event in events:
            await self._store.record_event(event)
            await self._alert(event)
        if self._gauge is not None:
            self._gauge.set_trading_state(record.state)
        if (changed or force) and self._key == STATE_KEY:
            await self._announce_session_state(record)

    async def _alert(self, event: SystemEvent) -> None:
        # The event is already in audit.system_events; the bus only notifies.
        with contextlib.suppress(BusUnavailableError):
            await self._bus.publish("alerts", event.model_dump(mode="json", exclude={"id"}))

    async def _announce_session_state(self, record: StateRecord) -> None:
        # The store holds the state; the bus key is a cache for dashboards and Telegram.
        with contextlib.suppress(BusUnavailableError):
            await self._bus.set(SESSION_STATE_KEY, record.state.value)
