"""Volatility: expansion and contraction of ranges against their own recent median."""

from __future__ import annotations

import math

import pytest

from trading_agents.alphas.volatility import (
    atr_ratio,
    band_width_ratio,
    volatility,
    volatility_min_bars,
)

from .conftest import series_of_closes


def zigzag(length: int, swing: float, then: float | None = None, last: int = 10) -> list[float]:
    """Closes alternating +/- ``swing`` (a fraction) around 100; the ``last`` bars swing by
    ``then`` instead, when given."""
    closes = []
    for index in range(length):
        size = then if then is not None and index >= length - last else swing
        closes.append(100.0 * (1 + (size if index % 2 else -size)))
    return closes


def test_steady_ranges_read_as_neither_expanding_nor_contracting() -> None:
    score = volatility(series_of_closes(zigzag(90, 0.01)))

    assert score is not None
    assert abs(score) < 0.05


def test_ranges_tripling_read_as_expansion() -> None:
    score = volatility(series_of_closes(zigzag(90, 0.01, then=0.03)))

    assert score is not None
    assert score > 0.5


def test_ranges_shrinking_read_as_contraction() -> None:
    score = volatility(series_of_closes(zigzag(90, 0.03, then=0.005)))

    assert score is not None
    assert score < -0.5


def test_score_is_the_mean_of_the_two_log_ratio_terms() -> None:
    series = series_of_closes(zigzag(90, 0.01, then=0.015))
    ratios = [atr_ratio(series), band_width_ratio(series)]
    assert all(ratio is not None for ratio in ratios)

    expected = sum(max(-1.0, min(1.0, math.log(r or 1) / math.log(2.0))) for r in ratios) / 2

    assert volatility(series) == pytest.approx(expected)


def test_flat_prices_have_no_usual_volatility_to_compare_with() -> None:
    assert volatility(series_of_closes([100.0] * 90, wick=0.0)) is None


def test_too_few_bars_give_no_view() -> None:
    needed = volatility_min_bars()
    closes = zigzag(needed, 0.01)

    short = series_of_closes(closes[:-1])

    assert band_width_ratio(short) is None  # the bands need the most bars
    assert volatility(short) == pytest.approx(math.log(atr_ratio(short) or 0) / math.log(2))
    assert band_width_ratio(series_of_closes(closes)) is not None
    assert volatility(series_of_closes(closes[:40])) is None
