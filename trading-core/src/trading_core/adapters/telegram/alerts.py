"""What the bot pushes: breaker trips, the kill switch, reconciliation mismatches, large fills.

Alerts are read from the store, not the bus: every process on the database (``trading-core run``,
the MCP servers, the CLI) writes its events to ``audit.system_events`` and its fills to
``trading.trades``, while the bus is in-process unless Redis is configured, and a lost bus
message must not lose an alert. The watcher starts from what is already there (no replay of
history at start) and then reports each new event and fill once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from trading_core.domain.fill import Fill
from trading_core.domain.state import Severity, SystemEvent
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.reporting.rounding import TickOf, round_payload

from .throttle import Alert

ALERT_EVENT_TYPES: Final = (
    "breaker.",
    "kill_switch.",
    "trading_state.state_killed",
    "reconciliation.mismatch",
)
"""Event types pushed whatever their severity (prefixes); any CRITICAL event is pushed too."""
FILL_LOOKBACK: Final = timedelta(minutes=10)
"""Fills are read back this far on every poll: a fill stored a little after its timestamp (a
slow venue report) is still seen; each is reported once."""
EVENTS_PER_POLL: Final = 500
_ICON = {Severity.INFO: "[info]", Severity.WARNING: "[warning]", Severity.CRITICAL: "[CRITICAL]"}


def is_alert(event: SystemEvent) -> bool:
    """Whether ``event`` is pushed to the operators."""
    return event.severity is Severity.CRITICAL or event.event_type.startswith(ALERT_EVENT_TYPES)


def event_alert(event: SystemEvent) -> Alert:
    return Alert(
        text=f"{_ICON[event.severity]} {event.event_type}: {event.message}",
        severity=event.severity,
    )


def fill_alert(fill: Fill, *, currency: str, tick_of: TickOf) -> Alert:
    shown = round_payload(
        {"symbol": fill.symbol, "price": fill.price, "notional": fill.notional},
        currency=currency,
        tick_of=tick_of,
    )
    return Alert(
        text=(
            f"[fill] {fill.side} {fill.quantity} {fill.symbol} @ {shown['price']} "
            f"({shown['notional']} {currency} notional, {fill.account}, order {fill.order_id})"
        ),
        severity=Severity.INFO,
    )


class AlertWatcher:
    """Turns new rows of the store into alerts; call :meth:`prime` once, then :meth:`poll`."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        fill_notional: Decimal | None,
        currency: str,
        tick_of: TickOf,
    ) -> None:
        self._store = store
        self._clock = clock
        self._fill_notional = fill_notional
        self._currency = currency
        self._tick_of = tick_of
        self._last_event_id = 0
        self._seen_fills: dict[str, datetime] = {}

    async def prime(self) -> None:
        """Take what is stored now as already seen."""
        newest = await self._store.list_events(limit=1)
        self._last_event_id = (newest[0].id or 0) if newest else 0
        for fill in await self._fills():
            self._seen_fills[fill.fill_id] = fill.timestamp

    async def poll(self) -> list[Alert]:
        """The alerts for what was stored since the last poll, oldest first."""
        alerts: list[Alert] = []
        # Newest first: more than EVENTS_PER_POLL between two polls leaves the oldest of them to
        # the audit table alone (a flood the throttle would have summarised anyway).
        events = await self._store.list_events(limit=EVENTS_PER_POLL)
        fresh = sorted((e for e in events if (e.id or 0) > self._last_event_id), key=_event_id)
        if fresh:
            self._last_event_id = _event_id(fresh[-1])
        alerts += [event_alert(e) for e in fresh if is_alert(e)]
        since = self._clock.now() - FILL_LOOKBACK
        for fill in await self._fills():
            if fill.fill_id in self._seen_fills:
                continue
            self._seen_fills[fill.fill_id] = fill.timestamp
            if self._fill_notional is not None and fill.notional >= self._fill_notional:
                alerts.append(fill_alert(fill, currency=self._currency, tick_of=self._tick_of))
        self._seen_fills = {k: t for k, t in self._seen_fills.items() if t >= since}
        return alerts

    async def _fills(self) -> list[Fill]:
        fills = await self._store.list_fills(since=self._clock.now() - FILL_LOOKBACK)
        # A replay's own book is a simulation, not the account the operators watch.
        return [f for f in fills if not f.account.startswith("replay:")]


def _event_id(event: SystemEvent) -> int:
    return event.id or 0
