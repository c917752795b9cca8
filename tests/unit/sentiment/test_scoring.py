"""The lexicon's scores, and the timeline: a headline counts only for moments after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trading_core.sentiment.headlines import Headline
from trading_core.sentiment.lexicon import lexicon_score
from trading_core.sentiment.scoring import (
    LEXICON,
    ScoredHeadline,
    SentimentTimeline,
    score_headlines,
)

T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Ethereum surges to record", 1.0),
        ("Exchange hacked; shares plunge", -1.0),
        ("Profit beats estimates but revenue misses", pytest.approx(1 / 3)),
        ("Regulator will not approve the fund", -1.0),  # negation flips "approve"
        ("Company schedules annual meeting", 0.0),
        ("", 0.0),
    ],
)
def test_the_lexicon_counts_positive_and_negative_words(text: str, score: float) -> None:
    assert lexicon_score(text) == score


def _headline(minutes: int, text: str, *symbols: str) -> Headline:
    return Headline(T0 + timedelta(minutes=minutes), "wire", symbols or ("BTC/USD",), text)


def test_without_a_model_every_headline_is_scored_by_the_lexicon() -> None:
    scored = score_headlines(
        [_headline(0, "Bitcoin rallies"), _headline(1, "Bitcoin slumps")],
        None,
        batch_size=8,
        budget_seconds=1.0,
        timer=lambda: 0.0,
    )
    assert [(s.score, s.scorer) for s in scored] == [(1.0, LEXICON), (-1.0, LEXICON)]


def test_a_headline_counts_only_after_it_is_published_and_for_the_window() -> None:
    timeline = SentimentTimeline(
        [
            ScoredHeadline(_headline(0, "up", "BTC/USD", "ETH/USD"), 1.0, LEXICON),
            ScoredHeadline(_headline(30, "down"), -0.5, LEXICON),
        ],
        window=timedelta(hours=1),
    )
    assert timeline.score("BTC/USD", T0) is None  # published at T0: not known at T0
    assert timeline.score("BTC/USD", T0 + timedelta(seconds=1)) == 1.0
    assert timeline.score("BTC/USD", T0 + timedelta(minutes=31)) == 0.25  # mean of both
    assert timeline.score("ETH/USD", T0 + timedelta(minutes=31)) == 1.0
    assert timeline.score("BTC/USD", T0 + timedelta(minutes=61)) == -0.5  # the first is out
    assert timeline.score("BTC/USD", T0 + timedelta(minutes=91)) is None
    assert timeline.score("XRP/USD", T0 + timedelta(minutes=31)) is None
    reading = timeline.reading("BTC/USD", T0 + timedelta(minutes=31))
    assert [s.headline.text for s in reading.headlines] == ["up", "down"]
    assert timeline.symbols == ["BTC/USD", "ETH/USD"]
