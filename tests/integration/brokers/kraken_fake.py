"""A local Kraken spot REST server: what ccxt talks to when KrakenBroker is under test.

It speaks Kraken's wire format over real HTTP on 127.0.0.1: form-encoded private POSTs signed
with ``API-Key``/``API-Sign`` (HMAC-SHA512 of path + SHA256(nonce + body), as Kraken documents
at https://docs.kraken.com/api-reference/ under "Authentication"), nonces that must increase,
and ``{"error": [...], "result": ...}`` envelopes.

Where each shape comes from:

- ``AssetPairs`` and ``Assets``: the recorded responses in ``tests/fixtures/kraken/`` (the same
  recordings the public feed's tests use).
- ``AddOrder`` (``txid`` list and ``descr.order``), ``QueryOrders`` / ``OpenOrders`` order info
  (``status``, ``opentm``, ``descr{pair,type,ordertype,price,price2,leverage,order,close}``,
  ``vol``, ``vol_exec``, ``cost``, ``fee``, ``price``, ``stopprice``, ``limitprice``, ``misc``,
  ``oflags``, ``cl_ord_id``): ccxt's own static fixtures,
  ``ts/src/test/static/response/kraken.json`` (createOrder, fetchOrder, fetchOpenOrders), and the
  ``cl_ord_id`` field shown in the fetch_open_orders comment of ccxt's kraken.py.
- ``CancelOrder`` ``{"count": 1}`` and ``CancelAllOrdersAfter`` ``{"currentTime", "triggerTime"}``:
  the response comments in ccxt's kraken.py, which quote Kraken's documented examples.
- ``BalanceEx`` (``{asset: {"balance", "hold_trade"}}``, amounts as strings at the asset's
  ``decimals`` from the recorded Assets): the response comment in ccxt's kraken.py
  (``fetch_balance``) and Kraken's "Get Extended Balance" example; ``Balance`` likewise.
- ``Ticker``: the recorded ``tests/fixtures/kraken/ticker_XXBTZUSD.json``, its last trade price
  (``c``) set to the fake's price of the pair.
- ``OHLC``: the recorded ``tests/fixtures/kraken/ohlc_XXBTZUSD_5m.json`` shape (rows of
  ``[time, open, high, low, close, vwap, volume, count]``, prices and volume as strings, and
  ``last``), its times moved to the hours before now and its prices flat at the fake's price.
- Error strings (``EOrder:Insufficient funds``, ``EOrder:Unknown order``, ``EAPI:Invalid nonce``,
  ``EAPI:Invalid key``, ``EQuery:Invalid asset pair``, ``EGeneral:Invalid arguments``,
  ``EService:Unavailable``): the keys of
  ccxt's kraken ``exceptions`` table, so ccxt maps them exactly as it maps Kraken's own.

Execution is deliberately simple: a market order (or a marketable limit) fills at once in full at
``prices[pair]`` with a 0.26 % taker fee; a resting limit fills only when a test calls
:meth:`KrakenFake.execute`. Faults are injected per request (:meth:`fail_next`) or as a lost
acknowledgement (:meth:`lose_next_ack`: the order is accepted, the connection is cut).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kraken"
TAKER_FEE = Decimal("0.0026")
API_KEY = "fake-kraken-key"
API_SECRET = base64.b64encode(
    b"fake kraken secret, 64 bytes long, for HMAC-SHA512 signing!!"
).decode()


def _money(value: Decimal, places: int = 8) -> str:
    return f"{value:.{places}f}"


@dataclass
class FakeOrder:
    txid: str
    pair: str
    side: str
    ordertype: str
    volume: Decimal
    limit: Decimal | None
    cl_ord_id: str | None
    opened: float
    status: str = "open"
    vol_exec: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    closed: float | None = None
    trades: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        price = self.cost / self.vol_exec if self.vol_exec else Decimal(0)
        where = "market" if self.limit is None else f"limit {_money(self.limit, 5)}"
        body: dict[str, Any] = {
            "refid": None,
            "userref": None,
            "cl_ord_id": self.cl_ord_id,
            "status": self.status,
            "opentm": self.opened,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": self.pair,
                "type": self.side,
                "ordertype": self.ordertype,
                "price": _money(self.limit, 5) if self.limit is not None else "0",
                "price2": "0",
                "leverage": "none",
                "order": f"{self.side} {_money(self.volume)} {self.pair} @ {where}",
                "close": "",
            },
            "vol": _money(self.volume),
            "vol_exec": _money(self.vol_exec),
            "cost": _money(self.cost, 6),
            "fee": _money(self.fee, 6),
            "price": _money(price, 5),
            "stopprice": "0.000000",
            "limitprice": "0.000000",
            "misc": "",
            "oflags": "fciq",
        }
        if self.trades:
            body["trades"] = list(self.trades)
        if self.closed is not None:
            body["closetm"] = self.closed
            body["reason"] = None
        return body


class KrakenFake:
    """The server's state and its controls; :meth:`start` serves it on a free local port."""

    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {
            "XXBTZUSD": Decimal("40000.0"),
            "XETHZUSD": Decimal("2500.00"),
        }
        self.balances: dict[str, Decimal] = {"ZUSD": Decimal("100000"), "XXBT": Decimal("0")}
        self.orders: dict[str, FakeOrder] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.dead_man_trigger: float | None = None
        self._last_nonce = 0
        self._failures: dict[str, list[str]] = {}
        self._lose_ack: set[str] = set()
        self._kill: dict[str, tuple[int, bool]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._pairs = json.loads((FIXTURES / "asset_pairs.json").read_text())
        self._assets = json.loads((FIXTURES / "assets.json").read_text())
        self._ticker_shape = json.loads((FIXTURES / "ticker_XXBTZUSD.json").read_text())

    # --- controls -----------------------------------------------------------------------------

    def fail_next(self, endpoint: str, error: str) -> None:
        """The next call of ``endpoint`` (e.g. ``AddOrder``) answers ``{"error": [error]}``."""
        self._failures.setdefault(endpoint, []).append(error)

    def lose_next_ack(self, endpoint: str = "AddOrder") -> None:
        """The next ``endpoint`` call is carried out, then the connection is cut unanswered."""
        self._lose_ack.add(endpoint)

    def kill_at(self, endpoint: str, pid: int, *, carried_out: bool) -> None:
        """``kill -9`` process ``pid`` when its next ``endpoint`` call arrives, unanswered.

        With ``carried_out`` the call takes effect first (an order placed, say), so the process
        dies after Kraken acted and before it heard; without, it dies before Kraken acted.
        """
        self._kill[endpoint] = (pid, carried_out)

    def execute(self, txid: str, volume: Decimal, price: Decimal) -> None:
        """A resting order trades ``volume`` at ``price`` (as a maker: the same fee here)."""
        self._trade(self.orders[txid], volume, price)

    def place_external(
        self, pair: str, side: str, volume: Decimal, limit: Decimal, executed: Decimal = Decimal(0)
    ) -> str:
        """An order a person placed on Kraken's own site (no cl_ord_id); returns its txid."""
        order = FakeOrder(
            txid=_txid("O"),
            pair=pair,
            side=side,
            ordertype="limit",
            volume=volume,
            limit=limit,
            cl_ord_id=None,
            opened=time.time(),
        )
        self.orders[order.txid] = order
        if executed:
            self._trade(order, executed, limit)
        return order.txid

    def calls(self, endpoint: str) -> list[dict[str, str]]:
        return [form for name, form in self.requests if name == endpoint]

    # --- serving ------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/0/public/AssetPairs", self._asset_pairs)
        app.router.add_get("/0/public/Assets", self._public("Assets", self._assets))
        app.router.add_get("/0/public/Time", self._time)
        app.router.add_get("/0/public/Ticker", self._ticker)
        app.router.add_get("/0/public/OHLC", self._ohlc)
        app.router.add_post("/0/private/{endpoint}", self._private)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _public(self, name: str, document: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            self.requests.append((name, dict(request.query)))
            return web.json_response(document)

        return handler

    async def _asset_pairs(self, request: web.Request) -> web.Response:
        self.requests.append(("AssetPairs", dict(request.query)))
        return web.json_response(self._pairs)

    async def _time(self, request: web.Request) -> web.Response:
        now = int(time.time())
        return web.json_response({"error": [], "result": {"unixtime": now, "rfc1123": ""}})

    async def _ticker(self, request: web.Request) -> web.Response:
        self.requests.append(("Ticker", dict(request.query)))
        recorded = next(iter(self._ticker_shape["result"].values()))
        result = {}
        for pair in request.query.get("pair", "").split(","):
            if pair not in self.prices:
                return web.json_response({"error": ["EQuery:Unknown asset pair"]})
            result[pair] = {**recorded, "c": [_money(self.prices[pair], 5), "0.00100000"]}
        return web.json_response({"error": [], "result": result})

    async def _ohlc(self, request: web.Request) -> web.Response:
        self.requests.append(("OHLC", dict(request.query)))
        pair = request.query.get("pair", "")
        if pair not in self.prices:
            return web.json_response({"error": ["EQuery:Unknown asset pair"]})
        period = int(request.query.get("interval", "1")) * 60
        forming = int(time.time()) // period * period
        price = _money(self.prices[pair], 1)
        # 60 candles, the last one still forming, as Kraken sends them.
        rows = [
            [forming - period * back, price, price, price, price, price, "1.00000000", 10]
            for back in range(59, -1, -1)
        ]
        return web.json_response({"error": [], "result": {pair: rows, "last": forming - period}})

    async def _private(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        body = await request.text()
        form = dict(parse_qsl(body, keep_blank_values=True))
        self.requests.append((endpoint, form))
        problem = self._authenticate(request, body, form)
        if problem is not None:
            return web.json_response({"error": [problem]})
        self._run_dead_man_switch()
        failures = self._failures.get(endpoint)
        if failures:
            return web.json_response({"error": [failures.pop(0)]})
        handler = getattr(self, f"_{endpoint}", None)
        if handler is None:
            return web.json_response({"error": ["EGeneral:Unknown method"]})
        kill = self._kill.pop(endpoint, None)
        if kill is not None and not kill[1]:
            return self._kill_caller(request, kill[0])
        try:
            result = handler(form)
        except _KrakenError as exc:
            return web.json_response({"error": [str(exc)]})
        if kill is not None:
            return self._kill_caller(request, kill[0])
        if endpoint in self._lose_ack:
            self._lose_ack.discard(endpoint)
            assert request.transport is not None
            request.transport.close()  # carried out, never acknowledged
            return web.Response(status=500)
        return web.json_response({"error": [], "result": result})

    def _kill_caller(self, request: web.Request, pid: int) -> web.Response:
        os.kill(pid, signal.SIGKILL)
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)

    def _authenticate(self, request: web.Request, body: str, form: dict[str, str]) -> str | None:
        if request.headers.get("API-Key") != API_KEY:
            return "EAPI:Invalid key"
        nonce = form.get("nonce", "")
        digest = hashlib.sha256((nonce + body).encode()).digest()
        expected = hmac.new(
            base64.b64decode(API_SECRET), request.path.encode() + digest, hashlib.sha512
        ).digest()
        if not hmac.compare_digest(
            base64.b64encode(expected).decode(), request.headers.get("API-Sign", "")
        ):
            return "EAPI:Invalid key"  # Kraken answers a bad signature as a bad key
        if not nonce.isdigit() or int(nonce) <= self._last_nonce:
            return "EAPI:Invalid nonce"
        self._last_nonce = int(nonce)
        return None

    def _run_dead_man_switch(self) -> None:
        if self.dead_man_trigger is not None and time.time() >= self.dead_man_trigger:
            self.dead_man_trigger = None
            for order in self.orders.values():
                if order.status == "open":
                    order.status, order.closed = "canceled", time.time()

    # --- endpoints (Kraken's names) -----------------------------------------------------------

    def _AddOrder(self, form: dict[str, str]) -> dict[str, Any]:
        pair = form.get("pair", "")
        if pair not in self._pairs["result"]:
            raise _KrakenError("EQuery:Invalid asset pair")
        ordertype = form.get("ordertype")
        if ordertype not in ("market", "limit") or form.get("type") not in ("buy", "sell"):
            raise _KrakenError("EGeneral:Invalid arguments")
        cl_ord_id = form.get("cl_ord_id")
        if cl_ord_id is not None and not _valid_cl_ord_id(cl_ord_id):
            raise _KrakenError("EGeneral:Invalid arguments")
        volume = Decimal(form["volume"])
        limit = Decimal(form["price"]) if ordertype == "limit" else None
        market = self.prices[pair]
        if (
            form["type"] == "buy"
            and volume * (limit or market) * (1 + TAKER_FEE) > self.balances["ZUSD"]
        ):
            raise _KrakenError("EOrder:Insufficient funds")
        order = FakeOrder(
            txid=_txid("O"),
            pair=pair,
            side=form["type"],
            ordertype=ordertype,
            volume=volume,
            limit=limit,
            cl_ord_id=cl_ord_id,
            opened=time.time(),
        )
        self.orders[order.txid] = order
        marketable = limit is None or (limit >= market if order.side == "buy" else limit <= market)
        if marketable:
            self._trade(order, volume, market)
        elif form.get("timeinforce") == "IOC":
            order.status, order.closed = "canceled", time.time()
        return {"txid": [order.txid], "descr": {"order": order.info()["descr"]["order"]}}

    def _QueryOrders(self, form: dict[str, str]) -> dict[str, Any]:
        if "cl_ord_id" in form:
            found = [o for o in self.orders.values() if o.cl_ord_id == form["cl_ord_id"]]
        else:
            found = [self.orders[t] for t in form.get("txid", "").split(",") if t in self.orders]
        if not found:
            raise _KrakenError("EOrder:Invalid order")
        return {o.txid: o.info() for o in found}

    def _OpenOrders(self, form: dict[str, str]) -> dict[str, Any]:
        return {"open": {o.txid: o.info() for o in self._matching(form) if o.status == "open"}}

    def _ClosedOrders(self, form: dict[str, str]) -> dict[str, Any]:
        closed = {o.txid: o.info() for o in self._matching(form) if o.status != "open"}
        return {"closed": closed, "count": len(closed)}

    def _CancelOrder(self, form: dict[str, str]) -> dict[str, Any]:
        key = form.get("txid") or form.get("cl_ord_id")
        order = self.orders.get(key or "") or next(
            (o for o in self.orders.values() if o.cl_ord_id == key), None
        )
        if order is None or order.status != "open":
            raise _KrakenError("EOrder:Unknown order")
        order.status, order.closed = "canceled", time.time()
        return {"count": 1}

    def _CancelAll(self, form: dict[str, str]) -> dict[str, Any]:
        count = 0
        for order in self.orders.values():
            if order.status == "open":
                order.status, order.closed = "canceled", time.time()
                count += 1
        return {"count": count}

    def _CancelAllOrdersAfter(self, form: dict[str, str]) -> dict[str, Any]:
        timeout = int(form.get("timeout", "0"))
        now = time.time()
        self.dead_man_trigger = now + timeout if timeout > 0 else None
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        trigger = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + timeout))
        return {"currentTime": stamp, "triggerTime": trigger if timeout > 0 else "0"}

    def _Balance(self, form: dict[str, str]) -> dict[str, str]:
        return {asset: self._amount(asset, amount) for asset, amount in self.balances.items()}

    def _BalanceEx(self, form: dict[str, str]) -> dict[str, dict[str, str]]:
        held: dict[str, Decimal] = {}
        for order in self.orders.values():
            if order.status == "open" and order.side == "buy" and order.limit is not None:
                remaining = (order.volume - order.vol_exec) * order.limit
                held["ZUSD"] = held.get("ZUSD", Decimal(0)) + remaining
        return {
            asset: {
                "balance": self._amount(asset, amount),
                "hold_trade": self._amount(asset, held.get(asset, Decimal(0))),
            }
            for asset, amount in self.balances.items()
        }

    def _amount(self, asset: str, amount: Decimal) -> str:
        """An amount as Kraken writes it: rounded down to the asset's ``decimals``."""
        places = int(self._assets["result"].get(asset, {}).get("decimals", 10))
        return f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):.{places}f}"

    # --- internals ----------------------------------------------------------------------------

    def _matching(self, form: dict[str, str]) -> list[FakeOrder]:
        wanted = form.get("cl_ord_id")
        return [o for o in self.orders.values() if wanted is None or o.cl_ord_id == wanted]

    def _trade(self, order: FakeOrder, volume: Decimal, price: Decimal) -> None:
        volume = min(volume, order.volume - order.vol_exec)
        cost = volume * price
        fee = (cost * TAKER_FEE).quantize(Decimal("0.000001"))
        order.vol_exec += volume
        order.cost += cost
        order.fee += fee
        order.trades.append(_txid("T"))
        base = "XXBT" if order.pair.startswith("XXBT") else "XETH"
        sign = 1 if order.side == "buy" else -1
        self.balances["ZUSD"] -= sign * cost + fee
        self.balances[base] = self.balances.get(base, Decimal(0)) + sign * volume
        if order.vol_exec >= order.volume:
            order.status, order.closed = "closed", time.time()


class _KrakenError(Exception):
    """An error Kraken answers in the envelope (``{"error": ["EOrder:..."]}``)."""


def _txid(prefix: str) -> str:
    raw = uuid.uuid4().hex.upper()
    return f"{prefix}{raw[:5]}-{raw[5:10]}-{raw[10:16]}"


def _valid_cl_ord_id(value: str) -> bool:
    """Kraken accepts a UUID (long or short form) or free text of at most 18 characters."""
    try:
        uuid.UUID(value)
    except ValueError:
        return len(value) <= 18
    return True
