"""Interactive Brokers through ib_async (TWS / IB Gateway socket API), behind the Broker port.

- Idempotency: every order carries ``orderRef = client_order_id``, which IB keeps with the order,
  its executions and its completed-order record. A lost answer is resolved by looking that
  reference up in what ib_async re-reads at every (re)connection (open orders, completed orders,
  executions), never by sending again (:meth:`IbBroker.find_by_client_id`).
- Executions come from ``execDetails`` with their ``commissionReport``: each execId is one fill
  (quantity, price and commission read from ib_async's floats through their shortest repr, so
  ``175.25`` stays ``Decimal("175.25")``), reported once, and only when its commission report has
  arrived (IB sends it right after the execution). FILLED comes from the executions, never from
  the status word alone.
- Statuses: PendingSubmit / ApiPending are "not yet acknowledged"; PreSubmitted, Submitted,
  PendingCancel (and ib_async's ValidationError, a warning) are SENT; Cancelled / ApiCancelled are
  CANCELLED; Inactive, or a cancel caused by an IB error before anything traded (201 "Order
  rejected", 200 "No security definition", ...), is REJECTED with IB's code and message.
- Errors: a definite refusal (unsupported order, unknown contract, an IB order error) comes back
  as a REJECTED order. No acknowledgement within ``ack_timeout``, or the connection lost while
  waiting, raises :class:`~trading_core.domain.errors.BrokerError`: the order may be at IB, so the
  order service marks it UNKNOWN until a lookup settles it.
- Connection: :meth:`IbBroker.connect` retries with exponential backoff (bounded attempts, the
  sleep is injected). A drop (ib_async's ``disconnectedEvent``) calls ``on_connection_lost`` (the
  watchdog hook: REDUCING / HALTED), reconnects with the same backoff, then calls
  ``on_connection_restored``. While disconnected every call that needs IB raises BrokerError at
  once: orders are never queued.
- Kill switch: :meth:`IbBroker.cancel_everything` sends ``reqGlobalCancel`` (every open order on
  the account, whichever client placed it). IB has no dead man's switch (nothing like Kraken's
  ``CancelAllOrdersAfter``), so this broker has no ``arm_dead_man_switch``.
- Reconciliation (:class:`~trading_core.ports.venue.VenueAccount`): IB keeps our client order id
  as ``orderRef`` unchanged. Open orders are ``reqAllOpenOrders`` (every client's and the ones a
  person placed in TWS, which carry no orderRef), keyed by IB's account-wide ``permId``
  (``"perm:<permId>"``). Balances are the positions of ``reqPositions`` (stocks, by symbol; IB
  keeps an FX position as cash) and the cash per currency of the account values ib_async
  subscribes to at connection (``reqAccountUpdates``: tag ``TotalCashBalance`` per currency, the
  ``BASE`` total left out). The last price is a market-data snapshot (``reqMktData`` with
  ``snapshot``): the LAST tick, or for a currency pair (IDEALPRO quotes, it reports no trades)
  the bid/ask midpoint. An order placed in TWS can only be cancelled by API client 0, which IB
  binds manual orders to (a negative order id); from any other client its cancel is refused
  here with a BrokerError, which fails the reconciliation closed.

Only market and limit orders (GTC, DAY, IOC) are sent; anything else is rejected here, before IB.
Symbols: ``"GOOG"`` is a SMART-routed USD stock, ``"EUR/USD"`` an IDEALPRO currency pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from ib_async import IB, Contract, ContractDetails, Forex, LimitOrder, MarketOrder, Stock, Trade
from ib_async import Fill as IbFill
from ib_async import Order as IbOrder
from ib_async import OrderStatus as IbStatus
from ib_async.util import UNSET_DOUBLE

from trading_core.domain.errors import BrokerError, OrderNotFoundError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.marketdata.validation import to_decimal
from trading_core.ports.broker import BrokerReport
from trading_core.ports.clock import Clock
from trading_core.ports.venue import VenueOrder

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
ConnectionLost = Callable[[str], Awaitable[None]]
ConnectionRestored = Callable[[], Awaitable[None]]

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.DAY: "DAY", TimeInForce.IOC: "IOC"}
_UNACKNOWLEDGED = frozenset({IbStatus.PendingSubmit, IbStatus.ApiPending, ""})
_CANCELLED = frozenset({IbStatus.Cancelled, IbStatus.ApiCancelled})
_IN_DOUBT = frozenset({OrderStatus.PENDING, OrderStatus.UNKNOWN})
_WORKING = frozenset(
    {OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.PARTIAL, OrderStatus.UNKNOWN}
)
_ORDER_CANCELLED = 202
"""IB's "Order cancelled - reason:" message: a cancel, not a refusal."""
_CASH_TAG = "TotalCashBalance"
"""The account value (``updateAccountValue``) that is a currency's cash, one per currency."""
_LAST, _BID, _ASK = "last", "bid", "ask"
_PERM = "perm:"
_WARNINGS = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})
"""The codes ib_async itself treats as warnings (the order stays live), plus 2100-2199."""


class Increments(NamedTuple):
    """An instrument's increments as IB has them (``minTick``, ``sizeIncrement``, ``minSize``)."""

    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal


def ib_contract(symbol: str) -> Contract:
    """The IB contract of a domain symbol: ``"EUR/USD"`` is a currency pair, else a US stock."""
    if "/" in symbol:
        base, quote = symbol.split("/", 1)
        return Forex(f"{base}{quote}")
    return Stock(symbol, "SMART", "USD")


def domain_symbol(contract: Contract) -> str:
    if contract.secType == "CASH":
        return f"{contract.symbol}/{contract.currency}"
    return contract.symbol


def _is_warning(code: int) -> bool:
    return code in _WARNINGS or 2100 <= code < 2200


IB_ACCOUNT = "ib"
"""The book an IB account's orders, fills and positions are kept under."""


class IbBroker:
    """A :class:`~trading_core.ports.broker.Broker` that trades an IB account through ib_async."""

    name = "ib"

    def __init__(
        self,
        clock: Clock,
        *,
        ib: IB | None = None,
        host: str = "127.0.0.1",
        port: int = 4002,
        client_id: int = 1,
        account: str | None = None,
        on_connection_lost: ConnectionLost | None = None,
        on_connection_restored: ConnectionRestored | None = None,
        connect_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        connect_timeout: float = 4.0,
        ack_timeout: float = 5.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if connect_attempts < 1:
            raise ValueError("connect_attempts must be at least 1")
        self._ib = ib if ib is not None else IB()
        self._clock = clock
        self._host, self._port, self._client_id = host, port, client_id
        self._account = account
        self._on_lost = on_connection_lost
        self._on_restored = on_connection_restored
        self._attempts = connect_attempts
        self._backoff, self._max_backoff = backoff, max_backoff
        self._connect_timeout, self._ack_timeout = connect_timeout, ack_timeout
        self._sleep = sleep
        self._orders: dict[str, Order] = {}
        self._trades: dict[str, Trade] = {}
        self._seen: dict[str, set[str]] = {}
        """Execution ids already reported, per order."""
        self._booked: dict[str, Decimal] = {}
        """Tracked orders whose executions up to this quantity the book already holds."""
        self._errors: dict[int, tuple[int, str]] = {}
        """The last IB error per order id (warnings left out)."""
        self._contract_errors: dict[tuple[str, str, str], tuple[int, str]] = {}
        """The last IB error of a contract request, by (symbol, secType, currency)."""
        self._details: dict[str, ContractDetails] = {}
        self._connected = False
        self._closing = False
        self._last_api_error = ""
        self._changed = asyncio.Event()
        self._recovery: asyncio.Task[None] | None = None
        self._ib.disconnectedEvent += self._on_disconnected
        self._ib.errorEvent += self._on_error
        self._ib.orderStatusEvent += self._wake
        self._ib.execDetailsEvent += self._wake
        self._ib.commissionReportEvent += self._wake
        self._ib.client.apiError += self._on_api_error

    @property
    def ib(self) -> IB:
        return self._ib

    @property
    def connected(self) -> bool:
        return self._connected

    # --- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect (and synchronise ib_async's view of the account); retry with backoff."""
        self._closing = False
        await self._connect(wait_first=False)

    async def close(self) -> None:
        self._closing = True
        self._connected = False
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        self._ib.disconnect()

    async def _connect(self, *, wait_first: bool) -> None:
        delay, failure = self._backoff, ""
        for attempt in range(self._attempts):
            if attempt or wait_first:
                await self._sleep(delay)
                delay = min(delay * 2, self._max_backoff)
            try:
                await self._ib.connectAsync(
                    self._host,
                    self._port,
                    clientId=self._client_id,
                    timeout=self._connect_timeout,
                    account=self._account or "",
                )
            except (OSError, TimeoutError) as exc:  # ConnectionError is an OSError
                failure = f"{type(exc).__name__}: {exc}"
                log.warning("ib: connection attempt %d failed (%s)", attempt + 1, failure)
                continue
            self._connected = True
            self._last_api_error = ""
            return
        raise BrokerError(
            f"ib: no connection to {self._host}:{self._port} after {self._attempts} "
            f"attempts ({failure})"
        )

    def _on_disconnected(self) -> None:
        if not self._connected:
            return  # a failed attempt tidying up, not a drop
        self._connected = False
        self._changed.set()
        if self._closing:
            return
        reason = self._last_api_error or "connection to IB lost"
        self._recovery = asyncio.get_running_loop().create_task(self._recover(reason))

    async def _recover(self, reason: str) -> None:
        log.error("ib: %s; reconnecting", reason)
        if self._on_lost is not None:
            await self._on_lost(reason)
        try:
            await self._connect(wait_first=True)
        except BrokerError as exc:
            log.error("%s; staying disconnected", exc)
            return
        log.info("ib: connection restored")
        if self._on_restored is not None:
            await self._on_restored()

    def _on_api_error(self, message: str) -> None:
        self._last_api_error = message

    def _on_error(self, req_id: int, code: int, text: str, contract: Contract | None) -> None:
        if not _is_warning(code):
            self._errors[req_id] = (code, text)
            if contract is not None:
                self._contract_errors[_contract_key(contract)] = (code, text)
        self._changed.set()

    def _wake(self, *_: object) -> None:
        self._changed.set()

    def _require_connection(self, doing: str) -> None:
        if not self._connected:
            raise BrokerError(f"ib: not connected, {doing} refused (nothing was sent)")

    # --- contracts ----------------------------------------------------------------------------

    async def increments(self, symbol: str) -> Increments:
        """``symbol``'s tick size, size increment and minimum size from IB's contract details."""
        details = await self._contract_details(symbol)
        values = (details.minTick, details.sizeIncrement, details.minSize)
        if any(v <= 0 or v >= UNSET_DOUBLE for v in values):
            raise BrokerError(f"ib: contract details of {symbol} carry no increments {values}")
        return Increments(*(to_decimal(v) for v in values))

    async def _contract_details(self, symbol: str) -> ContractDetails:
        cached = self._details.get(symbol)
        if cached is not None:
            return cached
        self._require_connection("contract lookup")
        wanted = ib_contract(symbol)
        try:
            found = await asyncio.wait_for(
                self._ib.reqContractDetailsAsync(wanted), self._ack_timeout
            )
        except (ConnectionError, TimeoutError) as exc:
            raise BrokerError(f"ib: contract lookup of {symbol} failed ({exc!r})") from exc
        if len(found) != 1:
            code, text = self._contract_errors.get(_contract_key(wanted), (0, "no details"))
            raise _NoContractError(symbol, len(found), f"{code} {text}")
        details = found[0]
        assert details.contract is not None
        if wanted.exchange == "SMART":
            details.contract.exchange = "SMART"  # route as asked, as qualifyContracts does
        self._details[symbol] = details
        return details

    # --- the Broker port ----------------------------------------------------------------------

    async def submit(self, order: Order) -> BrokerReport:
        """Send ``order`` (market or limit; GTC, DAY or IOC) and report what IB did at once."""
        self._require_connection(f"order {order.client_order_id}")
        tif = _TIF.get(order.time_in_force)
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT) or tif is None:
            return self._refused(
                order,
                f"ib broker sends market and limit orders (GTC, DAY, IOC), not "
                f"{order.order_type} {order.time_in_force}",
            )
        try:
            details = await self._contract_details(order.symbol)
        except _NoContractError as exc:
            return self._refused(order, str(exc))
        assert details.contract is not None
        self._require_connection(f"order {order.client_order_id}")
        try:
            trade = self._ib.placeOrder(details.contract, self._ib_order(order, tif))
        except ConnectionError as exc:
            raise BrokerError(f"ib: order {order.client_order_id} not sent ({exc})") from exc
        self._orders[order.order_id] = order
        self._trades[order.order_id] = trade
        self._seen[order.order_id] = set()
        if not await self._wait(lambda: self._acknowledged(trade), self._ack_timeout):
            raise BrokerError(
                f"ib: no acknowledgement of order {order.client_order_id} "
                f"({'connection lost' if not self._connected else 'timed out'}); "
                f"its state is unknown"
            )
        if order.order_type is OrderType.MARKET:
            await self._wait(lambda: self._settled(trade), self._ack_timeout)
        return self._refresh(order.order_id)

    async def cancel(self, order_id: str) -> BrokerReport:
        """Cancel a working order; if it traded out first, report the fills instead."""
        order = self._orders.get(order_id)
        if order is None:
            raise OrderNotFoundError(f"ib broker does not know order {order_id}")
        self._require_connection(f"cancel of {order_id}")
        trade = self._trade_for(order)
        if trade is None:
            raise OrderNotFoundError(f"ib has no order with orderRef {order.client_order_id}")
        if not trade.isDone():
            try:
                self._ib.cancelOrder(trade.order)
            except ConnectionError as exc:
                raise BrokerError(f"ib: cancel of {order_id} not sent ({exc})") from exc
            await self._wait(lambda: self._settled(trade), self._ack_timeout)
        return self._refresh(order_id)

    async def find_by_client_id(self, client_order_id: str) -> Order | None:
        """The order IB holds under ``orderRef == client_order_id``: open, completed or traded.

        After a reconnection ib_async has re-read open orders, completed orders and executions,
        so an order whose acknowledgement was lost is found here rather than sent again.
        """
        tracked = next(
            (o for o in self._orders.values() if o.client_order_id == client_order_id), None
        )
        if not self._connected:
            if tracked is not None and tracked.status not in _IN_DOUBT:
                return tracked
            raise BrokerError(f"ib: not connected, cannot look up {client_order_id}")
        trade = self._find_trade(client_order_id)
        if tracked is not None:
            if trade is None:
                # Never acknowledged and not at IB after a full resync: it did not arrive.
                return None if tracked.status in _IN_DOUBT else tracked
            self._trades[tracked.order_id] = trade
            return self._refresh(tracked.order_id).order
        if trade is None:
            return None
        return self._apply(self._order_from_trade(trade, client_order_id), trade, set())[0]

    async def on_quote(self, quote: Quote) -> Sequence[BrokerReport]:
        """Report what IB has streamed since last time: new fills and status changes."""
        if not self._connected:
            return []
        reports = []
        for order in [o for o in self._orders.values() if o.status in _WORKING]:
            report = self._refresh(order.order_id)
            if report.fills or report.order.status is not order.status:
                reports.append(report)
        return reports

    async def open_orders(self) -> Sequence[Order]:
        return [o for o in self._orders.values() if o.status in _WORKING]

    async def cancel_everything(self) -> None:
        """Cancel every open order on the account, ours or not (``reqGlobalCancel``)."""
        self._require_connection("global cancel")
        try:
            self._ib.reqGlobalCancel()  # type: ignore[no-untyped-call]  # unannotated in ib_async
        except ConnectionError as exc:
            raise BrokerError(f"ib: global cancel not sent ({exc})") from exc

    # --- reconciliation (VenueAccount) --------------------------------------------------------

    def venue_client_id(self, client_order_id: str) -> str:
        """IB keeps our client order id as the order's ``orderRef``, as sent."""
        return client_order_id

    async def venue_open_orders(self) -> Sequence[VenueOrder]:
        """Every open order on the account, whoever placed it (``reqAllOpenOrders``)."""
        self._require_connection("open orders request")
        try:
            trades = await asyncio.wait_for(self._ib.reqAllOpenOrdersAsync(), self._ack_timeout)
        except (ConnectionError, TimeoutError) as exc:
            raise BrokerError(f"ib: open orders unavailable ({exc!r})") from exc
        found: dict[int, VenueOrder] = {}
        for trade in trades:
            if trade.isDone() or not self._on_account(trade.order.account):
                continue
            found.setdefault(trade.order.permId, self._venue_order(trade))
        return list(found.values())

    async def balances(self) -> Mapping[str, Decimal]:
        """Stock positions by symbol (``reqPositions``) and cash per currency (account values).

        Cash is ib_async's ``accountValues()``: the ``updateAccountValue`` stream of the
        ``reqAccountUpdates`` subscription ``IB.connectAsync`` opens, tag ``TotalCashBalance``
        per currency (the ``BASE`` row is every currency converted, not a holding).
        """
        self._require_connection("positions request")
        try:
            positions = await asyncio.wait_for(self._ib.reqPositionsAsync(), self._ack_timeout)
        except (ConnectionError, TimeoutError) as exc:
            raise BrokerError(f"ib: positions unavailable ({exc!r})") from exc
        totals: dict[str, Decimal] = {}
        for position in positions:
            if position.contract.secType == "CASH" or not self._on_account(position.account):
                continue  # a currency pair's position is its currencies' cash, counted below
            symbol = position.contract.symbol
            totals[symbol] = totals.get(symbol, Decimal(0)) + _plain(to_decimal(position.position))
        cash = [
            v
            for v in self._ib.accountValues(self._account or "")
            if v.tag == _CASH_TAG and v.currency and v.currency != "BASE"
        ]
        if not cash:
            raise BrokerError(f"ib: no {_CASH_TAG} among the account values (not synchronised)")
        for value in cash:
            try:
                amount = Decimal(value.value)
            except ArithmeticError as exc:
                raise BrokerError(f"ib: unreadable cash balance {value}") from exc
            totals[value.currency] = totals.get(value.currency, Decimal(0)) + amount
        return totals

    async def last_price(self, symbol: str) -> Decimal:
        """IB's last trade price from a market-data snapshot; a currency pair's bid/ask mid."""
        details = await self._contract_details(symbol)
        assert details.contract is not None
        self._require_connection(f"price snapshot of {symbol}")
        try:
            (ticker,) = await asyncio.wait_for(
                self._ib.reqTickersAsync(details.contract), self._ack_timeout
            )
        except (ConnectionError, TimeoutError) as exc:
            raise BrokerError(f"ib: no price snapshot for {symbol} ({exc!r})") from exc
        prices = {_LAST: ticker.last, _BID: ticker.bid, _ASK: ticker.ask}
        known = {k: to_decimal(v) for k, v in prices.items() if _is_price(v)}
        if _LAST in known:
            return _plain(known[_LAST])
        if details.contract.secType == "CASH" and _BID in known and _ASK in known:
            return _plain((known[_BID] + known[_ASK]) / 2)
        raise BrokerError(f"ib: the snapshot of {symbol} has no last trade price ({prices})")

    def track(self, order: Order, *, commission_booked: Decimal = Decimal(0)) -> None:
        """Follow ``order`` (from the store, or adopted) as if this process had sent it.

        Its executions up to ``order.filled_quantity`` are taken as booked already, in IB's
        order (``cumQty``). ``commission_booked`` needs no use here: IB reports a commission
        per execution, so a booked execution's commission is never seen again.
        """
        if order.broker_order_id is None:
            raise ValueError(f"order {order.order_id} has no IB order id to follow")
        del commission_booked
        self._orders[order.order_id] = order
        self._trades.pop(order.order_id, None)
        self._seen[order.order_id] = set()
        self._booked[order.order_id] = order.filled_quantity

    async def refresh(self, order: Order) -> BrokerReport:
        """``order`` as IB has it now, with the executions the book does not have yet."""
        if order.order_id not in self._orders:
            self.track(order)
        self._require_connection(f"refresh of {order.client_order_id}")
        return self._refresh(order.order_id)

    async def cancel_venue_order(self, order: VenueOrder) -> None:
        """Cancel an open order the book does not hold (found by its permId)."""
        self._require_connection(f"cancel of {order.broker_order_id}")
        perm_id = _perm_id(order.broker_order_id)
        trade = next((t for t in self._ib.trades() if t.order.permId == perm_id), None)
        if trade is None:
            raise BrokerError(f"ib: no order {order.broker_order_id} to cancel")
        if trade.isDone():
            return  # it closed meanwhile: nothing left to cancel
        if trade.order.orderId == 0:
            raise BrokerError(
                f"ib: order {order.broker_order_id} was placed in TWS and is bound to no API "
                f"client (order id 0): only client id 0 can cancel it (this is client "
                f"{self._client_id}); cancel it in TWS"
            )
        try:
            self._ib.cancelOrder(trade.order)
        except ConnectionError as exc:
            raise BrokerError(f"ib: cancel of {order.broker_order_id} not sent ({exc})") from exc
        if await self._wait(trade.isDone, self._ack_timeout):
            return
        code, text = self._errors.get(trade.order.orderId, (0, "no answer"))
        raise BrokerError(f"ib: cancel of {order.broker_order_id} not confirmed ({code} {text})")

    def _on_account(self, account: str) -> bool:
        return not self._account or not account or account == self._account

    def _venue_order(self, trade: Trade) -> VenueOrder:
        ib_order = trade.order
        is_limit = ib_order.orderType == "LMT"
        return VenueOrder(
            broker_order_id=f"{_PERM}{ib_order.permId}",
            venue_client_id=ib_order.orderRef or None,
            symbol=domain_symbol(trade.contract),
            side=Side.BUY if ib_order.action == "BUY" else Side.SELL,
            quantity=to_decimal(ib_order.totalQuantity),
            filled_quantity=to_decimal(trade.orderStatus.filled),
            order_type=OrderType.LIMIT if is_limit else OrderType.MARKET,
            limit_price=_price(ib_order.lmtPrice) if is_limit else None,
            opened_at=self._clock.now(),  # openOrder carries no placement time
        )

    # --- internals ----------------------------------------------------------------------------

    def _ib_order(self, order: Order, tif: str) -> IbOrder:
        action = "BUY" if order.side is Side.BUY else "SELL"
        quantity = float(order.quantity)
        ib_order: IbOrder
        if order.order_type is OrderType.LIMIT:
            assert order.limit_price is not None
            ib_order = LimitOrder(action, quantity, float(order.limit_price))
        else:
            ib_order = MarketOrder(action, quantity)
        ib_order.tif = tif
        ib_order.orderRef = order.client_order_id
        ib_order.account = self._account or ""
        return ib_order

    async def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``done()`` (re-checked on every ib_async update), a drop, or ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            if done():
                return True
            remaining = deadline - loop.time()
            if not self._connected or remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return done()

    def _acknowledged(self, trade: Trade) -> bool:
        return (
            trade.orderStatus.status not in _UNACKNOWLEDGED or trade.order.orderId in self._errors
        )

    @staticmethod
    def _settled(trade: Trade) -> bool:
        """Done at IB and every execution's commission report in."""
        if not trade.isDone():
            return False
        traded = sum(f.execution.shares for f in trade.fills)
        if trade.orderStatus.status == IbStatus.Filled and traded < trade.order.totalQuantity:
            return False
        return all(_commission_known(f) for f in trade.fills)

    def _trade_for(self, order: Order) -> Trade | None:
        """ib_async's trade of ``order`` in the current session (they are rebuilt on reconnect)."""
        trade = self._trades.get(order.order_id)
        if trade is not None and any(t is trade for t in self._ib.trades()):
            return trade
        found = self._find_trade(order.client_order_id, _perm_id(order.broker_order_id))
        if found is not None:
            self._trades[order.order_id] = found
            return found
        return trade

    def _find_trade(self, client_order_id: str, perm_id: int | None = None) -> Trade | None:
        """The trade ib_async holds for ``orderRef`` (or ``permId``: an order we did not send);
        executions alone make one up."""
        trades = [
            t
            for t in self._ib.trades()
            if t.order.orderRef == client_order_id or (perm_id and t.order.permId == perm_id)
        ]
        if trades:
            return max(trades, key=lambda t: (t.order.orderId > 0, len(t.fills)))
        fills = [
            f
            for f in self._ib.fills()
            if f.execution.orderRef == client_order_id
            or (perm_id and f.execution.permId == perm_id)
        ]
        if not fills:
            return None
        first = fills[0].execution
        order = IbOrder(
            orderId=first.orderId,
            permId=first.permId,
            action="BUY" if first.side == "BOT" else "SELL",
            totalQuantity=max(f.execution.cumQty for f in fills),
            orderRef=client_order_id,
        )
        status = IbStatus(orderId=first.orderId, status=IbStatus.Filled, permId=first.permId)
        return Trade(fills[0].contract, order, status, list(fills), [])

    def _refresh(self, order_id: str) -> BrokerReport:
        order = self._orders[order_id]
        trade = self._trade_for(order)
        if trade is None:
            return BrokerReport(order=order)
        seen = self._seen.setdefault(order_id, set())
        booked = self._booked.pop(order_id, None)
        if booked is not None:  # tracked: what the book holds already is not reported again
            seen.update(_booked_executions(self._fills_of(trade), booked))
        updated, fills = self._apply(order, trade, seen)
        self._orders[order_id] = updated
        return BrokerReport(order=updated, fills=tuple(fills))

    def _apply(self, order: Order, trade: Trade, seen: set[str]) -> tuple[Order, list[Fill]]:
        """``order`` moved to what ib_async's ``trade`` says, and the new fills that takes."""
        now = self._clock.now()
        status = trade.orderStatus.status
        error = self._errors.get(trade.order.orderId) if trade.order.orderId > 0 else None
        ended = status in _CANCELLED or status == IbStatus.Inactive
        executions = self._fills_of(trade)
        refusal = self._refusal(order, trade, error, traded=bool(executions)) if ended else None
        if refusal is not None:
            return order.transition(OrderStatus.REJECTED, at=now, reason=refusal), []
        if order.status in _IN_DOUBT and self._acknowledged(trade):
            order = order.transition(
                OrderStatus.SENT, at=now, broker_order_id=self._broker_id(trade)
            )
        fills: list[Fill] = []
        for ib_fill in executions:
            execution = ib_fill.execution
            if execution.execId in seen or not _commission_known(ib_fill):
                continue
            fill = self._fill(order, ib_fill)
            order = order.with_fill(fill.quantity, fill.price, at=now)
            seen.add(execution.execId)
            fills.append(fill)
        pending = any(f.execution.execId not in seen for f in executions)
        if ended and not pending and not order.status.is_terminal:
            reason = f"ib {status}" + (f": {error[0]} {error[1]}" if error else "")
            order = order.transition(OrderStatus.CANCELLED, at=now, reason=reason)
        return order, fills

    def _fills_of(self, trade: Trade) -> list[IbFill]:
        """The trade's executions, and those ib_async holds apart from it under its permId (an
        order from another client or TWS: its executions arrive before its openOrder does)."""
        fills = list(trade.fills)
        perm_id = trade.order.permId
        if perm_id:
            known = {f.execution.execId for f in fills}
            fills += [
                f
                for f in self._ib.fills()
                if f.execution.permId == perm_id and f.execution.execId not in known
            ]
        return fills

    @staticmethod
    def _refusal(
        order: Order, trade: Trade, error: tuple[int, str] | None, *, traded: bool
    ) -> str | None:
        """Why IB refused an order that ended before anything traded (None: a plain cancel)."""
        if traded or order.filled_quantity > 0 or order.status.is_terminal:
            return None
        if error is not None and error[0] != _ORDER_CANCELLED:
            return f"ib refused the order: {error[0]} {error[1]}"
        if trade.orderStatus.status == IbStatus.Inactive:
            return "ib: order Inactive"
        return None

    def _fill(self, order: Order, ib_fill: IbFill) -> Fill:
        execution = ib_fill.execution
        liquidity = {1: "maker", 2: "taker"}.get(execution.lastLiquidity)
        if liquidity is None:
            liquidity = "taker" if order.order_type is OrderType.MARKET else "maker"
        return Fill(
            fill_id=f"ib:{execution.execId}",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=to_decimal(execution.shares),
            price=to_decimal(execution.price),
            commission=to_decimal(ib_fill.commissionReport.commission),
            timestamp=self._clock.now(),
            strategy_id=order.strategy_id,
            liquidity=liquidity,
            account=order.account,
        )

    @staticmethod
    def _broker_id(trade: Trade) -> str:
        """IB's API order id (what cancelOrder takes); a completed order only has its permId."""
        if trade.order.orderId > 0:
            return str(trade.order.orderId)
        for fill in trade.fills:
            if fill.execution.orderId > 0:
                return str(fill.execution.orderId)
        return f"perm:{trade.order.permId}"

    def _order_from_trade(self, trade: Trade, client_order_id: str) -> Order:
        ib_order = trade.order
        now = self._clock.now()
        is_limit = ib_order.orderType == "LMT"
        tif = next((t for t, name in _TIF.items() if name == ib_order.tif), TimeInForce.DAY)
        return Order(
            order_id=f"ib:{ib_order.permId}",
            client_order_id=client_order_id,
            symbol=domain_symbol(trade.contract),
            side=Side.BUY if ib_order.action == "BUY" else Side.SELL,
            quantity=to_decimal(ib_order.totalQuantity),
            order_type=OrderType.LIMIT if is_limit else OrderType.MARKET,
            limit_price=_price(ib_order.lmtPrice) if is_limit else None,
            time_in_force=tif,
            broker=self.name,
            status=OrderStatus.UNKNOWN,
            created_at=now,
            updated_at=now,
        )

    def _refused(self, order: Order, reason: str) -> BrokerReport:
        rejected = order.transition(OrderStatus.REJECTED, at=self._clock.now(), reason=reason)
        return BrokerReport(order=rejected)


def _price(value: float | Decimal | None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return to_decimal(value)


def _plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros (``10.0`` -> ``10``, ``1.08500`` -> ``1.085``)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def _is_price(value: float) -> bool:
    return value == value and 0 < value < UNSET_DOUBLE  # NaN: no such tick in the snapshot


def _perm_id(broker_order_id: str | None) -> int | None:
    """IB's permId from a ``"perm:<permId>"`` order id (None for an API order id)."""
    if broker_order_id is None or not broker_order_id.startswith(_PERM):
        return None
    try:
        return int(broker_order_id.removeprefix(_PERM))
    except ValueError:
        return None


def _booked_executions(fills: Sequence[IbFill], booked: Decimal) -> set[str]:
    """The execIds of the first ``booked`` units of an order (in IB's ``cumQty`` order)."""
    seen: set[str] = set()
    total = Decimal(0)
    for fill in sorted(fills, key=lambda f: f.execution.cumQty):
        total += to_decimal(fill.execution.shares)
        if total > booked:
            break
        seen.add(fill.execution.execId)
    return seen


def _contract_key(contract: Contract) -> tuple[str, str, str]:
    return (contract.symbol, contract.secType, contract.currency)


def _commission_known(fill: IbFill) -> bool:
    return fill.commissionReport.execId == fill.execution.execId


class _NoContractError(Exception):
    def __init__(self, symbol: str, matches: int, error: str) -> None:
        what = "no contract" if matches == 0 else f"{matches} contracts (ambiguous)"
        super().__init__(f"ib has {what} for {symbol} ({error})")
