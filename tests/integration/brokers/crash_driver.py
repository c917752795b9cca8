"""One live trading process for the crash tests, run as a real subprocess.

``python crash_driver.py DB_URL KRAKEN_URL CLIENT_ORDER_ID`` opens the live order path (the
start-up reconciliation included), sends one market buy of 0.01 BTC/USD under that client order
id through the gate, prints what happened as one JSON line and exits. The crash tests kill it
with SIGKILL somewhere in that order's life and start it again with the same id: what a
restarted process does with the same request is what a retrying caller would see.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SystemClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderType, Side
from trading_core.domain.portfolio import Portfolio
from trading_core.execution.live_assembly import open_live_execution
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.risk.pretrade import OrderRequest
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings
from trading_core.storage.factory import open_store

API_KEY = "fake-kraken-key"
API_SECRET_ENV = "CRASH_KRAKEN_SECRET"
BTC = "BTC/USD"


async def main(db_url: str, kraken_url: str, client_order_id: str, secret: str) -> None:
    clock = SystemClock()
    store = await open_store(db_url, clock=clock)
    try:
        await store.upgrade()
        ledger = PortfolioLedger(Portfolio.start(Decimal(0)))
        execution = await open_live_execution(
            Settings(
                mode="live",
                source="kraken",
                kraken={
                    "api_url": kraken_url,
                    "api_key": API_KEY,
                    "api_secret": secret,
                    "rate_limit_ms": 5,
                },
            ),
            store=store,
            bus=InMemoryBus(clock),
            clock=clock,
            instruments=InstrumentRegistry.from_file(PACKAGED_CONFIG_DIR / "symbols.toml"),
            symbols=[BTC],
            ledger=ledger,
            risk_limits=read_risk_limits(PACKAGED_CONFIG_DIR / "risk_limits.toml"),
            metrics=Metrics(),
            run_id=f"crash-{client_order_id}",
        )
        try:
            report = execution.reconciler.last
            price = Decimal("40000.0")
            await execution.orders.on_quote(
                Quote(
                    symbol=BTC,
                    bid=price - Decimal("0.1"),
                    ask=price + Decimal("0.1"),
                    last=price,
                    volume=Decimal(0),
                    timestamp=clock.now(),
                    source="crash-test",
                )
            )
            outcome = await execution.orders.place(
                OrderRequest(
                    symbol=BTC,
                    side=Side.BUY,
                    quantity=Decimal("0.01"),
                    order_type=OrderType.MARKET,
                    client_order_id=client_order_id,
                    reason="crash test",
                )
            )
            print(
                json.dumps(
                    {
                        "reconciliation": report.summary() if report is not None else None,
                        "settled": list(report.settled) if report is not None else [],
                        "status": outcome.status.value,
                        "duplicate": outcome.duplicate,
                        "order_status": outcome.order.status.value if outcome.order else None,
                        "position": str(ledger.portfolio.position(BTC).quantity),
                    }
                ),
                flush=True,
            )
        finally:
            await execution.broker.close()
    finally:
        await store.close()


if __name__ == "__main__":
    import os

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], os.environ[API_SECRET_ENV]))
