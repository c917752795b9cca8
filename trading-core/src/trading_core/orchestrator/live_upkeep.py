"""What a live run does besides trading: the dead man's switch, and reconciliation on schedule.

- The dead man's switch (Kraken's ``CancelAllOrdersAfter``) is re-armed by a background task every
  third of its timeout, so a process that hangs or dies leaves no order working for longer than
  that. A refresh that fails is alerted and retried; if the process cannot reach Kraken for a whole
  timeout, Kraken cancels, which is what the switch is for.
- Reconciliation runs in the background every ``reconciliation.interval_minutes`` and once at the
  start of each UTC day ("daily"), whether bars arrive or not (a dead feed is no reason to stop
  comparing the books), under the account's order gate: nothing is checked, sent or booked
  during a pass, so an order of ours in flight can never look unknown.
- The account's snapshot for the firm risk view is published every ``firm.publish_seconds``, so
  the other venues' runs keep counting it (they refuse new exposure once it is too old).
- A person's kill switch, pause or resume from another process is read every ``state_poll``
  (seconds), not once a bar: a kill cancels Kraken's orders within seconds even while the run
  waits minutes for its next candle.
- When the run stops, a kept order (``on_stop = "keep"``) stays: the switch is disarmed. With
  ``cancel`` the orders are cancelled first and the switch is disarmed all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta

from trading_core.domain.errors import BrokerError, TradingError
from trading_core.domain.state import Severity, SystemEvent
from trading_core.execution.order_service import OrderService
from trading_core.execution.reconciliation import Reconciler, ReconciliationReport, Trigger
from trading_core.execution.trading_state import TradingStateService
from trading_core.ports.clock import Clock

log = logging.getLogger(__name__)
COMPONENT = "orchestrator.live_upkeep"
RECONCILE_CHECK_SECONDS = 15.0


class LiveUpkeep:
    """The dead man's switch task and the reconciliation schedule of one live run."""

    def __init__(
        self,
        *,
        dead_man_switch: Callable[[timedelta], Awaitable[object]] | None,
        reconciler: Reconciler,
        orders: OrderService,
        state: TradingStateService,
        clock: Clock,
        interval: timedelta,
        dead_man: timedelta,
        state_poll: timedelta = timedelta(seconds=2),
        publish_every: timedelta | None = None,
    ) -> None:
        self._arm = dead_man_switch
        self._reconciler = reconciler
        self._orders = orders
        self._state = state
        self._clock = clock
        self._interval = interval
        self._dead_man = dead_man
        self._state_poll = state_poll
        self._publish_every = publish_every
        started = clock.now()
        self._last_pass = started  # the start-up pass has just run
        self._day: date = started.date()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def reconcile_if_due(self) -> ReconciliationReport | None:
        """Reconcile when the interval has passed, or the UTC day has turned (else None)."""
        now = self._clock.now()
        trigger: Trigger
        if now.date() != self._day:
            trigger = "daily"
        elif now - self._last_pass >= self._interval:
            trigger = "periodic"
        else:
            return None
        self._day, self._last_pass = now.date(), now
        async with self._orders.gated():
            return await self._reconciler.periodic(trigger)

    async def start(self) -> None:
        """Arm the switch now (a failure here refuses the start), then keep it armed.

        A venue without one (IB) only gets the trading-state watch.
        """
        self._tasks = [
            asyncio.create_task(self._watch_state(), name="trading-state-watch"),
            asyncio.create_task(self._reconcile_on_schedule(), name="reconciliation"),
        ]
        if self._publish_every is not None:
            self._tasks.append(asyncio.create_task(self._publish(), name="firm-snapshot"))
        if self._arm is not None:
            await self._arm(self._dead_man)
            self._tasks.append(asyncio.create_task(self._keep_armed(), name="dead-man-switch"))

    async def stop(self) -> None:
        """Stop refreshing and disarm the switch (the run's own stop has settled its orders)."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._arm is None:
            return
        try:
            await self._arm(timedelta(0))
        except BrokerError as exc:
            log.warning("dead man's switch not disarmed: %s", exc)

    async def _every(self, period: float) -> AsyncIterator[None]:
        """Wake every ``period`` seconds until the upkeep stops (a stop ends the wait at once)."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=period)
            if self._stopping.is_set():
                return
            yield

    async def _keep_armed(self) -> None:
        period = self._dead_man.total_seconds() / 3
        async for _ in self._every(period):
            assert self._arm is not None
            try:
                await self._arm(self._dead_man)
            except BrokerError as exc:
                await self._state.alert(
                    SystemEvent(
                        timestamp=self._clock.now(),
                        event_type="broker.dead_man_switch_failed",
                        component=COMPONENT,
                        severity=Severity.WARNING,
                        message=f"dead man's switch not refreshed: {exc}",
                    )
                )

    async def _watch_state(self) -> None:
        period = self._state_poll.total_seconds()
        async for _ in self._every(period):
            try:
                await self._state.refresh()  # runs the kill actions on a new kill
            except TradingError as exc:
                # The store out of reach: the next bar's refresh (and the gate) still check.
                log.warning("trading state not refreshed: %s", exc)

    async def _publish(self) -> None:
        # The other venues' runs refuse new exposure once this book's snapshot is too old: keep
        # it fresh whether or not anything trades.
        assert self._publish_every is not None
        period = self._publish_every.total_seconds()
        async for _ in self._every(period):
            try:
                await self._orders.publish_snapshot()
            except TradingError as exc:
                log.warning("firm snapshot not published: %s", exc)

    async def _reconcile_on_schedule(self) -> None:
        # Checked often, run when due: a pass is due by the clock, not by this loop's period.
        period = min(self._interval.total_seconds(), RECONCILE_CHECK_SECONDS)
        async for _ in self._every(period):
            try:
                await self.reconcile_if_due()
            except TradingError as exc:
                # The store or the gate out of reach: the next check tries again; the venue's
                # own failures are counted by the reconciler (and reduce trading).
                log.warning("reconciliation pass not run: %s", exc)
            except Exception:  # the schedule must outlive any one pass
                log.exception("reconciliation pass failed; the next one runs on schedule")
