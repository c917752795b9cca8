"""Settings of the paper broker: frozen, validated once, unknown keys rejected."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from trading_core.domain.base import ZERO, Frozen, NonNegativeDecimal, PositiveDecimal

BPS_PER_UNIT = Decimal(10_000)
"""Basis points in one whole (1 bp = 0.01 %)."""


class PaperBrokerConfig(Frozen):
    """How the paper broker prices and sizes fills.

    ``slippage_bps`` is the worst adverse slippage a taker fill can get (each fill draws uniformly
    from ``[0, slippage_bps]``); ``commission_bps`` is charged on notional with ``min_commission``
    as a floor per fill; ``max_participation`` caps what all orders together may execute against
    one quote as a fraction of that quote's volume.
    """

    seed: int = 0
    slippage_bps: NonNegativeDecimal = Decimal(2)
    commission_bps: NonNegativeDecimal = Decimal(10)
    min_commission: NonNegativeDecimal = ZERO
    max_participation: PositiveDecimal = Decimal("0.25")
    name: str = Field(default="paper", min_length=1)

    @model_validator(mode="after")
    def _within_bounds(self) -> PaperBrokerConfig:
        # 10,000 bps of slippage would price a sell at zero or below.
        if self.slippage_bps >= BPS_PER_UNIT:
            raise ValueError("slippage_bps must be below 10000")
        if self.commission_bps >= BPS_PER_UNIT:
            raise ValueError("commission_bps must be below 10000")
        if self.max_participation > 1:
            raise ValueError("max_participation is a fraction of volume: at most 1")
        return self
