"""Paper broker: simulated executions against the quotes it is fed, deterministic under a seed.

Pricing rules (all numbers are Decimal, time comes from the injected clock):

- A market order takes liquidity: buys pay the ask, sells get the bid, each moved against the
  trader by a seeded random slippage in ``[0, slippage_bps]``.
- A limit order that is marketable when submitted also takes liquidity, at the better of its limit
  and the slipped quote, so never worse than the limit. Whatever is left rests in the book and
  fills at its limit price (as a maker, no slippage) on a later quote that crosses it: in a
  continuous market a resting order is hit at its own price as the market trades through it.
- Per quote, all orders in a symbol together execute at most ``max_participation x volume``, in
  time priority; a quote with volume 0 means "volume unknown" and sets no cap.
- IOC cancels whatever did not execute on submission; FOK executes in full or is cancelled.
- DAY orders expire on the first quote of a later UTC day (the broker knows no sessions).
- Stop and stop-limit orders, and orders in a symbol without a quote yet, are rejected: the broker
  fails closed rather than guess a price.

Every order moves through ``Order.transition`` / ``Order.with_fill``. No method awaits, so each call
runs to completion without interleaving with another on the same event loop.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from pydantic import ValidationError

from trading_core.domain.base import ZERO
from trading_core.domain.errors import BrokerError, ConfigurationError, DuplicateOrderError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.execution.paper_config import BPS_PER_UNIT, PaperBrokerConfig
from trading_core.ports.broker import BrokerReport
from trading_core.ports.clock import Clock

SLIPPAGE_STEPS = 10_000
"""Each taker fill draws ``k = Random(seed).randint(0, SLIPPAGE_STEPS)`` and slips by
``slippage_bps x k / SLIPPAGE_STEPS`` basis points: exact Decimals, reproducible from the seed."""

_SUPPORTED_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT})
_WORKING = frozenset({OrderStatus.SENT, OrderStatus.PARTIAL})


def paper_broker_order_id(broker: PaperBroker, sequence: int) -> str:
    """``paper-<owner>-000001``: the owner's lease says whether the order can still fill."""
    owner = f"{broker.owner}-" if broker.owner else ""
    return f"{broker.name}-{owner}{sequence:06d}"


def paper_order_owner(order: Order) -> str | None:
    """The lease owner a paper order's broker id names (None: sent before leases, or never)."""
    parts = (order.broker_order_id or "").split("-")
    return parts[1] if len(parts) == 3 else None


class PaperBroker:
    """A :class:`~trading_core.ports.broker.Broker` that simulates fills in memory."""

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int = 0,
        slippage_bps: Decimal = Decimal("2"),
        commission_bps: Decimal = Decimal("10"),
        min_commission: Decimal = Decimal("0"),
        max_participation: Decimal = Decimal("0.25"),
        name: str = "paper",
        owner: str | None = None,
    ) -> None:
        try:
            config = PaperBrokerConfig(
                seed=seed,
                slippage_bps=slippage_bps,
                commission_bps=commission_bps,
                min_commission=min_commission,
                max_participation=max_participation,
                name=name,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigurationError(f"invalid paper broker settings: {problems}") from exc
        self.config = config
        self.name = config.name
        self._clock = clock
        self._rng = random.Random(config.seed)
        self._orders: dict[str, Order] = {}
        self._order_id_by_client_id: dict[str, str] = {}
        # symbol -> working order ids in submission order (dict as an ordered set: time priority)
        self._working: dict[str, dict[str, None]] = {}
        self._quotes: dict[str, Quote] = {}
        # symbol -> quantity the latest quote can still absorb; None when its volume is unknown
        self._liquidity: dict[str, Decimal | None] = {}
        self._fill_counts: dict[str, int] = {}
        # symbol -> quantity executed since its bar opened (the per-bar volume cap)
        self._bar_used: dict[str, Decimal] = {}
        self._accepted = 0
        self.owner = owner
        """The process lease this broker's orders live under (their broker ids carry it)."""

    @classmethod
    def from_config(cls, clock: Clock, config: PaperBrokerConfig) -> PaperBroker:
        """Build a broker from an already validated config."""
        return cls(
            clock,
            seed=config.seed,
            slippage_bps=config.slippage_bps,
            commission_bps=config.commission_bps,
            min_commission=config.min_commission,
            max_participation=config.max_participation,
            name=config.name,
        )

    # -- Broker port ------------------------------------------------------------------------

    async def submit(self, order: Order) -> BrokerReport:
        """Accept, reject or execute a PENDING order; a repeated client order id changes nothing.

        Raises :class:`DuplicateOrderError` when the order id was already used under another
        client order id, and :class:`BrokerError` for an order that is not PENDING.
        """
        known_id = self._order_id_by_client_id.get(order.client_order_id)
        if known_id is not None:
            return BrokerReport(order=self._orders[known_id])
        if order.order_id in self._orders:
            first = self._orders[order.order_id]
            raise DuplicateOrderError(
                f"order id {order.order_id} was already submitted with client order id "
                f"{first.client_order_id}"
            )
        if order.status is not OrderStatus.PENDING:
            raise BrokerError(
                f"order {order.order_id} is {order.status}: only pending orders can be submitted"
            )
        now = self._now()
        rejection = self._rejection_reason(order)
        if rejection is not None:
            rejected = order.transition(OrderStatus.REJECTED, at=now, reason=rejection)
            self._store(rejected)
            return BrokerReport(order=rejected)
        self._accepted += 1
        sent = order.transition(
            OrderStatus.SENT, at=now, broker_order_id=paper_broker_order_id(self, self._accepted)
        )
        self._store(sent)
        report = self._match(sent, self._quotes[order.symbol], now, on_arrival=True)
        return report or BrokerReport(order=sent)

    async def cancel(self, order_id: str) -> BrokerReport:
        """Cancel a working order; a terminal order is returned unchanged.

        Raises :class:`BrokerError` with code ``ORDER_NOT_FOUND`` for an id never submitted here.
        """
        order = self._orders.get(order_id)
        if order is None:
            raise BrokerError(
                f"cannot cancel order {order_id}: the {self.name} broker has no such order",
                code="ORDER_NOT_FOUND",
            )
        if order.status.is_terminal:
            return BrokerReport(order=order)
        cancelled = order.transition(
            OrderStatus.CANCELLED, at=self._now(), reason="cancelled on request"
        )
        self._store(cancelled)
        return BrokerReport(order=cancelled)

    async def find_by_client_id(self, client_order_id: str) -> Order | None:
        """The order submitted under ``client_order_id``, in its current state, if any."""
        order_id = self._order_id_by_client_id.get(client_order_id)
        return None if order_id is None else self._orders[order_id]

    async def on_quote(self, quote: Quote) -> Sequence[BrokerReport]:
        """Learn a price and work the resting orders in its symbol, oldest first.

        A quote older than the last one seen for the symbol is ignored (an out-of-order update
        must not reprice the book). Returns one report per order that filled, expired or was
        cancelled by this quote.
        """
        return self._work_book(quote, quote.volume if quote.volume > 0 else None, gap=False)

    def _work_book(
        self, quote: Quote, volume: Decimal | None, *, gap: bool
    ) -> Sequence[BrokerReport]:
        now = self._now()
        last = self._quotes.get(quote.symbol)
        if last is not None and quote.timestamp < last.timestamp:
            return []
        self._quotes[quote.symbol] = quote
        self._liquidity[quote.symbol] = (
            None if volume is None else volume * self.config.max_participation
        )
        reports: list[BrokerReport] = []
        for order_id in list(self._working.get(quote.symbol, {})):
            order = self._orders[order_id]
            if order.time_in_force is TimeInForce.DAY and order.created_at.date() < now.date():
                expired = order.transition(
                    OrderStatus.EXPIRED, at=now, reason="DAY order expired: its UTC day is over"
                )
                self._store(expired)
                reports.append(BrokerReport(order=expired))
                continue
            report = self._match(order, quote, now, on_arrival=False, gap=gap)
            if report is not None:
                reports.append(report)
        return reports

    async def open_bar(
        self, quote: Quote, *, known_volume: Decimal | None
    ) -> Sequence[BrokerReport]:
        """A bar opens at ``quote`` (its open price): resting orders the open crosses fill.

        Liquidity until the bar closes is ``max_participation x known_volume``: the last
        volume known at the open (the previous bar's), never the bar's own, which is not known
        yet; None means unknown (no cap). A resting limit crossed by the open (a gap) fills at
        the open, the better of its limit and the open: ``min(limit, open)`` for a buy.
        """
        self._bar_used[quote.symbol] = ZERO
        volume = known_volume if known_volume is not None and known_volume > 0 else None
        return self._work_book(quote, volume, gap=True)

    async def close_bar(self, bar: Bar, quote: Quote) -> Sequence[BrokerReport]:
        """A bar closes: resting limits that its range reached fill, then ``quote`` is current.

        A buy limit fills when ``bar.low <= limit``, at ``min(limit, bar.open)`` (a sell when
        ``bar.high >= limit``, at ``max(limit, bar.open)``): inside the bar's range, as a maker.
        Everything this bar executed, at its open and during it, is at most
        ``max_participation x bar.volume``; what is left of that stays for orders placed before
        the next bar opens.
        """
        symbol = bar.symbol
        used = self._bar_used.get(symbol, ZERO)
        budget = None if bar.volume <= 0 else bar.volume * self.config.max_participation
        self._liquidity[symbol] = None if budget is None else max(ZERO, budget - used)
        now = self._now()
        reports: list[BrokerReport] = []
        for order_id in list(self._working.get(symbol, {})):
            order = self._orders[order_id]
            report = self._fill_in_range(order, bar, now)
            if report is not None:
                reports.append(report)
        last = self._quotes.get(symbol)
        if last is None or quote.timestamp >= last.timestamp:
            self._quotes[symbol] = quote
        return reports

    async def open_orders(self) -> Sequence[Order]:
        """Working orders (SENT or PARTIAL), oldest first within each symbol."""
        return [self._orders[oid] for ids in self._working.values() for oid in ids]

    # -- extras for callers and tests ---------------------------------------------------------

    def get_order(self, order_id: str) -> Order | None:
        """The current state of an order by its id, if it was submitted here."""
        return self._orders.get(order_id)

    # -- internals ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock.now()
        if now.tzinfo is None:
            raise BrokerError("the clock returned a naive timestamp; paper broker needs UTC")
        return now

    def _rejection_reason(self, order: Order) -> str | None:
        if order.order_type not in _SUPPORTED_TYPES:
            return f"the paper broker supports market and limit orders, not {order.order_type}"
        if order.symbol not in self._quotes:
            return f"no quote for {order.symbol} yet: the paper broker cannot price the order"
        return None

    def _store(self, order: Order) -> None:
        self._orders[order.order_id] = order
        self._order_id_by_client_id.setdefault(order.client_order_id, order.order_id)
        working = self._working.setdefault(order.symbol, {})
        if order.status in _WORKING:
            working.setdefault(order.order_id, None)
        else:
            working.pop(order.order_id, None)

    def _match(
        self, order: Order, quote: Quote, now: datetime, *, on_arrival: bool, gap: bool = False
    ) -> BrokerReport | None:
        """Execute what ``quote`` allows of ``order``; None when nothing changed."""
        crosses = _crosses(order, quote)
        available = self._liquidity.get(order.symbol)
        executable = ZERO
        if crosses:
            remaining = order.remaining_quantity
            executable = remaining if available is None else min(remaining, available)

        if order.time_in_force is TimeInForce.FOK and executable < order.remaining_quantity:
            wanted = _plain(order.remaining_quantity)
            reason = (
                f"FOK: only {_plain(executable)} of {wanted} executable"
                if crosses
                else "FOK: limit not marketable against the quote"
            )
            return self._finish(order, (), OrderStatus.CANCELLED, reason, now)

        fills: tuple[Fill, ...] = ()
        if executable > 0:
            # A market order always takes liquidity; a limit order only on arrival.
            taker = on_arrival or order.order_type is OrderType.MARKET
            if taker:
                price = self._taker_price(order, quote)
            elif gap:
                price = _better(order, quote.last)  # the open traded through the limit
            else:
                price = _limit_of(order)
            fill = self._fill(order, executable, price, now, taker=taker)
            order = order.with_fill(fill.quantity, fill.price, at=now)
            fills = (fill,)
            if available is not None:
                self._liquidity[order.symbol] = available - executable
            self._bar_used[order.symbol] = self._bar_used.get(order.symbol, ZERO) + executable

        if order.time_in_force is TimeInForce.IOC and order.status is not OrderStatus.FILLED:
            reason = (
                f"IOC: unfilled {_plain(order.remaining_quantity)} cancelled"
                if fills
                else "IOC: nothing executable against the quote"
            )
            return self._finish(order, fills, OrderStatus.CANCELLED, reason, now)
        if not fills:
            return None
        self._store(order)
        return BrokerReport(order=order, fills=fills)

    def _fill_in_range(self, order: Order, bar: Bar, now: datetime) -> BrokerReport | None:
        """Fill what ``bar``'s range and the bar's liquidity allow of a resting limit."""
        if order.order_type is not OrderType.LIMIT:
            return None
        limit = _limit_of(order)
        reached = bar.low <= limit if order.side is Side.BUY else bar.high >= limit
        available = self._liquidity.get(order.symbol)
        if not reached or available == ZERO:
            return None
        remaining = order.remaining_quantity
        executable = remaining if available is None else min(remaining, available)
        if executable <= 0:
            return None
        fill = self._fill(order, executable, _better(order, bar.open), now, taker=False)
        filled = order.with_fill(fill.quantity, fill.price, at=now)
        if available is not None:
            self._liquidity[order.symbol] = available - executable
        self._bar_used[order.symbol] = self._bar_used.get(order.symbol, ZERO) + executable
        self._store(filled)
        return BrokerReport(order=filled, fills=(fill,))

    def _finish(
        self,
        order: Order,
        fills: tuple[Fill, ...],
        status: OrderStatus,
        reason: str,
        now: datetime,
    ) -> BrokerReport:
        ended = order.transition(status, at=now, reason=reason)
        self._store(ended)
        return BrokerReport(order=ended, fills=fills)

    def _taker_price(self, order: Order, quote: Quote) -> Decimal:
        draw = self._rng.randint(0, SLIPPAGE_STEPS)
        slip = self.config.slippage_bps * draw / SLIPPAGE_STEPS / BPS_PER_UNIT
        limit = order.limit_price if order.order_type is OrderType.LIMIT else None
        if order.side is Side.BUY:
            paid = quote.ask * (1 + slip)
            return paid if limit is None else min(paid, limit)
        received = quote.bid * (1 - slip)
        return received if limit is None else max(received, limit)

    def _fill(
        self, order: Order, quantity: Decimal, price: Decimal, now: datetime, *, taker: bool
    ) -> Fill:
        count = self._fill_counts.get(order.order_id, 0) + 1
        self._fill_counts[order.order_id] = count
        notional = quantity * price
        commission = max(
            self.config.min_commission, notional * self.config.commission_bps / BPS_PER_UNIT
        )
        return Fill(
            fill_id=f"{order.order_id}-F{count}",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            commission=commission,
            timestamp=now,
            strategy_id=order.strategy_id,
            liquidity="taker" if taker else "maker",
            account=order.account,
        )


def _plain(value: Decimal) -> str:
    """``5.00`` -> ``5``, ``1E+2`` -> ``100``: quantities as a person writes them."""
    return f"{value.normalize():f}"


def _limit_of(order: Order) -> Decimal:
    if order.limit_price is None:  # guarded by the Order model; kept for the type checker
        raise BrokerError(f"order {order.order_id} has no limit price")
    return order.limit_price


def _better(order: Order, price: Decimal) -> Decimal:
    """The better of the order's limit and ``price`` for its side (what a gap through it gives)."""
    limit = _limit_of(order)
    return min(limit, price) if order.side is Side.BUY else max(limit, price)


def _crosses(order: Order, quote: Quote) -> bool:
    """Whether ``order`` can trade against ``quote`` at all (market orders always can)."""
    if order.order_type is OrderType.MARKET:
        return True
    limit = _limit_of(order)
    return quote.ask <= limit if order.side is Side.BUY else quote.bid >= limit
