"""Scoring headlines in batches within a time budget, and serving scores point in time."""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from trading_core.sentiment.headlines import Headline
from trading_core.sentiment.lexicon import lexicon_score

LEXICON = "lexicon"
LOG = logging.getLogger(__name__)


class BatchScorer(Protocol):
    """Something that scores texts in [-1, 1] a batch at a time (a model)."""

    name: str

    def score_batch(self, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class ScoredHeadline:
    headline: Headline
    score: float
    """In [-1, 1]: bearish .. bullish."""
    scorer: str
    """``lexicon``, or the model that scored it."""


def score_headlines(
    headlines: Sequence[Headline],
    scorer: BatchScorer | None,
    *,
    batch_size: int,
    budget_seconds: float,
    timer: Callable[[], float],
) -> list[ScoredHeadline]:
    """Each headline scored by ``scorer`` in batches, or by the lexicon without one.

    Once ``budget_seconds`` have gone by (measured on ``timer`` before each batch), the
    headlines left are scored by the lexicon and say so: a slow model delays a run by at most
    one batch past the budget, never by the whole file.
    """
    if scorer is None:
        return [ScoredHeadline(h, lexicon_score(h.text), LEXICON) for h in headlines]
    started = timer()
    scored: list[ScoredHeadline] = []
    for first in range(0, len(headlines), batch_size):
        batch = headlines[first : first + batch_size]
        if timer() - started >= budget_seconds:
            left = headlines[first:]
            LOG.warning(
                "sentiment: time budget of %gs spent; %d of %d headlines scored by the lexicon",
                budget_seconds,
                len(left),
                len(headlines),
            )
            scored.extend(
                ScoredHeadline(h, lexicon_score(h.text), f"{LEXICON} (time budget)") for h in left
            )
            break
        scores = scorer.score_batch([h.text for h in batch])
        scored.extend(ScoredHeadline(h, s, scorer.name) for h, s in zip(batch, scores, strict=True))
    return scored


@dataclass(frozen=True, slots=True)
class SentimentReading:
    """A symbol's sentiment at a moment: the mean score of the headlines it rests on."""

    score: float | None
    """None when no headline of the window is about the symbol."""
    headlines: tuple[ScoredHeadline, ...]
    """Those headlines, oldest first."""


class SentimentTimeline:
    """Scored headlines per symbol, asked for what was known at a moment.

    A headline published at t counts for a moment strictly after t (a bar closing at t does not
    see it), and for ``window`` after that: the score is the mean over those headlines.
    """

    def __init__(self, scored: Sequence[ScoredHeadline], *, window: timedelta) -> None:
        self.window = window
        by_symbol: dict[str, list[ScoredHeadline]] = {}
        for item in sorted(scored, key=lambda s: s.headline.timestamp):
            for symbol in item.headline.symbols:
                by_symbol.setdefault(symbol, []).append(item)
        self._items = by_symbol
        self._times = {s: [i.headline.timestamp for i in items] for s, items in by_symbol.items()}

    @property
    def symbols(self) -> list[str]:
        return sorted(self._items)

    def reading(self, symbol: str, at: datetime) -> SentimentReading:
        """What the headlines published in [at - window, at) say about ``symbol``."""
        times = self._times.get(symbol)
        if not times:
            return SentimentReading(None, ())
        first = bisect.bisect_left(times, at - self.window)
        last = bisect.bisect_left(times, at)  # strictly before ``at``
        chosen = tuple(self._items[symbol][first:last])
        if not chosen:
            return SentimentReading(None, ())
        mean = math.fsum(item.score for item in chosen) / len(chosen)
        return SentimentReading(max(-1.0, min(1.0, mean)), chosen)

    def score(self, symbol: str, at: datetime) -> float | None:
        """The mean score of ``symbol``'s headlines in the window before ``at`` (None: none)."""
        return self.reading(symbol, at).score
