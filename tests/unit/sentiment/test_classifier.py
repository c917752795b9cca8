"""The transformers scorer on a tiny, randomly initialised BERT saved into a temp directory.

No model can be downloaded here, so the test builds one with the real transformers classes
(BertConfig, BertForSequenceClassification, BertTokenizer) and ``save_pretrained``, and loads
it through the scorer exactly as it would load a download of ProsusAI/finbert. The labels
follow that model's config.json: ``{"0": "positive", "1": "negative", "2": "neutral"}``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.sentiment.headlines import Headline
from trading_core.sentiment.scoring import score_headlines
from trading_core.sentiment.setup import open_sentiment
from trading_core.settings import SentimentSettings

torch = pytest.importorskip("torch", reason="the sentiment group (torch) is not installed")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

FINBERT_LABELS = {0: "positive", 1: "negative", 2: "neutral"}
WORDS = ["bitcoin", "ethereum", "surges", "plunges", "record", "hack", "after", "to", "the"]
TEXTS = ["bitcoin surges to record", "ethereum plunges after the exchange hack", "bitcoin"]


def _tiny_model(directory: Path, labels: dict[int, str] = FINBERT_LABELS) -> Path:
    """A 2-layer BERT of hidden size 16 with FinBERT's label names, saved to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n", encoding="utf-8"
    )
    tokenizer = transformers.BertTokenizer(vocab_file=str(vocab))
    config = transformers.BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=labels,
        label2id={name: index for index, name in labels.items()},
    )
    torch.manual_seed(7)
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _expected(directory: Path, text: str, positive: int, negative: int) -> float:
    """P(positive) - P(negative) computed here from the saved model, one text at a time."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.no_grad():
        probabilities = model(**tokenizer([text], return_tensors="pt")).logits.softmax(-1)[0]
    return float(probabilities[positive] - probabilities[negative])


def test_a_saved_finbert_style_model_scores_headlines_in_batches(tmp_path: Path) -> None:
    from trading_core.sentiment.classifier import TransformersScorer

    directory = _tiny_model(tmp_path / "finbert-tiny")
    scorer = TransformersScorer(directory)
    scores = scorer.score_batch(TEXTS)  # one padded batch
    assert len(scores) == 3
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert len(set(scores)) == 3  # a random model still tells the texts apart
    for text, score in zip(TEXTS, scores, strict=True):
        assert score == pytest.approx(_expected(directory, text, 0, 1), abs=1e-5)
    assert scorer.score_batch(TEXTS) == scores  # no dropout: the same every time


def test_labels_are_found_by_name_not_position(tmp_path: Path) -> None:
    from trading_core.sentiment.classifier import TransformersScorer

    reordered = {0: "Neutral", 1: "Positive", 2: "Negative"}
    directory = _tiny_model(tmp_path / "reordered", reordered)
    (score,) = TransformersScorer(directory).score_batch([TEXTS[0]])
    assert score == pytest.approx(_expected(directory, TEXTS[0], 1, 2), abs=1e-5)


def test_a_model_without_positive_and_negative_labels_is_refused(tmp_path: Path) -> None:
    from trading_core.sentiment.classifier import TransformersScorer

    directory = _tiny_model(tmp_path / "topics", {0: "sports", 1: "politics", 2: "markets"})
    with pytest.raises(ConfigurationError, match="needs a positive and a negative"):
        TransformersScorer(directory)


def test_a_directory_without_a_model_is_refused_in_one_line(tmp_path: Path) -> None:
    from trading_core.sentiment.classifier import TransformersScorer

    with pytest.raises(ConfigurationError, match=r"holds no config\.json") as refused:
        TransformersScorer(tmp_path)
    assert "\n" not in refused.value.message
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cannot be loaded") as broken:
        TransformersScorer(tmp_path)
    assert "\n" not in broken.value.message


def test_without_transformers_a_configured_model_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading_core.sentiment.classifier import TransformersScorer

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers fails
    with pytest.raises(ConfigurationError, match="transformers is not installed"):
        TransformersScorer(tmp_path)


def test_past_the_time_budget_the_rest_is_scored_by_the_lexicon(tmp_path: Path) -> None:
    from trading_core.sentiment.classifier import TransformersScorer

    scorer = TransformersScorer(_tiny_model(tmp_path / "m"))
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    headlines = [
        Headline(t0 + timedelta(minutes=i), "wire", ("BTC/USD",), "bitcoin surges to record")
        for i in range(5)
    ]
    ticks = iter([0.0, 0.0, 0.5, 1.5])  # start, before batch 1, before 2, before 3 (spent)
    scored = score_headlines(
        headlines, scorer, batch_size=2, budget_seconds=1.0, timer=lambda: next(ticks)
    )
    assert [s.scorer for s in scored] == [scorer.name] * 4 + ["lexicon (time budget)"]
    assert scored[-1].score == 1.0  # "surges", "record"
    alone = scorer.score_batch(["bitcoin surges to record"])[0]
    assert scored[0].score == pytest.approx(alone, abs=1e-9)  # padding changes float noise only


def test_settings_with_a_model_path_score_through_the_model(tmp_path: Path) -> None:
    directory = _tiny_model(tmp_path / "m")
    headlines = tmp_path / "h.jsonl"
    headlines.write_text(
        '{"timestamp": "2024-01-01T00:00:00Z", "source": "wire", "symbols": ["BTC/USD"], '
        '"text": "bitcoin surges to record"}\n',
        encoding="utf-8",
    )
    timeline = open_sentiment(SentimentSettings(headlines=headlines, model_path=directory))
    assert timeline is not None
    reading = timeline.reading("BTC/USD", datetime(2024, 1, 1, 1, tzinfo=UTC))
    (item,) = reading.headlines
    assert item.scorer == "model m"
    assert reading.score == pytest.approx(_expected(directory, item.headline.text, 0, 1), abs=1e-5)
