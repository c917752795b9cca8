"""Kraken spot trading through ccxt, behind the Broker port.

- Idempotency: every order carries ``cl_ord_id``, a UUID derived from the client order id
  (:func:`kraken_client_id`), so the same order always has the same id at Kraken and a lost
  answer is resolved by looking that id up (:meth:`KrakenBroker.find_by_client_id`), never by
  sending again.
- Executions are read from Kraken's order info (``vol_exec``, ``cost``, ``fee`` as strings, so
  Decimals stay exact): each increase of ``vol_exec`` is one fill whose id names the order and the
  executed volume, so a report seen twice counts once.
- Errors: an answer in Kraken's error envelope (insufficient funds, invalid order, bad pair,
  permission) is a definite refusal and comes back as a REJECTED order with Kraken's message. A
  network failure, a timeout, a rate limit, a bad nonce or Kraken being unavailable raise
  :class:`~trading_core.domain.errors.BrokerError`: the order may have arrived, so the order
  service marks it UNKNOWN until a lookup settles it.
- Rate limits: ccxt's own limiter (``enableRateLimit``) spaces every call; working orders are
  polled at most every ``poll_interval`` however often quotes arrive.
- Dead man's switch: :meth:`KrakenBroker.arm_dead_man_switch` (``CancelAllOrdersAfter``) cancels
  every order at Kraken if this process stops refreshing it.
- Reconciliation (:class:`~trading_core.ports.venue.VenueAccount`): every open order at Kraken
  (``OpenOrders``), exact balances (``BalanceEx``, read as strings) and the last price
  (``Ticker``); orders from before a restart are followed again with :meth:`KrakenBroker.track`.

Only market and limit orders (GTC, IOC) are sent; anything else is rejected here, before Kraken.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import ccxt.async_support as ccxt

from trading_core.domain.errors import BrokerError, OrderNotFoundError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.marketdata.kraken import describe_failure, point_at
from trading_core.ports.broker import BrokerReport
from trading_core.ports.clock import Clock
from trading_core.ports.venue import VenueOrder

KRAKEN_ACCOUNT = "kraken"
"""The book a live Kraken run trades (apart from the paper account and every replay's)."""
_CLIENT_ID_NAMESPACE = uuid.UUID("6f1c2b8e-3c55-4d0e-9a55-6b6f3d7c1a01")
_WORKING = frozenset({OrderStatus.SENT, OrderStatus.PARTIAL, OrderStatus.UNKNOWN})
_SUPPORTED = {
    (OrderType.MARKET, TimeInForce.GTC),
    (OrderType.MARKET, TimeInForce.IOC),
    (OrderType.LIMIT, TimeInForce.GTC),
    (OrderType.LIMIT, TimeInForce.IOC),
}
_KRAKEN_STATUS = {
    "pending": OrderStatus.SENT,
    "open": OrderStatus.SENT,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "expired": OrderStatus.EXPIRED,
}


class TradingExchange(Protocol):
    """The part of ccxt's async Kraken client the broker uses."""

    async def load_markets(self, reload: bool = False, params: dict[str, Any] = ...) -> Any: ...

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Any,
        price: Any = None,
        params: dict[str, Any] = ...,
    ) -> dict[str, Any]: ...

    async def cancel_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] = ...
    ) -> dict[str, Any]: ...

    async def fetch_order(
        self, id: str, symbol: str | None = None, params: dict[str, Any] = ...
    ) -> dict[str, Any]: ...

    async def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] = ...,
    ) -> list[dict[str, Any]]: ...

    async def fetch_closed_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] = ...,
    ) -> list[dict[str, Any]]: ...

    async def cancel_all_orders(
        self, symbol: str | None = None, params: dict[str, Any] = ...
    ) -> Any: ...

    async def fetch_balance(self, params: dict[str, Any] = ...) -> Any: ...

    async def fetch_ticker(self, symbol: str, params: dict[str, Any] = ...) -> Any: ...

    def safe_currency_code(self, currency_id: str | None, currency: Any = None) -> str: ...

    async def cancel_all_orders_after(
        self, timeout: int, params: dict[str, Any] = ...
    ) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def trading_exchange(
    api_key: str,
    api_secret: str,
    *,
    api_url: str | None = None,
    timeout_ms: int = 10_000,
    rate_limit_ms: int | None = None,
) -> TradingExchange:
    """ccxt's async Kraken client with keys, rate-limited; ``api_url`` replaces Kraken's URL.

    ``rate_limit_ms`` replaces ccxt's spacing for Kraken (a local server needs none of it).
    """
    config: dict[str, Any] = {
        "apiKey": api_key,
        "secret": api_secret,
        "enableRateLimit": True,
        "timeout": timeout_ms,
    }
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    exchange = ccxt.kraken(config)
    point_at(exchange, api_url)
    return exchange  # type: ignore[no-any-return]


def kraken_client_id(client_order_id: str) -> str:
    """The ``cl_ord_id`` Kraken keeps for an order: a UUID derived from our client order id.

    Kraken takes a UUID or at most 18 characters of free text; ours are longer, so they are
    mapped, deterministically, so a retry after a restart finds the same order.
    """
    return str(uuid.uuid5(_CLIENT_ID_NAMESPACE, client_order_id))


class KrakenBroker:
    """A :class:`~trading_core.ports.broker.Broker` that trades Kraken spot through ccxt."""

    name = "kraken"

    def __init__(
        self,
        exchange: TradingExchange,
        clock: Clock,
        *,
        poll_interval: timedelta = timedelta(seconds=2),
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self._poll_interval = poll_interval
        self._orders: dict[str, Order] = {}
        self._last_poll: datetime | None = None
        self._fees: dict[str, Decimal] = {}
        """Commission Kraken has reported per order so far (``fee`` is cumulative)."""

    async def submit(self, order: Order) -> BrokerReport:
        """Send ``order`` (market or limit, GTC or IOC) and report what Kraken did at once."""
        if (order.order_type, order.time_in_force) not in _SUPPORTED:
            return self._refused(
                order,
                f"kraken broker sends market and limit orders (GTC, IOC), not "
                f"{order.order_type} {order.time_in_force}",
            )
        params: dict[str, Any] = {"clientOrderId": kraken_client_id(order.client_order_id)}
        if order.time_in_force is TimeInForce.IOC:
            params["timeInForce"] = "IOC"
        price = f"{order.limit_price}" if order.order_type is OrderType.LIMIT else None
        try:
            await self._exchange.load_markets()
            created = await self._exchange.create_order(
                order.symbol,
                order.order_type.value,
                order.side.value,
                f"{order.quantity}",
                price,
                params,
            )
        except ccxt.NetworkError as exc:
            raise BrokerError(f"kraken: no answer to the order ({describe_failure(exc)})") from exc
        except ccxt.BaseError as exc:
            return self._refused(order, f"kraken refused the order: {describe_failure(exc)}")
        sent = order.transition(
            OrderStatus.SENT, at=self._clock.now(), broker_order_id=str(created["id"])
        )
        self._orders[order.order_id] = sent
        return await self._refresh(sent)

    async def cancel(self, order_id: str) -> BrokerReport:
        """Cancel a working order; if it had already traded out, report the fills instead."""
        order = self._orders.get(order_id)
        if order is None or order.broker_order_id is None:
            raise OrderNotFoundError(f"kraken broker does not know order {order_id}")
        try:
            await self._exchange.cancel_order(order.broker_order_id, order.symbol)
        except ccxt.OrderNotFound:
            # No longer open at Kraken: it traded out or was cancelled; its info says which.
            return await self._refresh(order)
        except ccxt.NetworkError as exc:
            raise BrokerError(f"kraken: no answer to the cancel ({describe_failure(exc)})") from exc
        return await self._refresh(order)

    async def find_by_client_id(self, client_order_id: str) -> Order | None:
        """The order Kraken holds under ``client_order_id``'s cl_ord_id, open or closed."""
        for order in self._orders.values():
            if order.client_order_id == client_order_id:
                return order
        params = {"clientOrderId": kraken_client_id(client_order_id)}
        try:
            found = await self._exchange.fetch_open_orders(None, None, None, params)
            if not found:
                found = await self._exchange.fetch_closed_orders(None, None, None, params)
        except ccxt.NetworkError as exc:
            raise BrokerError(f"kraken: order lookup failed ({describe_failure(exc)})") from exc
        return None if not found else self._order_from_kraken(found[0], client_order_id)

    async def on_quote(self, quote: Quote) -> Sequence[BrokerReport]:
        """Poll the working orders (at most every ``poll_interval``) and report what changed."""
        now = self._clock.now()
        if self._last_poll is not None and now - self._last_poll < self._poll_interval:
            return []
        self._last_poll = now
        reports = []
        for order in [o for o in self._orders.values() if o.status in _WORKING]:
            report = await self._refresh(order)
            if report.fills or report.order.status is not order.status:
                reports.append(report)
        return reports

    async def open_orders(self) -> Sequence[Order]:
        return [o for o in self._orders.values() if o.status in _WORKING]

    async def arm_dead_man_switch(self, timeout: timedelta) -> datetime:
        """Have Kraken cancel every order unless this is called again within ``timeout``."""
        try:
            answer = await self._exchange.cancel_all_orders_after(
                int(timeout.total_seconds() * 1000)
            )
        except ccxt.BaseError as exc:
            raise BrokerError(
                f"kraken: dead man's switch not armed ({describe_failure(exc)})"
            ) from exc
        trigger = str(answer.get("info", answer).get("result", {}).get("triggerTime", ""))
        try:
            return datetime.fromisoformat(trigger.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BrokerError(f"kraken: unreadable dead man's switch answer {answer}") from exc

    async def cancel_everything(self) -> None:
        """Cancel every open order at Kraken, ours or not (the kill switch's global cancel)."""
        try:
            await self._exchange.cancel_all_orders()
        except ccxt.BaseError as exc:
            raise BrokerError(f"kraken: cancel all failed ({describe_failure(exc)})") from exc

    async def close(self) -> None:
        await self._exchange.close()

    # --- reconciliation (VenueAccount) --------------------------------------------------------

    def venue_client_id(self, client_order_id: str) -> str:
        return kraken_client_id(client_order_id)

    async def venue_open_orders(self) -> Sequence[VenueOrder]:
        """Every open order on the account, whoever placed it (``OpenOrders``)."""
        try:
            found = await self._exchange.fetch_open_orders()
        except ccxt.BaseError as exc:
            raise BrokerError(f"kraken: open orders unavailable ({describe_failure(exc)})") from exc
        return [self._venue_order(entry) for entry in found]

    async def balances(self) -> Mapping[str, Decimal]:
        """Total balance per unified currency code, from BalanceEx's strings (exact)."""
        try:
            answer = await self._exchange.fetch_balance()
        except ccxt.BaseError as exc:
            raise BrokerError(f"kraken: balances unavailable ({describe_failure(exc)})") from exc
        raw = answer.get("info", {}).get("result", {})
        totals: dict[str, Decimal] = {}
        for asset, entry in raw.items():
            code = self._exchange.safe_currency_code(asset)
            amount = entry.get("balance", "0") if isinstance(entry, Mapping) else entry
            totals[code] = totals.get(code, Decimal(0)) + Decimal(str(amount))
        return totals

    async def last_price(self, symbol: str) -> Decimal:
        try:
            ticker = await self._exchange.fetch_ticker(symbol)
        except ccxt.BaseError as exc:
            raise BrokerError(f"kraken: no price for {symbol} ({describe_failure(exc)})") from exc
        last = ticker.get("info", {}).get("c", [None])[0]
        if last is None:
            raise BrokerError(f"kraken: ticker for {symbol} has no last trade price")
        return Decimal(str(last))

    def track(self, order: Order, *, commission_booked: Decimal = Decimal(0)) -> None:
        """Follow ``order`` from now on; ``commission_booked``: its fees the book already holds.

        Kraken reports an order's fee as a running total, so the part already booked (before a
        restart) is subtracted from the next execution's commission rather than charged again.
        """
        if order.broker_order_id is None:
            raise ValueError(f"order {order.order_id} has no Kraken txid to follow")
        self._orders[order.order_id] = order
        self._fees[order.order_id] = commission_booked

    async def refresh(self, order: Order) -> BrokerReport:
        """``order`` as Kraken has it now (follow it with :meth:`track` first)."""
        if order.order_id not in self._orders:
            self.track(order)
        return await self._refresh(order)

    async def cancel_venue_order(self, order: VenueOrder) -> None:
        try:
            await self._exchange.cancel_order(order.broker_order_id, order.symbol)
        except ccxt.OrderNotFound:
            return  # it closed meanwhile: nothing left to cancel
        except ccxt.BaseError as exc:
            raise BrokerError(
                f"kraken: cancel of {order.broker_order_id} failed ({describe_failure(exc)})"
            ) from exc

    # --- internals ----------------------------------------------------------------------------

    async def _refresh(self, order: Order) -> BrokerReport:
        assert order.broker_order_id is not None
        try:
            info = (await self._exchange.fetch_order(order.broker_order_id, order.symbol))["info"]
        except ccxt.NetworkError as exc:
            raise BrokerError(
                f"kraken: order status unavailable ({describe_failure(exc)})"
            ) from exc
        updated, fills = self._apply(order, info)
        self._orders[order.order_id] = updated
        return BrokerReport(order=updated, fills=tuple(fills))

    def _apply(self, order: Order, info: Mapping[str, Any]) -> tuple[Order, list[Fill]]:
        """``order`` moved to what Kraken's ``info`` says, and the fills that takes."""
        now = self._clock.now()
        executed = Decimal(str(info.get("vol_exec", "0")))
        fills: list[Fill] = []
        if executed > order.filled_quantity:
            quantity = executed - order.filled_quantity
            known_cost = (order.average_fill_price or Decimal(0)) * order.filled_quantity
            price = (Decimal(str(info["cost"])) - known_cost) / quantity
            fee = Decimal(str(info.get("fee", "0")))
            fills.append(
                Fill(
                    fill_id=f"kraken:{order.broker_order_id}:{executed}",
                    order_id=order.order_id,
                    client_order_id=order.client_order_id,
                    symbol=order.symbol,
                    side=order.side,
                    quantity=quantity,
                    price=price,
                    commission=fee - self._fees.get(order.order_id, Decimal(0)),
                    timestamp=now,
                    strategy_id=order.strategy_id,
                    liquidity="taker" if order.order_type is OrderType.MARKET else "maker",
                    account=order.account,
                )
            )
            order = order.with_fill(quantity, price, at=now)
            self._fees[order.order_id] = fee
        # FILLED comes from the volume (with_fill), never from the status word alone.
        status = _KRAKEN_STATUS.get(str(info.get("status")))
        if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED) and not order.status.is_terminal:
            order = order.transition(
                status, at=now, reason=info.get("reason") or f"kraken {status}"
            )
        return order, fills

    def _venue_order(self, found: Mapping[str, Any]) -> VenueOrder:
        info = found.get("info", {})
        descr = info.get("descr", {})
        limit = Decimal(str(descr.get("price", "0")))
        is_limit = descr.get("ordertype") == "limit"
        return VenueOrder(
            broker_order_id=str(found["id"]),
            venue_client_id=info.get("cl_ord_id") or None,
            symbol=str(found["symbol"]),
            side=Side(str(descr.get("type", found.get("side")))),
            quantity=Decimal(str(info["vol"])),
            filled_quantity=Decimal(str(info.get("vol_exec", "0"))),
            order_type=OrderType.LIMIT if is_limit else OrderType.MARKET,
            limit_price=limit if is_limit and limit > 0 else None,
            opened_at=datetime.fromtimestamp(float(info.get("opentm", 0)), tz=UTC),
        )

    def _refused(self, order: Order, reason: str) -> BrokerReport:
        rejected = order.transition(OrderStatus.REJECTED, at=self._clock.now(), reason=reason)
        return BrokerReport(order=rejected)

    def _order_from_kraken(self, found: Mapping[str, Any], client_order_id: str) -> Order:
        info = found.get("info", {})
        descr = info.get("descr", {})
        now = self._clock.now()
        opened = datetime.fromtimestamp(float(info.get("opentm", 0)), tz=UTC)
        limit = Decimal(str(descr.get("price", "0")))
        order = Order(
            order_id=f"kraken:{found['id']}",
            client_order_id=client_order_id,
            symbol=str(found["symbol"]),
            side=Side(str(descr.get("type", found.get("side")))),
            quantity=Decimal(str(info["vol"])),
            order_type=OrderType.LIMIT if descr.get("ordertype") == "limit" else OrderType.MARKET,
            limit_price=limit if descr.get("ordertype") == "limit" and limit > 0 else None,
            broker=self.name,
            broker_order_id=str(found["id"]),
            status=OrderStatus.SENT,
            created_at=min(opened, now),
            updated_at=now,
        )
        return self._apply(order, info)[0]
