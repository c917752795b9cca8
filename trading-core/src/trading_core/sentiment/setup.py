"""The configured sentiment: headlines from ``[sentiment]``, scored once, as a timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from trading_core.sentiment.classifier import TransformersScorer, monotonic
from trading_core.sentiment.headlines import load_headlines
from trading_core.sentiment.scoring import BatchScorer, SentimentTimeline, score_headlines
from trading_core.settings import SentimentSettings


def open_sentiment(
    settings: SentimentSettings, *, timer: Callable[[], float] = monotonic
) -> SentimentTimeline | None:
    """The headlines file scored by the model (``model_path``) or the lexicon; None without one.

    Bad files and a model that cannot be loaded raise a TradingError before anything runs.
    """
    if settings.headlines is None:
        return None
    headlines = load_headlines(settings.headlines)
    scorer: BatchScorer | None = None
    if settings.model_path is not None:
        scorer = TransformersScorer(settings.model_path)
    scored = score_headlines(
        headlines,
        scorer,
        batch_size=settings.batch_size,
        budget_seconds=settings.time_budget_seconds,
        timer=timer,
    )
    return SentimentTimeline(scored, window=timedelta(hours=settings.window_hours))
