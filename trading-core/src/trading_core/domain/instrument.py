"""Instruments: what may be traded, where, and in which increments."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator

from trading_core.domain.base import Frozen, PositiveDecimal


class AssetClass(StrEnum):
    EQUITY = "equity"
    FX = "fx"
    CRYPTO = "crypto"


class Instrument(Frozen):
    """A tradable instrument and its increments (tick for price, lot for quantity)."""

    symbol: str
    broker: str
    asset_class: AssetClass
    currency: str
    tick_size: PositiveDecimal
    lot_size: PositiveDecimal
    min_quantity: PositiveDecimal
    max_quantity: PositiveDecimal
    tradable: bool = True

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> Instrument:
        if self.min_quantity > self.max_quantity:
            raise ValueError("min_quantity exceeds max_quantity")
        return self

    def is_price_on_tick(self, price: Decimal) -> bool:
        return (price % self.tick_size) == 0

    def is_quantity_on_lot(self, quantity: Decimal) -> bool:
        return (quantity % self.lot_size) == 0
