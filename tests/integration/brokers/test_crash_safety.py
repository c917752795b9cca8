"""kill -9 at each moment of a live order's life, then a restart: no duplicate, no lost fill.

The trading process is a real subprocess (``crash_driver.py``) on SQLite or PostgreSQL; the
Kraken fake runs here and survives it. The fake itself pulls the trigger (``kill_at``) when the
order's request reaches it, so the process dies at exactly that point:

- before submit: ``AddOrder`` arrives and the process dies before Kraken acts (the store holds
  a PENDING order the venue never saw);
- after submit, before the acknowledgement: Kraken places (and fills) the order, the process
  dies before the answer comes back;
- after the fill, before the ledger: Kraken's answer arrived, the process dies while asking for
  the fill's details (``QueryOrders``), before anything of the fill reached the store.

A restart with the same client order id must find the order (never send a second one), book
each of its executions exactly once, and agree with Kraken's balances (the start-up
reconciliation would refuse otherwise).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trading_core.adapters.clock import SystemClock
from trading_core.domain.order import OrderStatus
from trading_core.execution.kraken_broker import KRAKEN_ACCOUNT, kraken_client_id
from trading_core.storage.factory import open_store

from .kraken_fake import API_SECRET, KrakenFake

DRIVER = Path(__file__).with_name("crash_driver.py")
CID = "crash-order-1"
SIGKILL_RETURNCODE = -9


async def _spawn(db_url: str, kraken: KrakenFake) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(DRIVER),
        db_url,
        kraken.url,
        CID,
        env={**os.environ, "CRASH_KRAKEN_SECRET": API_SECRET},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _ours(kraken: KrakenFake) -> list[Any]:
    return [o for o in kraken.orders.values() if o.cl_ord_id == kraken_client_id(CID)]


@pytest.mark.parametrize(
    ("endpoint", "carried_out", "placed"),
    [
        ("AddOrder", False, 0),
        ("AddOrder", True, 1),
        ("QueryOrders", False, 1),
    ],
    ids=["before-submit", "after-submit-before-ack", "after-fill-before-ledger"],
)
async def test_a_kill_anywhere_in_an_orders_life_leaves_no_duplicate_and_no_lost_fill(
    db_url: str, kraken: KrakenFake, endpoint: str, carried_out: bool, placed: int
) -> None:
    first = await _spawn(db_url, kraken)
    kraken.kill_at(endpoint, first.pid, carried_out=carried_out)
    code, out, err = await _finish(first)
    assert code == SIGKILL_RETURNCODE, f"not killed where meant: {code} {out} {err}"
    assert len(_ours(kraken)) == placed

    code, out, err = await _finish(await _spawn(db_url, kraken))
    assert code == 0, err
    restarted = json.loads(out.strip().splitlines()[-1])
    assert restarted["duplicate"] is True  # the retry is the order already known
    assert len(_ours(kraken)) == placed  # 0 duplicate orders at the venue
    assert len([c for c in kraken.calls("AddOrder") if c.get("cl_ord_id")]) == 1

    store = await open_store(db_url, clock=SystemClock())
    try:
        order = await store.get_order_by_client_id(CID)
        fills = await store.list_fills(account=KRAKEN_ACCOUNT)
        positions = await store.list_positions(account=KRAKEN_ACCOUNT)
    finally:
        await store.close()
    assert order is not None
    venue_filled = sum((o.vol_exec for o in _ours(kraken)), Decimal(0))
    # 0 lost fills, none booked twice: the store's fills are the venue's executions.
    assert sum((f.quantity for f in fills), Decimal(0)) == venue_filled
    assert len({f.fill_id for f in fills}) == len(fills)
    held = {p.symbol: p.quantity for p in positions}.get("BTC/USD", Decimal(0))
    assert held == kraken.balances["XXBT"] == venue_filled
    if placed:
        assert order.status is OrderStatus.FILLED
        assert venue_filled == Decimal("0.01")
        assert restarted["settled"] == [f"{CID} pending->filled"]
    else:
        assert order.status is OrderStatus.REJECTED  # never reached Kraken: closed, not resent
        assert restarted["order_status"] == "rejected"
