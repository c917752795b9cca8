"""One risk view across accounts: equity and exposure over every venue, in one currency.

Each live run publishes a snapshot of its account (:class:`AccountSnapshot`: cash, positions
with their marks, open buys, when); a run whose configuration lists other accounts reads theirs
and :func:`firm_exposure` sums all of them into the firm's base currency, converting with
:class:`~trading_core.risk.fx.FxRates`. Anything it cannot vouch for (an account that never
published, a snapshot or a mark too old, a missing or stale rate) is a *problem*; the pre-trade
control turns problems into violations, so new exposure is refused rather than counted at zero.

Pure: no I/O, no clock of its own (``now`` is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from trading_core.domain.base import ZERO, Frozen, Money, NonNegativeDecimal, PositiveDecimal
from trading_core.domain.instrument import AssetClass

from .controls import Violation
from .fx import FxQuote, FxRates, FxUnavailable
from .market_hours import last_close, mark_age

FIRM_ACCOUNT_MISSING = "FIRM_ACCOUNT_MISSING"
FIRM_ACCOUNT_STALE = "FIRM_ACCOUNT_STALE"
FIRM_MARK_MISSING = "FIRM_MARK_MISSING"
FIRM_MARK_STALE = "FIRM_MARK_STALE"
SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """One position of an account, in its instrument's quote currency."""

    symbol: str
    currency: str
    quantity: Decimal
    mark: Decimal | None
    marked_at: datetime | None
    asset_class: str = AssetClass.CRYPTO
    """Its market's sessions decide how old the mark may be (see ``risk.market_hours``)."""


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What one account holds at ``as_of``, as the run that trades it sees it."""

    account: str
    currency: str
    """The currency ``cash`` is in."""
    cash: Decimal
    positions: tuple[HeldPosition, ...]
    as_of: datetime
    open_buys: Mapping[str, Decimal] = field(default_factory=dict)
    """Notional of open buy orders, by the currency they are priced in."""
    pairs: tuple[FxQuote, ...] = ()
    """The currency pairs' quotes the run sees (held or not), for the other runs' rates."""

    def to_state(self) -> dict[str, Any]:
        """JSON for the store (Decimals as strings, times as ISO 8601)."""
        return {
            "version": SNAPSHOT_VERSION,
            "account": self.account,
            "currency": self.currency,
            "cash": str(self.cash),
            "as_of": self.as_of.isoformat(),
            "open_buys": {ccy: str(n) for ccy, n in sorted(self.open_buys.items())},
            "pairs": [
                {"base": q.base, "quote": q.quote, "mid": str(q.mid), "at": q.at.isoformat()}
                for q in self.pairs
            ],
            "positions": [
                {
                    "symbol": p.symbol,
                    "currency": p.currency,
                    "quantity": str(p.quantity),
                    "mark": None if p.mark is None else str(p.mark),
                    "marked_at": None if p.marked_at is None else p.marked_at.isoformat(),
                    "asset_class": str(p.asset_class),
                }
                for p in self.positions
            ],
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> AccountSnapshot:
        """Parse :meth:`to_state`'s JSON; raises ``ValueError`` on anything else."""
        try:
            if data.get("version") != SNAPSHOT_VERSION:
                raise ValueError(f"snapshot version {data.get('version')!r} is not understood")
            return cls(
                account=str(data["account"]),
                currency=str(data["currency"]),
                cash=Decimal(data["cash"]),
                as_of=_aware(data["as_of"]),
                open_buys={str(c): Decimal(n) for c, n in dict(data["open_buys"]).items()},
                pairs=tuple(
                    FxQuote(
                        base=str(q["base"]),
                        quote=str(q["quote"]),
                        mid=Decimal(q["mid"]),
                        at=_aware(q["at"]),
                    )
                    for q in data["pairs"]
                ),
                positions=tuple(
                    HeldPosition(
                        symbol=str(p["symbol"]),
                        currency=str(p["currency"]),
                        quantity=Decimal(p["quantity"]),
                        mark=None if p["mark"] is None else Decimal(p["mark"]),
                        marked_at=None if p["marked_at"] is None else _aware(p["marked_at"]),
                        # Snapshots from before asset classes were kept: 24/7, the strict reading.
                        asset_class=str(AssetClass(p.get("asset_class", AssetClass.CRYPTO))),
                    )
                    for p in data["positions"]
                ),
            )
        except (KeyError, TypeError, InvalidOperation) as exc:
            raise ValueError(f"malformed account snapshot: {exc!r}") from exc

    def fx_quotes(self) -> list[FxQuote]:
        """The pair quotes and the marks of this account's currency pairs, as quotes a rate
        can be read from."""
        found = list(self.pairs)
        for p in self.positions:
            if p.mark is not None and p.marked_at is not None:
                quote = FxQuote.of(p.symbol, p.mark, p.marked_at)
                if quote is not None:
                    found.append(quote)
        return found


def _aware(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return moment


@dataclass(frozen=True, slots=True)
class FirmLimits:
    """How old an account's snapshot and a position's mark may be before they stop counting."""

    max_account_age: timedelta
    max_mark_age: timedelta


class FirmExposure(Frozen):
    """The firm's books in ``base_currency``, and the rate that prices the order at hand.

    ``problems`` lists what could not be vouched for; while it is not empty the totals are
    incomplete and a check must refuse any order that adds exposure.
    """

    base_currency: str
    equity: Money = ZERO
    gross_exposure: NonNegativeDecimal = ZERO
    net_exposure: Money = ZERO
    open_buy_notional: NonNegativeDecimal = ZERO
    order_rate: PositiveDecimal | None = None
    """Base-currency value of one unit of the order's currency (None: see ``problems``)."""
    accounts: tuple[str, ...] = ()
    problems: tuple[Violation, ...] = ()


def firm_exposure(
    snapshots: Mapping[str, AccountSnapshot | None],
    *,
    base_currency: str,
    order_currency: str,
    fx: FxRates,
    now: datetime,
    limits: FirmLimits,
) -> FirmExposure:
    """Sum ``snapshots`` (None: the account never published) into one view, or list why not."""
    problems: list[Violation] = []
    equity = gross = net = buys = ZERO

    def to_base(amount: Decimal, currency: str) -> Decimal:
        try:
            return amount * fx.rate(currency, base_currency)
        except FxUnavailable as exc:
            problems.append(Violation(code=exc.code, message=exc.message))
            return ZERO

    for account, snapshot in sorted(snapshots.items()):
        if snapshot is None:
            problems.append(
                Violation(
                    code=FIRM_ACCOUNT_MISSING,
                    message=f"account {account} has no readable snapshot (is its live run up?)",
                )
            )
            continue
        age = now - snapshot.as_of
        if age > limits.max_account_age:
            problems.append(
                Violation(
                    code=FIRM_ACCOUNT_STALE,
                    message=f"account {account}'s snapshot is {age.total_seconds():.0f}s old "
                    f"(max {limits.max_account_age.total_seconds():.0f}s)",
                )
            )
            continue
        equity += to_base(snapshot.cash, snapshot.currency)
        for currency, notional in snapshot.open_buys.items():
            buys += to_base(notional, currency)
        for p in snapshot.positions:
            if p.quantity == 0:
                continue
            problem = _mark_problem(account, p, now, limits.max_mark_age)
            if problem is not None:
                problems.append(problem)
                continue
            assert p.mark is not None
            value = to_base(p.quantity * p.mark, p.currency)
            equity += value
            gross += abs(value)
            net += value
    order_rate: Decimal | None = None
    try:
        order_rate = fx.rate(order_currency, base_currency)
    except FxUnavailable as exc:
        problems.append(Violation(code=exc.code, message=exc.message))
    return FirmExposure(
        base_currency=base_currency,
        equity=equity,
        gross_exposure=gross,
        net_exposure=net,
        open_buy_notional=buys,
        order_rate=order_rate,
        accounts=tuple(sorted(snapshots)),
        problems=tuple(_unique(problems)),
    )


def _mark_problem(
    account: str, position: HeldPosition, now: datetime, max_age: timedelta
) -> Violation | None:
    if position.mark is None or position.marked_at is None:
        return Violation(
            code=FIRM_MARK_MISSING,
            message=f"{account}'s {position.symbol} position has no mark to value it at",
        )
    age = mark_age(position.asset_class, position.marked_at, now)
    if age > max_age:
        when = "" if last_close(position.asset_class, now) is None else " at its market's close"
        return Violation(
            code=FIRM_MARK_STALE,
            message=f"{account}'s {position.symbol} mark was {age.total_seconds():.0f}s old"
            f"{when} (max {max_age.total_seconds():.0f}s)",
        )
    return None


def _unique(found: Iterable[Violation]) -> list[Violation]:
    seen: set[Violation] = set()
    kept = []
    for v in found:
        if v not in seen:
            seen.add(v)
            kept.append(v)
    return kept
