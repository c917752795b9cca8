"""Tables as migration 1 created them, frozen: released migrations never change.

Migration 3 gave ``trading.orders``, ``trading.trades`` and ``trading.positions`` an ``account``
column (the paper account apart from each replay's own book); migration 1 must still create
them as released, so an old database and a new one upgrade to the same shape.
"""

from __future__ import annotations

from trading_core.storage.schema import Column, Index, LogicalType, Table

_TXT, _DEC, _TS = LogicalType.TEXT, LogicalType.DECIMAL, LogicalType.TIMESTAMP


def _c(name: str, type_: LogicalType, nullable: bool = False) -> Column:
    return Column(name, type_, nullable)


ORDERS_V1 = Table(
    "trading.orders",
    (
        _c("order_id", _TXT),
        _c("client_order_id", _TXT),
        _c("symbol", _TXT),
        _c("side", _TXT),
        _c("quantity", _DEC),
        _c("order_type", _TXT),
        _c("limit_price", _DEC, True),
        _c("stop_price", _DEC, True),
        _c("time_in_force", _TXT),
        _c("status", _TXT),
        _c("filled_quantity", _DEC),
        _c("average_fill_price", _DEC, True),
        _c("strategy_id", _TXT, True),
        _c("reason", _TXT, True),
        _c("broker", _TXT),
        _c("broker_order_id", _TXT, True),
        _c("status_reason", _TXT, True),
        _c("created_at", _TS),
        _c("updated_at", _TS),
    ),
    primary_key=("order_id",),
    unique=(("client_order_id",),),
    indexes=(Index(("symbol", "created_at")), Index(("status", "created_at"))),
)

TRADES_V1 = Table(
    "trading.trades",
    (
        _c("fill_id", _TXT),
        _c("order_id", _TXT),
        _c("client_order_id", _TXT),
        _c("symbol", _TXT),
        _c("side", _TXT),
        _c("quantity", _DEC),
        _c("price", _DEC),
        _c("commission", _DEC),
        _c("timestamp", _TS),
        _c("strategy_id", _TXT, True),
        _c("liquidity", _TXT),
    ),
    primary_key=("fill_id",),
    indexes=(Index(("symbol", "timestamp")), Index(("order_id",))),
)

POSITIONS_V1 = Table(
    "trading.positions",
    (
        _c("symbol", _TXT),
        _c("quantity", _DEC),
        _c("average_price", _DEC),
        _c("realized_pnl", _DEC),
        _c("commissions", _DEC),
        _c("updated_at", _TS, True),
    ),
    primary_key=("symbol",),
)
