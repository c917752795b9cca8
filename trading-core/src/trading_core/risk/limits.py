"""Hard caps as constants in code. Configuration may only tighten them: min(cap, configured)."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from trading_core.domain.instrument import AssetClass

MAX_ORDER_NOTIONAL_PCT: Final = Decimal("5")
"""Largest single order, in percent of equity."""
MAX_POSITION_PCT: Final = Decimal("10")
"""Largest position per symbol (projected with open orders), in percent of equity."""
MAX_REFERENCE_AGE_SECONDS: Final = 60
"""A reference quote older than this cannot price-check an order."""
PRICE_COLLAR_PCT: Final[dict[AssetClass, Decimal]] = {
    AssetClass.EQUITY: Decimal("3"),
    AssetClass.FX: Decimal("0.5"),
    AssetClass.CRYPTO: Decimal("5"),
}
"""Largest distance of a limit price from the reference mid, by asset class."""
