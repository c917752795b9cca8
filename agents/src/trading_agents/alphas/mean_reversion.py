"""Mean-reversion alpha: stretched prices (Bollinger position, RSI extremes) tend to come back."""

from __future__ import annotations

import math

from trading_agents.alphas._indicators import band_now, rsi_now
from trading_agents.alphas._maths import clip
from trading_agents.series import BarSeries

BAND_WIDTH = 2.0
"""Standard deviations to the Bollinger band: |z| = 2 at the band scores the z term in full."""
RSI_LOW = 30.0
RSI_HIGH = 70.0
RSI_FULL = 20.0
"""RSI points past an extreme (so 10 or 90) at which the RSI term counts in full."""
FLAT_TOLERANCE = 1e-12


def mean_reversion_min_bars(band_period: int = 20, rsi_period: int = 14) -> int:
    """SMA and deviation need ``band_period`` closes; RSI is first defined at bar rsi_period."""
    return max(band_period, rsi_period + 1)


def mean_reversion(
    series: BarSeries, *, band_period: int = 20, rsi_period: int = 14
) -> float | None:
    """Expected snap-back at the last bar, in [-1, 1]: > 0 oversold (buy), < 0 overbought.

    Two equally weighted terms:

    - z = (close - SMA(band_period)) / sigma, sigma the population standard deviation of the
      same closes (the Bollinger convention); z term = clip(-z / ``BAND_WIDTH``, -1, 1), so a
      close on the lower band scores +1 and one on the upper band -1;
    - RSI(rsi_period) extremes: (``RSI_LOW`` - RSI) / ``RSI_FULL`` below RSI_LOW,
      -(RSI - ``RSI_HIGH``) / RSI_FULL above RSI_HIGH, 0 in between, clipped to [-1, 1].

    score = (z term + RSI term) / 2. A flat window (sigma 0, or below ``FLAT_TOLERANCE`` of
    the close: rounding noise) scores 0: the price sits on its
    mean. None with too few bars.
    """
    if len(series) < mean_reversion_min_bars(band_period, rsi_period):
        return None
    middle, deviation = band_now(series, band_period)
    # sigma as the upper band of bollinger(width=1) minus its middle (it may differ from the
    # deviation in the last bit).
    sigma, close = (middle + 1.0 * deviation) - middle, float(series.close[-1])
    # A deviation at rounding-error level is a flat window, not a stretched price.
    flat = sigma <= close * FLAT_TOLERANCE
    z_term = 0.0 if flat else clip(-(close - middle) / sigma / BAND_WIDTH)
    rsi_value = rsi_now(series, rsi_period)
    if math.isnan(rsi_value):
        return None
    return (z_term + rsi_extreme(rsi_value)) / 2.0


def rsi_extreme(value: float) -> float:
    """+1..0 as RSI rises from ``RSI_LOW - RSI_FULL`` to RSI_LOW, 0 inside, 0..-1 above RSI_HIGH."""
    if value < RSI_LOW:
        return clip((RSI_LOW - value) / RSI_FULL)
    if value > RSI_HIGH:
        return clip(-(value - RSI_HIGH) / RSI_FULL)
    return 0.0
