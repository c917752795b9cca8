"""A FinBERT-style sequence classifier loaded from a local directory (transformers, CPU torch).

The directory is what ``save_pretrained`` writes (config.json, the weights, the tokenizer
files); nothing is ever downloaded (``local_files_only``). A headline's score is
P(positive) - P(negative), in [-1, 1]. The labels are found by name in the model's
``id2label``, never by position: ProsusAI/finbert's config.json names them
``{"0": "positive", "1": "negative", "2": "neutral"}`` and fine-tunes of it reorder and
capitalise them.

transformers and torch are imported only when a model is loaded, so the lexicon path works
without them (``uv sync --no-group sentiment``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trading_core.domain.errors import ConfigurationError

MAX_TOKENS = 128
"""Tokens kept per headline: a headline is far shorter, and attention cost grows with length."""


class TransformersScorer:
    """Scores headlines with a sequence-classification model from ``path``, a batch at a time."""

    def __init__(self, path: Path, *, max_tokens: int = MAX_TOKENS) -> None:
        """Load the model and tokenizer from ``path``; refused in one line when it cannot be.

        Raises ConfigurationError when transformers or torch is not installed, the directory is
        missing, it holds no sequence classifier, or its labels lack positive and negative.
        """
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise ConfigurationError(
                f"sentiment.model_path is set but {exc.name} is not installed: install the "
                "sentiment group (uv sync --group sentiment), or unset sentiment.model_path "
                "for the lexicon scorer"
            ) from None
        if not (path / "config.json").is_file():
            raise ConfigurationError(
                f"sentiment.model_path {path} holds no config.json: give the directory that "
                "save_pretrained (or a download of ProsusAI/finbert) wrote"
            )
        transformers_logging.disable_progress_bar()  # no "Loading weights" bars on a run's stderr
        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model: Any = AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigurationError(
                f"sentiment model at {path} cannot be loaded: {first}"
            ) from None
        labels = {str(name).lower(): int(index) for index, name in model.config.id2label.items()}
        if "positive" not in labels or "negative" not in labels:
            raise ConfigurationError(
                f"sentiment model at {path} has labels {sorted(labels)}: it needs a positive "
                "and a negative one"
            )
        model.eval()  # no dropout: the same headline always gets the same score
        self._torch: Any = torch
        self._model = model
        self._positive, self._negative = labels["positive"], labels["negative"]
        self._max_tokens = max_tokens
        self.name = f"model {path.name}"

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """P(positive) - P(negative) for each text, in order."""
        if not texts:
            return []
        encoded = self._tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self._max_tokens,
            return_tensors="pt",
        )
        with self._torch.inference_mode():
            logits = self._model(**encoded).logits
        probabilities = self._torch.softmax(logits.double(), dim=-1)
        scores = probabilities[:, self._positive] - probabilities[:, self._negative]
        return [max(-1.0, min(1.0, float(s))) for s in scores.tolist()]


def monotonic() -> float:
    """The timer a scoring budget is measured on (seconds, never going back)."""
    return time.monotonic()
