"""Risk limits at run time: tightening applies at once; loosening takes a person; caps never move.

The effective limits are, per key, the value set at run time (``config.risk_limits`` in the store)
or else the value in ``risk_limits.toml`` or else the hard cap, and always within the hard
cap (``risk.risk_config`` refuses anything beyond it). Values set at run time are kept in the
store, so every process on one database (the MCP servers, ``trading-core run``, the CLI) sees them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from trading_core.audit_trail import limit_change_row
from trading_core.domain.base import Frozen
from trading_core.domain.errors import ConfigurationError, TradingError
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.risk.risk_config import (
    SPECS,
    LimitInfo,
    RiskLimits,
    describe_limits,
    load_risk_limits,
)

_NUMERIC_KEYS = frozenset(spec.key for spec in SPECS if not isinstance(spec.cap, frozenset))
_ALL_KEYS = frozenset(spec.key for spec in SPECS)


class RiskLimitRefusedError(TradingError):
    code = "RISK_LIMIT_REFUSED"


class ChangeKind(StrEnum):
    TIGHTEN = "tighten"
    LOOSEN = "loosen"
    UNCHANGED = "unchanged"


class LimitChange(Frozen):
    """A proposed change of one limit, judged against the effective value."""

    key: str
    current: Decimal
    proposed: Decimal
    hard_cap: Decimal
    kind: ChangeKind


class RiskLimitsService:
    """Reads, judges and applies run-time changes of the numeric risk limits."""

    def __init__(self, store: Store, configured: RiskLimits, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._configured = configured
        self._effective = configured

    @property
    def effective(self) -> RiskLimits:
        return self._effective

    async def reload(self) -> RiskLimits:
        """Re-read run-time values from the store (another process may have changed them)."""
        mapping: dict[str, object] = {}
        for key in self._configured.configured_keys:
            configured: object = getattr(self._configured, key)
            # Allow-lists travel as lists through the loader, like the TOML file gives them.
            if isinstance(configured, frozenset):
                configured = sorted(str(v) for v in configured)
            mapping[key] = configured
        for key, stored in (await self._store.get_risk_limits()).items():
            if key in _NUMERIC_KEYS:
                mapping[key] = stored
        self._effective = load_risk_limits(mapping)
        return self._effective

    def describe(self) -> list[LimitInfo]:
        return describe_limits(self._effective)

    def judge(self, key: str, value: Decimal) -> LimitChange:
        """Classify a proposed value; raises :class:`RiskLimitRefusedError` when it is refused."""
        if key not in _ALL_KEYS:
            raise RiskLimitRefusedError(f"unknown risk limit {key!r}; known: {sorted(_ALL_KEYS)}")
        if key not in _NUMERIC_KEYS:
            raise RiskLimitRefusedError(
                f"{key} is an allow-list; change it in risk_limits.toml (tighten-only)"
            )
        try:
            checked = load_risk_limits({key: value})
        except ConfigurationError as exc:
            raise RiskLimitRefusedError(exc.message) from exc
        proposed = Decimal(getattr(checked, key))
        current = Decimal(getattr(self._effective, key))
        cap = next(Decimal(str(spec.cap)) for spec in SPECS if spec.key == key)
        if proposed < current:
            kind = ChangeKind.TIGHTEN
        elif proposed > current:
            kind = ChangeKind.LOOSEN
        else:
            kind = ChangeKind.UNCHANGED
        return LimitChange(key=key, current=current, proposed=proposed, hard_cap=cap, kind=kind)

    async def apply(self, change: LimitChange, *, by: str) -> RiskLimits:
        """Write ``change`` (already judged and, when loosening, approved by a person), and a
        ``limit_change`` row in audit.decisions saying who."""
        await self._store.set_risk_limit(change.key, change.proposed, updated_by=by)
        row = limit_change_row(
            key=change.key,
            current=change.current,
            proposed=change.proposed,
            hard_cap=change.hard_cap,
            kind=str(change.kind),
            by=by,
            at=self._clock.now(),
        )
        await self._store.record_decisions([row])
        return await self.reload()
