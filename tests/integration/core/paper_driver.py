"""One paper-trading process for the crash tests, run as a real subprocess.

``python paper_driver.py DB_URL CLIENT_ORDER_ID KIND`` opens the shared paper account as an MCP
server or the CLI would (``open_app``), places one BTC/USD buy through the gate (``KIND`` is
``rest``: a limit 1 % under the bid, which rests; or ``market``: a marketable IOC), prints
``placed`` and then waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.risk.pretrade import OrderRequest
from trading_core.services.container import open_app
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

BTC = "BTC/USD"


async def main(db_url: str, client_order_id: str, kind: str) -> None:
    app = await open_app(
        load_settings(config_dir=PACKAGED_CONFIG_DIR, db_url=db_url), channel="cli"
    )
    quote = await app.feed.latest_quote(BTC)
    quantity = (Decimal(2000) / quote.ask).quantize(Decimal("0.0001"))
    resting = kind == "rest"
    outcome = await app.orders.place(
        OrderRequest(
            symbol=BTC,
            side=Side.BUY,
            quantity=quantity,
            order_type=OrderType.LIMIT if resting else OrderType.MARKET,
            limit_price=(quote.bid * Decimal("0.99")).quantize(Decimal("0.1")) if resting else None,
            time_in_force=TimeInForce.GTC if resting else TimeInForce.IOC,
            client_order_id=client_order_id,
        )
    )
    print(f"placed {outcome.status.value}", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
