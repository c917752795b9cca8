"""A local IB Gateway: what ib_async talks to when IbBroker is under test.

It speaks the TWS API socket protocol on 127.0.0.1, as ib_async 2.1.0's own client expects it:
the client opens with ``b"API\\0"`` and a length-prefixed version range (``v157..178``); the fake
answers with the negotiated server version and a connection time; after that every message,
both ways, is a 4-byte big-endian length followed by NUL-terminated fields, the first field being
the message id.

Negotiated server version: :data:`SERVER_VERSION` = 178, ib_async 2.1.0's
``Client.MaxClientVersion`` (a current gateway answers the highest version both sides know), so
every ``serverVersion`` branch in ib_async's decoder takes its newest path (no ``faProfile`` in
``openOrder``/``completedOrder``, ``pendingPriceRevision`` in ``execDetails``, ``minSize`` /
``sizeIncrement`` / ``suggestedSizeIncrement`` in ``contractDetails``, the advanced-reject JSON in
``error``).

Where each shape comes from (ib_async 2.1.0, ``ib_async/client.py`` and ``ib_async/decoder.py``):

- The handshake: ``Client.connectAsync`` (what the client sends) and ``Client._onSocketHasData``
  (a two-field reply concludes it; ``nextValidId`` + ``managedAccounts`` make the API ready).
- What the fake parses, from ``client.py``: ``startApi`` (71: clientId), ``placeOrder`` (3: order
  id, the 12 contract fields, secIdType, secId, action, totalQuantity, orderType, lmtPrice,
  auxPrice, tif, ocaGroup, account, openClose, origin, orderRef; the rest is read past),
  ``reqMktData`` (1: reqId, the contract, delta-neutral flag, genericTickList, snapshot, ...),
  ``cancelOrder`` (4), ``reqOpenOrders`` (5), ``reqAccountUpdates`` (6), ``reqExecutions`` (7),
  ``reqContractDetails`` (9: reqId, contract), ``reqAllOpenOrders`` (16), ``reqGlobalCancel``
  (58), ``reqPositions`` (61), ``reqAccountUpdatesMulti`` (76), ``reqCompletedOrders`` (99). These
  are the requests ib_async's ``IB.connectAsync`` sends at start-up (positions, open orders,
  completed orders, account updates, account updates per sub-account, then executions; client 0
  also sends ``reqAutoOpenOrders`` (15), read past) plus the order, snapshot and open-order calls.
- What the fake sends, field for field in the order ``decoder.py`` reads them: ``tickPrice`` (1,
  ``Decoder.priceSizeTick``: version, reqId, tickType, price, size, attrMask), ``orderStatus``
  (3), ``error`` (4), ``openOrder`` (5), ``updateAccountValue`` (6, ``wrap(..., [str, str, str,
  str])`` after msgId and version: key, val, currency, accountName), ``nextValidId`` (9),
  ``contractDetails`` (10), ``execDetails`` (11), ``managedAccounts`` (15),
  ``contractDetailsEnd`` (52), ``openOrderEnd`` (53), ``accountDownloadEnd`` (54),
  ``execDetailsEnd`` (55), ``tickSnapshotEnd`` (57: version, reqId), ``commissionReport`` (59),
  ``position`` (61, ``Decoder.position``: version, account, conId, symbol, secType,
  lastTradeDateOrContractMonth, strike, right, multiplier, exchange, currency, localSymbol,
  tradingClass, position, avgCost), ``positionEnd`` (62), ``accountUpdateMultiEnd`` (74),
  ``completedOrder`` (101), ``completedOrdersEnd`` (102). Runs of fields the fake leaves empty
  are written with :func:`_blank` and the decoder's own attribute names, so the count can be
  checked against the decoder line by line.
- Error codes and texts: 162 "Historical Market Data Service error message:...", 200 "No
  security definition has been found for the request", 201
  "Order rejected - reason:..." and 10147 "OrderId ... that needs to be cancelled is not found"
  as IB documents them ("Message Codes", TWS API reference).
- The account: ``positions`` (stocks, by symbol) answer ``reqPositions``; ``cash`` (per currency)
  answers ``reqAccountUpdates`` as ``CashBalance`` and ``TotalCashBalance`` per currency plus
  a ``TotalCashBalance`` in ``BASE`` (every currency in USD at ``prices``). Executions move both
  (a currency pair trades cash only, as IB books it); avgCost is left 0.
- Open orders: ``reqOpenOrders`` answers the asking client's orders only; ``reqAllOpenOrders``
  every client's and TWS's. An order a person placed in TWS (:meth:`IbGatewayFake.place_in_tws`)
  has client id 0, no orderRef and order id 0 until client 0 asks for open orders, which binds it
  to a negative order id (IB's ``orderBound`` message is not sent: ib_async ignores it). A cancel
  of an order that is not the asking client's is answered with error 10147.
- Snapshots (``reqMktData`` with snapshot): a stock's BID, ASK (tickType 1, 2) one tick either
  side of ``prices`` and its LAST (4) at ``prices``, with its VOLUME (``tickSize``, 2:
  version, reqId, tickType 8, size) when ``volumes`` has one; a currency pair's BID and ASK only
  (IDEALPRO reports no trades); then ``tickSnapshotEnd``. A contract is found by conId, or
  without one (an unqualified contract, which IB accepts too) by symbol, secType and currency;
  an unknown one is answered with error 200.
- Historical bars: ``reqHistoricalData`` (client.py ``Client.reqHistoricalData``, 20, no version
  field: reqId, the contract, includeExpired, endDateTime, barSizeSetting, durationStr, useRTH,
  whatToShow, formatDate, then (no combo legs) keepUpToDate and chartOptions) is answered with
  ``historicalData`` (17, ``Decoder.historicalData``, no version field at any server version
  ib_async 2.1.0 knows: reqId, startDateStr, endDateStr, numBars, then per bar date, open, high,
  low, close, volume, average (WAP), barCount; the wrapper parses ``date`` with
  ``util.parseIBDatetime``, so with formatDate 2 an intraday bar's date is its OPEN time in epoch
  seconds, a daily bar's ``yyyyMMdd``). With keepUpToDate false IB sends nothing after it (no
  ``historicalDataUpdate``, 90). The bars served are those :meth:`IbGatewayFake.serve_bars` set
  whose open time lies in the requested window, ending at :attr:`IbGatewayFake.now` (an
  ``endDateTime`` of ``""``); the bar still open at ``now`` is sent the way IB sends its
  forming bar, with the values so far (here: open for every price, half the volume). MIDPOINT
  bars carry volume, WAP and barCount ``-1``, as IB sends them. Faults:
  :meth:`IbGatewayFake.fail_next_historical` answers the next request with error 162
  ("Historical Market Data Service error message:..."); an unknown contract gets error 200.
- Contract details (conIds, minTick, sizes): illustrative values for GOOG (SMART, USD) and
  EUR.USD (IDEALPRO); the shapes are real, the numbers are the fake's own.

Execution is deliberately simple: a market order fills at once in full at ``prices[localSymbol]``
with IB's fixed-rate commission (USD 0.005 a unit, at least USD 1.00); a limit order rests until a
test calls :meth:`IbGatewayFake.fill`; an IOC limit that cannot fill is cancelled. Faults:
:meth:`refuse_next_order` (an ``error`` instead of an acknowledgement),
:meth:`drop_on_next_place_order` (the order is taken, the socket is closed before any answer) and
:meth:`go_down` / :meth:`come_up` (nothing listens on the port meanwhile).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

SERVER_VERSION = 178
ACCOUNT = "DU1234567"
COMMISSION_PER_UNIT = Decimal("0.005")
MIN_COMMISSION = Decimal("1.00")

# Message ids, incoming (client.py) and outgoing (decoder.py's handler table).
IN_MARKET_DATA, IN_ALL_OPEN_ORDERS = 1, 16
IN_PLACE_ORDER, IN_CANCEL_ORDER, IN_OPEN_ORDERS, IN_ACCOUNT_UPDATES = 3, 4, 5, 6
IN_EXECUTIONS, IN_CONTRACT_DETAILS, IN_GLOBAL_CANCEL, IN_POSITIONS = 7, 9, 58, 61
IN_START_API, IN_ACCOUNT_UPDATES_MULTI, IN_COMPLETED_ORDERS = 71, 76, 99
IN_HISTORICAL_DATA = 20
ORDER_STATUS, ERROR, OPEN_ORDER, NEXT_VALID_ID, CONTRACT_DATA, EXECUTION_DATA = 3, 4, 5, 9, 10, 11
MANAGED_ACCOUNTS, CONTRACT_DATA_END, OPEN_ORDER_END, ACCOUNT_DOWNLOAD_END = 15, 52, 53, 54
EXECUTION_DATA_END, COMMISSION_REPORT, POSITION_END, ACCOUNT_UPDATE_MULTI_END = 55, 59, 62, 74
COMPLETED_ORDER, COMPLETED_ORDERS_END = 101, 102
TICK_PRICE, ACCOUNT_VALUE, TICK_SNAPSHOT_END, POSITION_DATA = 1, 6, 57, 61
TICK_BID, TICK_ASK, TICK_LAST = 1, 2, 4
TICK_SIZE, TICK_VOLUME, HISTORICAL_DATA = 2, 8, 17

HISTORICAL_DATA_ERROR = 162
NO_SECURITY_DEFINITION = 200
ORDER_REJECTED = 201
CANCEL_NOT_FOUND = 10147


def _blank(*names: str) -> list[str]:
    """Empty fields, one per name (the decoder's attribute names, for checking the count)."""
    return [""] * len(names)


def _num(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class FakeContract:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    market_name: str
    long_name: str
    min_tick: Decimal
    min_size: Decimal
    size_increment: Decimal


CONTRACTS = (
    FakeContract(
        208813719, "GOOG", "STK", "SMART", "NASDAQ", "USD", "GOOG", "NMS", "NMS",
        "ALPHABET INC-CL C", Decimal("0.01"), Decimal("1"), Decimal("1"),
    ),
    FakeContract(
        12087792, "EUR", "CASH", "IDEALPRO", "", "USD", "EUR.USD", "EUR.USD", "EUR.USD",
        "European Monetary Union Euro", Decimal("0.00005"), Decimal("1"), Decimal("1"),
    ),
)  # fmt: skip


BAR_SIZES = {
    "1 min": timedelta(minutes=1),
    "5 mins": timedelta(minutes=5),
    "15 mins": timedelta(minutes=15),
    "30 mins": timedelta(minutes=30),
    "1 hour": timedelta(hours=1),
    "4 hours": timedelta(hours=4),
    "1 day": timedelta(days=1),
}
"""IB's ``barSizeSetting`` words the fake serves, and the bar length each means."""
_DURATION_UNITS = {"S": timedelta(seconds=1), "D": timedelta(days=1), "W": timedelta(weeks=1)}


@dataclass(frozen=True)
class FakeBar:
    """One bar as the fake keeps it; ``start`` is its open time (UTC)."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass
class FakeExecution:
    exec_id: str
    shares: Decimal
    price: Decimal
    cum_qty: Decimal
    avg_price: Decimal
    commission: Decimal
    time: str


@dataclass
class FakeOrder:
    order_id: int
    client_id: int
    perm_id: int
    contract: FakeContract
    action: str
    quantity: Decimal
    order_type: str
    lmt_price: str
    tif: str
    account: str
    order_ref: str
    status: str = "Submitted"
    executions: list[FakeExecution] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        return sum((e.shares for e in self.executions), Decimal(0))

    @property
    def average(self) -> Decimal:
        filled = self.filled
        cost = sum((e.shares * e.price for e in self.executions), Decimal(0))
        return cost / filled if filled else Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.status in ("PreSubmitted", "Submitted")


class _Session:
    """One client connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.client_id = -1

    def send(self, *fields: object) -> None:
        body = "".join(f"{f}\0" for f in fields).encode()
        self.writer.write(struct.pack(">I", len(body)) + body)


class IbGatewayFake:
    """The gateway's state and its controls; :meth:`start` serves it on a free local port."""

    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {"GOOG": Decimal("175.25"), "EUR.USD": Decimal("1.085")}
        self.orders: dict[int, FakeOrder] = {}
        """By order id; an order placed in TWS under the negative id binding gives it."""
        self.positions: dict[str, Decimal] = {}
        """Stock positions of the account, by symbol."""
        self.cash: dict[str, Decimal] = {"USD": Decimal(0)}
        self.requests: list[list[str]] = []
        """Every message received, as its fields (``[msgId, ...]``)."""
        self.handshakes: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._next_perm_id = 1_500_000_000
        self._exec_seq = 0
        self._refusals: list[tuple[int, str]] = []
        self._drop_on_place: bool | None = None
        self.volumes: dict[str, Decimal] = {}
        """A stock's VOLUME tick in snapshots, by local symbol (none when absent)."""
        self.bars: dict[str, tuple[timedelta, list[FakeBar]]] = {}
        """Historical bars by local symbol, with their bar length (:meth:`serve_bars`)."""
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        """The gateway's clock for historical requests (tests plug in a simulated one)."""
        self._historical_failures: list[str] = []

    # --- controls -----------------------------------------------------------------------------

    def calls(self, msg_id: int) -> list[list[str]]:
        return [fields for fields in self.requests if fields[0] == str(msg_id)]

    def refuse_next_order(self, code: int, message: str) -> None:
        """The next placeOrder is answered with IB ``error`` ``code`` and nothing else."""
        self._refusals.append((code, message))

    def drop_on_next_place_order(self, *, stay_down: bool = False) -> None:
        """The next placeOrder is taken (a market order even fills), then the socket is closed
        before any answer; with ``stay_down`` nothing listens until :meth:`come_up`."""
        self._drop_on_place = stay_down

    def fill(self, order_id: int, quantity: Decimal, price: Decimal) -> None:
        """A resting order trades ``quantity`` at ``price``; the client hears it at once."""
        self._execute(self.orders[order_id], quantity, price)

    def place_in_tws(
        self,
        local_symbol: str,
        action: str,
        quantity: Decimal,
        lmt_price: Decimal,
        *,
        executed: Decimal = Decimal(0),
    ) -> FakeOrder:
        """A limit order a person placed in TWS (no orderRef, no API client), ``executed``
        of it traded at its limit already."""
        contract = next(c for c in CONTRACTS if c.local_symbol == local_symbol)
        self._next_perm_id += 1
        key = min(min(self.orders, default=0), 0) - 1
        order = FakeOrder(
            order_id=0,
            client_id=0,
            perm_id=self._next_perm_id,
            contract=contract,
            action=action,
            quantity=quantity,
            order_type="LMT",
            lmt_price=_num(lmt_price),
            tif="GTC",
            account=ACCOUNT,
            order_ref="",
        )
        self.orders[key] = order
        if executed:
            self._execute(order, executed, lmt_price)
        return order

    def serve_bars(self, local_symbol: str, size: timedelta, bars: Sequence[FakeBar]) -> None:
        """``local_symbol``'s historical bars, ``size`` long each (its barSizeSetting only)."""
        self.bars[local_symbol] = (size, sorted(bars, key=lambda bar: bar.start))

    def serve_flat_bars(
        self,
        local_symbol: str,
        size: timedelta,
        start: datetime,
        end: datetime,
        *,
        price: Decimal,
        step: Decimal = Decimal(0),
        volume: Decimal = Decimal(100),
    ) -> list[FakeBar]:
        """Bars aligned to ``size`` opening from ``start`` (rounded down) until before ``end``;
        bar ``i`` opens at ``price + i * step`` and closes one ``step`` higher."""
        period = size.total_seconds()
        first = datetime.fromtimestamp(start.timestamp() // period * period, UTC)
        bars: list[FakeBar] = []
        moment = first
        while moment < end:
            open_ = price + step * len(bars)
            close = open_ + step
            bars.append(FakeBar(moment, open_, max(open_, close), min(open_, close), close, volume))
            moment += size
        self.serve_bars(local_symbol, size, bars)
        return bars

    def fail_next_historical(
        self,
        message: str = "Historical Market Data Service error message:HMDS query returned no data",
    ) -> None:
        """The next reqHistoricalData is answered with IB error 162 and nothing else."""
        self._historical_failures.append(message)

    def by_ref(self, order_ref: str) -> list[FakeOrder]:
        return [o for o in self.orders.values() if o.order_ref == order_ref]

    async def go_down(self) -> None:
        """Stop listening and close every connection (a gateway restart, a network cut)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in list(self._sessions):
            session.writer.close()

    async def come_up(self) -> None:
        """Listen again on the same port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    # --- serving ------------------------------------------------------------------------------

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        await self.go_down()
        if self._handlers:  # let every connection's handler see its socket closed
            await asyncio.wait(self._handlers, timeout=1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            self.handshakes.append((await self._frame(reader)).decode())
            session.send(SERVER_VERSION, datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC"))
            while True:
                fields = (await self._frame(reader)).decode().split("\0")[:-1]
                self.requests.append(fields)
                self._handle(session, fields)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            self._handlers.discard(task)
            writer.close()

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> bytes:
        (size,) = struct.unpack(">I", await reader.readexactly(4))
        return await reader.readexactly(size)

    def _handle(self, session: _Session, fields: list[str]) -> None:
        msg_id = int(fields[0])
        if msg_id == IN_START_API:
            session.client_id = int(fields[2])
            session.send(NEXT_VALID_ID, 1, max(self.orders, default=0) + 1)
            session.send(MANAGED_ACCOUNTS, 1, ACCOUNT)
        elif msg_id == IN_POSITIONS:
            for symbol, quantity in self.positions.items():
                (c,) = (c for c in CONTRACTS if c.symbol == symbol and c.sec_type == "STK")
                session.send(
                    POSITION_DATA, 3, ACCOUNT, *self._contract_fields(c), _num(quantity), 0
                )
            session.send(POSITION_END, 1)
        elif msg_id in (IN_OPEN_ORDERS, IN_ALL_OPEN_ORDERS):
            for key, order in self.orders.items():
                if session.client_id == 0 and order.client_id == 0 and order.order_id == 0:
                    order.order_id = key  # client 0 binds the orders placed in TWS
                mine = order.client_id == session.client_id or msg_id == IN_ALL_OPEN_ORDERS
                if order.is_open and mine:
                    session.send(*self._open_order(order))
                    session.send(*self._order_status(order))
            session.send(OPEN_ORDER_END, 1)
        elif msg_id == IN_COMPLETED_ORDERS:
            for order in self.orders.values():
                if not order.is_open:
                    session.send(*self._completed_order(order))
            session.send(COMPLETED_ORDERS_END)
        elif msg_id == IN_ACCOUNT_UPDATES:
            base = Decimal(0)
            for currency, amount in self.cash.items():
                for tag in ("CashBalance", "TotalCashBalance"):
                    session.send(ACCOUNT_VALUE, 2, tag, _num(amount), currency, ACCOUNT)
                base += amount * self.prices.get(f"{currency}.USD", Decimal(1))
            session.send(ACCOUNT_VALUE, 2, "TotalCashBalance", _num(base), "BASE", ACCOUNT)
            session.send(ACCOUNT_DOWNLOAD_END, 1, fields[3])
        elif msg_id == IN_ACCOUNT_UPDATES_MULTI:
            session.send(ACCOUNT_UPDATE_MULTI_END, 1, fields[2])
        elif msg_id == IN_EXECUTIONS:
            req_id = int(fields[2])
            for order in self.orders.values():
                for execution in order.executions:
                    session.send(*self._exec_details(req_id, order, execution))
                    session.send(*self._commission_report(execution))
            session.send(EXECUTION_DATA_END, 1, req_id)
        elif msg_id == IN_CONTRACT_DETAILS:
            self._contract_details(session, fields)
        elif msg_id == IN_PLACE_ORDER:
            self._place_order(session, fields)
        elif msg_id == IN_MARKET_DATA:
            self._snapshot(session, fields)
        elif msg_id == IN_HISTORICAL_DATA:
            self._historical_data(session, fields)
        elif msg_id == IN_CANCEL_ORDER:
            order_id = int(fields[2])
            order = self.orders.get(order_id)
            if order is None or order.client_id != session.client_id or order.order_id == 0:
                text = f"OrderId {order_id} that needs to be cancelled is not found."
                session.send(ERROR, 2, order_id, CANCEL_NOT_FOUND, text, "")
            elif order.is_open:
                order.status = "Cancelled"
                session.send(*self._order_status(order))
        elif msg_id == IN_GLOBAL_CANCEL:
            for order in self.orders.values():
                if order.is_open:
                    order.status = "Cancelled"
                    self._broadcast(self._order_status(order))

    def _contract_details(self, session: _Session, fields: list[str]) -> None:
        req_id = int(fields[2])
        # The contract, as Client.send writes one: conId, symbol, secType, lastTradeDate, strike,
        # right, multiplier, exchange, primaryExchange, currency, localSymbol, tradingClass.
        symbol, sec_type, currency = fields[4], fields[5], fields[12]
        found = [
            c
            for c in CONTRACTS
            if (c.symbol, c.sec_type, c.currency) == (symbol, sec_type, currency)
        ]
        if not found:
            text = "No security definition has been found for the request"
            session.send(ERROR, 2, req_id, NO_SECURITY_DEFINITION, text, "")
            return
        for c in found:
            session.send(*self._contract_data(req_id, c, exchange=fields[10] or c.exchange))
        session.send(CONTRACT_DATA_END, 1, req_id)

    def _snapshot(self, session: _Session, fields: list[str]) -> None:
        # reqMktData: 1, version, reqId, the contract (conId first), ...
        req_id = int(fields[2])
        c = self._find_contract(fields[3:15])
        if c is None:
            text = "No security definition has been found for the request"
            session.send(ERROR, 2, req_id, NO_SECURITY_DEFINITION, text, "")
            return
        price = self.prices[c.local_symbol]
        session.send(TICK_PRICE, 6, req_id, TICK_BID, _num(price - c.min_tick), 1000000, 0)
        session.send(TICK_PRICE, 6, req_id, TICK_ASK, _num(price + c.min_tick), 1000000, 0)
        if c.sec_type != "CASH":
            session.send(TICK_PRICE, 6, req_id, TICK_LAST, _num(price), 100, 0)
            if c.local_symbol in self.volumes:
                session.send(TICK_SIZE, 6, req_id, TICK_VOLUME, _num(self.volumes[c.local_symbol]))
        session.send(TICK_SNAPSHOT_END, 1, req_id)

    def _historical_data(self, session: _Session, fields: list[str]) -> None:
        # reqHistoricalData: 20, reqId, the contract (12 fields), includeExpired, endDateTime,
        # barSizeSetting, durationStr, useRTH, whatToShow, formatDate, keepUpToDate, chartOptions.
        req_id = int(fields[1])
        c = self._find_contract(fields[2:14])
        end_text, bar_size, duration = fields[15:18]
        what, format_date = fields[19:21]
        if self._historical_failures:
            message = self._historical_failures.pop(0)
            session.send(ERROR, 2, req_id, HISTORICAL_DATA_ERROR, message, "")
            return
        if c is None:
            text = "No security definition has been found for the request"
            session.send(ERROR, 2, req_id, NO_SECURITY_DEFINITION, text, "")
            return
        assert end_text == "", "the fake serves bars up to now only"
        assert format_date == "2", "the fake sends epoch-second dates only"
        size, bars = self.bars.get(c.local_symbol, (BAR_SIZES[bar_size], []))
        assert BAR_SIZES[bar_size] == size, f"{c.local_symbol} is served in {size} bars"
        count, unit = duration.split()
        now = self.now()
        start = now - int(count) * _DURATION_UNITS[unit]
        rows: list[object] = []
        served = [bar for bar in bars if start <= bar.start <= now]
        for bar in served:
            forming = now < bar.start + size
            prices = [bar.open] * 4 if forming else [bar.open, bar.high, bar.low, bar.close]
            volume = bar.volume / 2 if forming else bar.volume
            stamp = (
                bar.start.strftime("%Y%m%d")
                if size >= timedelta(days=1)
                else str(int(bar.start.timestamp()))
            )
            tail: list[object] = (
                [-1, -1, -1] if what == "MIDPOINT" else [_num(volume), _num(prices[3]), 10]
            )
            rows += [stamp, *(_num(p) for p in prices), *tail]
        session.send(
            HISTORICAL_DATA, req_id, int(start.timestamp()), int(now.timestamp()), len(served),
            *rows,
        )  # fmt: skip

    @staticmethod
    def _find_contract(fields: list[str]) -> FakeContract | None:
        """The contract of ``Client.send``'s 12 fields: by conId, else symbol/secType/currency."""
        con_id, symbol, sec_type, currency = int(fields[0] or 0), fields[1], fields[2], fields[9]
        for c in CONTRACTS:
            if con_id and c.con_id == con_id:
                return c
            if not con_id and (c.symbol, c.sec_type, c.currency) == (symbol, sec_type, currency):
                return c
        return None

    def _place_order(self, session: _Session, fields: list[str]) -> None:
        order_id = int(fields[1])
        con_id = int(fields[2] or 0)
        contract = next((c for c in CONTRACTS if c.con_id == con_id), None)
        if self._refusals or contract is None:
            code, text = (
                self._refusals.pop(0)
                if self._refusals
                else (NO_SECURITY_DEFINITION, "No security definition has been found")
            )
            session.send(ERROR, 2, order_id, code, text, "")
            return
        self._next_perm_id += 1
        order = FakeOrder(
            order_id=order_id,
            client_id=session.client_id,
            perm_id=self._next_perm_id,
            contract=contract,
            action=fields[16],
            quantity=Decimal(fields[17]),
            order_type=fields[18],
            lmt_price=fields[19],
            tif=fields[21],
            account=fields[23],
            order_ref=fields[26],
        )
        self.orders[order_id] = order
        dropping = self._drop_on_place
        if dropping is not None:
            self._drop_on_place = None
            if order.order_type == "MKT":
                self._record(order, self._new_execution(order, order.quantity))
                order.status = "Filled"
            session.writer.close()  # taken, never acknowledged
            if dropping and self._server is not None:
                self._server.close()
                self._server = None
            return
        session.send(*self._open_order(order))
        session.send(*self._order_status(order))
        if order.order_type == "MKT":
            self._execute(order, order.quantity, self.prices[contract.local_symbol])
        elif order.tif == "IOC":
            order.status = "Cancelled"
            session.send(*self._order_status(order))

    # --- execution ----------------------------------------------------------------------------

    def _new_execution(
        self, order: FakeOrder, quantity: Decimal, price: Decimal | None = None
    ) -> FakeExecution:
        price = self.prices[order.contract.local_symbol] if price is None else price
        self._exec_seq += 1
        cum = order.filled + quantity
        cost = order.filled * order.average + quantity * price
        return FakeExecution(
            exec_id=f"0000e0d5.{order.perm_id:08x}.{self._exec_seq:02d}.01",
            shares=quantity,
            price=price,
            cum_qty=cum,
            avg_price=cost / cum,
            commission=max(MIN_COMMISSION, COMMISSION_PER_UNIT * quantity),
            time=datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC"),
        )

    def _execute(self, order: FakeOrder, quantity: Decimal, price: Decimal) -> None:
        if quantity > order.quantity - order.filled:
            raise ValueError(f"order {order.order_id}: fill exceeds what is left")
        execution = self._new_execution(order, quantity, price)
        self._record(order, execution)
        if order.filled == order.quantity:
            order.status = "Filled"
        # IB's live order: execDetails (reqId -1), orderStatus, then the commission report.
        self._broadcast(self._exec_details(-1, order, execution))
        self._broadcast(self._order_status(order))
        self._broadcast(self._commission_report(execution))

    def _record(self, order: FakeOrder, execution: FakeExecution) -> None:
        """The execution on the order and in the account: position and cash."""
        order.executions.append(execution)
        c = order.contract
        signed = execution.shares if order.action == "BUY" else -execution.shares
        if c.sec_type == "CASH":
            self.cash[c.symbol] = self.cash.get(c.symbol, Decimal(0)) + signed
        else:
            self.positions[c.symbol] = self.positions.get(c.symbol, Decimal(0)) + signed
        cost = signed * execution.price + execution.commission
        self.cash[c.currency] = self.cash.get(c.currency, Decimal(0)) - cost

    def _broadcast(self, fields: list[object]) -> None:
        for session in self._sessions:
            session.send(*fields)

    # --- messages (field order from ib_async 2.1.0 decoder.py) --------------------------------

    @staticmethod
    def _contract_fields(c: FakeContract) -> list[object]:
        """conId, symbol, secType, lastTradeDateOrContractMonth, strike, right, multiplier,
        exchange, currency, localSymbol, tradingClass (as openOrder/execDetails read them)."""
        return [c.con_id, c.symbol, c.sec_type, "", 0, "", "", c.exchange, c.currency,
                c.local_symbol, c.trading_class]  # fmt: skip

    def _contract_data(self, req_id: int, c: FakeContract, *, exchange: str) -> list[object]:
        """Decoder.contractDetails, serverVersion >= 164 (no version field, no mdSizeMultiplier)."""
        return [
            CONTRACT_DATA, req_id, c.symbol, c.sec_type, "", 0, "", exchange, c.currency,
            c.local_symbol, c.market_name, c.trading_class, c.con_id, _num(c.min_tick),
            "", "ACTIVETIM,LMT,MKT,STP,TRAIL", f"{exchange},{c.primary_exchange or exchange}",
            1, 0, c.long_name, c.primary_exchange,
            *_blank("contractMonth", "industry", "category", "subcategory"),
            "US/Eastern",
            *_blank("tradingHours", "liquidHours", "evRule", "evMultiplier"),
            0,  # numSecIds
            1, *_blank("underSymbol", "underSecType"), "26", "",
            "COMMON" if c.sec_type == "STK" else "",
            _num(c.min_size), _num(c.size_increment), _num(c.size_increment),
        ]  # fmt: skip

    def _order_status(self, o: FakeOrder) -> list[object]:
        """Decoder handler 3 (orderStatus, skip=1): orderId, status, filled, remaining,
        avgFillPrice, permId, parentId, lastFillPrice, clientId, whyHeld, mktCapPrice."""
        last = o.executions[-1].price if o.executions else Decimal(0)
        return [
            ORDER_STATUS, o.order_id, o.status, _num(o.filled), _num(o.quantity - o.filled),
            _num(o.average), o.perm_id, 0, _num(last), o.client_id, "", 0,
        ]  # fmt: skip

    def _open_order(self, o: FakeOrder) -> list[object]:
        """Decoder.openOrder, serverVersion 178 (no faProfile; the >= 159/160/162/170 tails)."""
        return [
            OPEN_ORDER, o.order_id, *self._contract_fields(o.contract),
            o.action, _num(o.quantity), o.order_type, o.lmt_price, "", o.tif, "", o.account,
            "", 0, o.order_ref, o.client_id, o.perm_id, 0, 0, "", "",
            "",  # sharesAllocation (read past)
            *_blank("faGroup", "faMethod", "faPercentage"),
            *_blank(
                "modelCode", "goodTillDate", "rule80A", "percentOffset", "settlingFirm",
                "shortSaleSlot", "designatedLocation", "exemptCode", "auctionStrategy",
                "startingPrice", "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper",
                "displaySize", "blockOrder", "sweepToFill", "allOrNone", "minQty", "ocaType",
                "eTradeOnly", "firmQuoteOnly", "nbboPriceCap", "parentId", "triggerMethod",
                "volatility", "volatilityType", "deltaNeutralOrderType", "deltaNeutralAuxPrice",
            ),
            *_blank(
                "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent",
                "basisPoints", "basisPointsType", "comboLegsDescrip",
            ),
            0, 0, 0,  # numLegs, numOrderLegs, numParams (smartComboRoutingParams)
            *_blank("scaleInitLevelSize", "scaleSubsLevelSize", "scalePriceIncrement"),
            "",  # hedgeType
            *_blank("optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld"),
            0,  # deltaNeutralContract present
            "",  # algoStrategy
            0, 0, o.status,  # solicited, whatIf, OrderState.status
            *_blank(
                "initMarginBefore", "maintMarginBefore", "equityWithLoanBefore",
                "initMarginChange", "maintMarginChange", "equityWithLoanChange",
                "initMarginAfter", "maintMarginAfter", "equityWithLoanAfter", "commission",
                "minCommission", "maxCommission", "commissionCurrency", "warningText",
                "randomizeSize", "randomizePrice",
            ),
            0,  # numConditions
            *_blank(
                "adjustedOrderType", "triggerPrice", "trailStopPrice", "lmtPriceOffset",
                "adjustedStopPrice", "adjustedStopLimitPrice", "adjustedTrailingAmount",
                "adjustableTrailingUnit", "softDollarTier.name", "softDollarTier.val",
                "softDollarTier.displayName", "cashQty", "dontUseAutoPriceForHedge",
                "isOmsContainer", "discretionaryUpToLimitPrice", "usePriceMgmtAlgo",
            ),
            *_blank("duration", "postToAts", "autoCancelParent"),
            *_blank(
                "minTradeQty", "minCompeteSize", "competeAgainstBestOffset", "midOffsetAtWhole",
                "midOffsetAtHalf",
            ),
        ]  # fmt: skip

    def _completed_order(self, o: FakeOrder) -> list[object]:
        """Decoder.completedOrder, serverVersion 178 (no orderId: IB keys it by permId)."""
        return [
            COMPLETED_ORDER, *self._contract_fields(o.contract),
            o.action, _num(o.quantity), o.order_type, o.lmt_price, "", o.tif, "", o.account,
            "", 0, o.order_ref, o.perm_id, 0, 0, "", "",
            *_blank("faGroup", "faMethod", "faPercentage"),
            *_blank(
                "modelCode", "goodTillDate", "rule80A", "percentOffset", "settlingFirm",
                "shortSaleSlot", "designatedLocation", "exemptCode", "startingPrice",
                "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper", "displaySize",
                "sweepToFill", "allOrNone", "minQty", "ocaType", "triggerMethod", "volatility",
                "volatilityType", "deltaNeutralOrderType", "deltaNeutralAuxPrice",
            ),
            *_blank(
                "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent",
                "comboLegsDescrip",
            ),
            0, 0, 0,  # numLegs, numOrderLegs, numParams
            *_blank("scaleInitLevelSize", "scaleSubsLevelSize", "scalePriceIncrement"),
            "",  # hedgeType
            *_blank("clearingAccount", "clearingIntent", "notHeld"),
            0,  # deltaNeutralContract present
            "",  # algoStrategy
            0, o.status, 0, 0,  # solicited, OrderState.status, randomizeSize, randomizePrice
            0,  # numConditions
            *_blank(
                "trailStopPrice", "lmtPriceOffset", "cashQty", "dontUseAutoPriceForHedge",
                "isOmsContainer", "autoCancelDate",
            ),
            _num(o.filled),
            *_blank(
                "refFuturesConId", "autoCancelParent", "shareholder", "imbalanceOnly",
                "routeMarketableToBbo", "parentPermId", "completedTime",
            ),
            o.status,  # completedStatus
            *_blank(
                "minTradeQty", "minCompeteSize", "competeAgainstBestOffset", "midOffsetAtWhole",
                "midOffsetAtHalf",
            ),
        ]  # fmt: skip

    def _exec_details(self, req_id: int, o: FakeOrder, e: FakeExecution) -> list[object]:
        """Decoder.execDetails, serverVersion 178 (ends with pendingPriceRevision)."""
        return [
            EXECUTION_DATA, req_id, o.order_id, *self._contract_fields(o.contract),
            e.exec_id, e.time, o.account, o.contract.primary_exchange or o.contract.exchange,
            "BOT" if o.action == "BUY" else "SLD", _num(e.shares), _num(e.price), o.perm_id,
            o.client_id, 0, _num(e.cum_qty), _num(e.avg_price), o.order_ref, "", "", "",
            2 if o.order_type == "MKT" else 1,  # lastLiquidity: 1 added, 2 removed
            0,  # pendingPriceRevision
        ]  # fmt: skip

    @staticmethod
    def _commission_report(e: FakeExecution) -> list[object]:
        """Decoder.commissionReport: version, execId, commission, currency, realizedPNL, yield,
        yieldRedemptionDate."""
        return [COMMISSION_REPORT, 1, e.exec_id, _num(e.commission), "USD", "", "", ""]
