"""How big an entry is: quarter Kelly where the signal carries a calibrated edge, else a fixed
fraction of equity; a trade filter's multiplier shrinks either, and the caps clip it.

A signal is calibrated when its ``features`` carry ``win_probability`` (0..1) and
``win_loss_ratio`` (> 0) from a model whose probabilities were checked against outcomes (the ML
issue's model); an agent that only has a score never pretends to have them. The order service
still checks every cap on the result: sizing is a proposal, never a bypass.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading_core.domain.instrument import Instrument
from trading_core.domain.signal import Signal
from trading_core.execution.order_service import round_down
from trading_core.risk.kelly import position_size

WIN_PROBABILITY = "win_probability"
WIN_LOSS_RATIO = "win_loss_ratio"


@dataclass(frozen=True, slots=True)
class EntrySize:
    quantity: Decimal
    method: str
    """How it was sized, for the audit row."""


def entry_size(
    *,
    signal: Signal | None,
    equity: Decimal,
    ask: Decimal,
    instrument: Instrument,
    order_fraction: Decimal,
    multiplier: float,
    held: Decimal,
    limit_price: Decimal | None = None,
    max_order_notional_pct: Decimal | None = None,
    max_position_pct: Decimal | None = None,
) -> EntrySize:
    """The quantity of an entry at ``ask`` (see the module docstring).

    Kelly sizes at ``limit_price`` (the price the order's notional is checked at; default the
    ask) within the effective ``max_order_notional_pct`` and ``max_position_pct`` (default the
    hard caps), so that a Kelly-sized order fits the caps it is then checked against.
    """
    shrink = Decimal(repr(min(1.0, max(0.0, multiplier))))
    features = signal.features if signal is not None else {}
    p, b = features.get(WIN_PROBABILITY), features.get(WIN_LOSS_RATIO)
    if p is not None and b is not None:
        caps: dict[str, Decimal] = {}
        if max_order_notional_pct is not None:
            caps["max_order_notional_pct"] = max_order_notional_pct
        if max_position_pct is not None:
            caps["max_position_pct"] = max_position_pct
        sized = position_size(
            equity=equity,
            price=limit_price if limit_price is not None else ask,
            win_probability=p,
            win_loss_ratio=b,
            lot_size=instrument.lot_size,
            existing_quantity=max(held, Decimal(0)),
            min_quantity=instrument.min_quantity,
            max_quantity=instrument.max_quantity,
            **caps,
        )
        quantity = round_down(sized.quantity * shrink, instrument.lot_size)
        method = (
            f"quarter Kelly {sized.fractional_kelly:.4f} of equity (p {p:.2f}, b {b:.2f}; "
            f"bound by {sized.binding_constraint})"
        )
    else:
        quantity = round_down(equity * order_fraction * shrink / ask, instrument.lot_size)
        percent = (order_fraction * 100).normalize()
        method = f"fixed {percent:f}% of equity (no calibrated probability)"
    if shrink < 1:
        method += f" x{shrink:g}"
    return EntrySize(quantity, method)
