"""Inputs shared by the rows, all derived from the real bar file (so both sides get the same)."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from benchmarks.environment import REPLAY_FILE
from trading_core.domain.market import Bar, Quote
from trading_core.domain.signal import Decision, DecisionType, Signal
from trading_core.marketdata.loaders import LoadedFile, load_bars_frame
from trading_core.marketdata.quotes import quote_around
from trading_core.marketdata.validation import validate_frame

SPREAD_BPS = Decimal(5)
TICK = Decimal("0.00000001")
RUN_ID = "benchmark"


@functools.cache
def loaded_file() -> LoadedFile:
    return load_bars_frame(REPLAY_FILE)


@functools.cache
def bars() -> tuple[Bar, ...]:
    """The file's bars after the same validation a replay applies."""
    loaded = loaded_file()
    validated = validate_frame(
        loaded.frame, symbol=loaded.symbol, timeframe=loaded.timeframe, now=None
    )
    return tuple(validated.bars())


def price_columns() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """High, low and close as float64 arrays, in file order."""
    frame: pd.DataFrame = loaded_file().frame
    return (
        frame["high"].to_numpy(dtype=np.float64),
        frame["low"].to_numpy(dtype=np.float64),
        frame["close"].to_numpy(dtype=np.float64),
    )


def quotes() -> list[Quote]:
    """One quote per bar close, made up around the close as a replay does."""
    return [
        quote_around(
            symbol=bar.symbol,
            price=bar.close,
            spread_bps=SPREAD_BPS,
            timestamp=bar.close_time,
            source="replay",
            volume=bar.volume,
            tick=TICK,
        )
        for bar in bars()
    ]


def decisions() -> list[Decision]:
    """One audit row per bar, shaped like the pipeline's: mostly holds and skips, some entries."""
    out: list[Decision] = []
    for index, bar in enumerate(bars()):
        out.append(_decision(index, bar))
    return out


def _decision(index: int, bar: Bar) -> Decision:
    close = float(bar.close)
    signal = Signal(
        agent="ma_cross",
        symbol=bar.symbol,
        timestamp=bar.close_time,
        score=1.0 if index % 20 == 0 else 0.0,
        confidence=0.42,
        reason="sma10 crossed above sma30" if index % 20 == 0 else "no cross: sma10 above sma30",
        features={"sma_10": close * 1.001, "sma_30": close * 0.999},
    )
    if index % 20 == 0:
        return Decision(
            timestamp=bar.close_time,
            decision_type=DecisionType.ENTRY,
            symbol=bar.symbol,
            signals=[signal.model_dump(mode="json")],
            risk_check=_risk_check(bar.close_time, bar.close),
            final_action=f"buy 2.19298245 {bar.symbol} limit {bar.close} -> filled",
            reasoning="entry: ma_cross score +1.00 (sma10 crossed above sma30) >= entry 0.5",
            order_id=f"order-{index:06d}",
            run_id=RUN_ID,
        )
    return Decision(
        timestamp=bar.close_time,
        decision_type=DecisionType.HOLD,
        symbol=bar.symbol,
        signals=[signal.model_dump(mode="json")],
        final_action="none",
        reasoning="hold 2.19298245: ma_cross score +0.00 (no cross: sma10 above sma30)",
        run_id=RUN_ID,
    )


def _risk_check(at: datetime, price: Decimal) -> dict[str, object]:
    return {
        "approved": True,
        "violations": [],
        "checked_at": at.isoformat(),
        "reference_price": str(price),
        "notional": str(price * Decimal("2.19298245")),
        "reduces_position": False,
        "halt": False,
    }
