"""A trained signal model as the live loop uses it: booster + calibration + card, and the gate.

On disk, under the models directory: ``{name}-v{N}.lgb.txt`` (LightGBM's own text format) and
``{name}-v{N}.card.json`` beside it (data range, splits, per-fold metrics, calibration, the
out-of-sample ECE the gate reads). The card names the model file and its SHA-256; loading
refuses a model file that does not match.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trading_core.domain.errors import ConfigurationError
from trading_core.ml.calibration import Calibrator
from trading_core.ml.features import FEATURE_NAMES, feature_vector

CARD_SUFFIX = ".card.json"
if TYPE_CHECKING:
    import lightgbm as lgb

MODEL_SUFFIX = ".lgb.txt"
DEFAULT_MAX_ECE = 0.05
"""Seed 004: a model less calibrated than this out of sample never sizes a position."""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether a model's probabilities may size positions, and why (for the decision row)."""

    accepted: bool
    reason: str


def gate(card: Mapping[str, Any], *, max_ece: float = DEFAULT_MAX_ECE) -> GateVerdict:
    """Accept a model whose out-of-sample ECE is at most ``max_ece``; refuse it otherwise."""
    ece = card.get("out_of_sample", {}).get("ece")
    version = card.get("version", "?")
    if ece is None or not np.isfinite(ece):
        return GateVerdict(False, f"model {version} refused: no out-of-sample ECE in its card")
    if ece > max_ece:
        return GateVerdict(False, f"model {version} refused: ECE {ece:.4f} > {max_ece:g}")
    return GateVerdict(True, f"model {version} accepted: ECE {ece:.4f} <= {max_ece:g}")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def next_version(models_dir: Path, name: str) -> str:
    """``{name}-v{N}`` with N one above the highest card of ``name`` in ``models_dir``."""
    pattern = re.compile(rf"^{re.escape(name)}-v(\d+){re.escape(CARD_SUFFIX)}$")
    taken = [
        int(m.group(1)) for p in models_dir.glob("*" + CARD_SUFFIX) if (m := pattern.match(p.name))
    ]
    return f"{name}-v{max(taken, default=0) + 1}"


class SignalModel:
    """A loaded model: ``probability(features)`` is its calibrated P(close rises over k bars)."""

    def __init__(self, booster: lgb.Booster, calibrator: Calibrator, card: dict[str, Any]) -> None:
        self._booster = booster
        self._calibrator = calibrator
        self.card = card

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def win_loss_ratio(self) -> float:
        """Mean gain of a rise over mean loss of a fall over the horizon, in the training data."""
        return float(self.card["win_loss_ratio"])

    @classmethod
    def load(cls, card_path: Path) -> SignalModel:
        """Load from a card (or the model file beside it); checks the model file's SHA-256."""
        if card_path.name.endswith(MODEL_SUFFIX):
            card_path = card_path.with_name(card_path.name.removesuffix(MODEL_SUFFIX) + CARD_SUFFIX)
        if not card_path.is_file():
            raise ConfigurationError(f"no model card at {card_path}")
        card = json.loads(card_path.read_text(encoding="utf-8"))
        model_path = card_path.with_name(card["model_file"])
        if sha256_of(model_path) != card["sha256"]:
            raise ConfigurationError(f"{model_path} does not match the SHA-256 in its card")
        if list(card["feature_set"]["features"]) != list(FEATURE_NAMES):
            raise ConfigurationError(
                f"model {card['version']} was trained on other features than this code computes"
            )
        # One thread: a single row is too small to split, and the live loop shares the cores.
        # Imported here: lightgbm (and what it pulls in) takes seconds to import, and a run
        # without a model, or a server only reading a card, must not pay for it.
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(model_path))
        calibration = card["calibration"]
        return cls(booster, Calibrator(calibration["method"], calibration["params"]), card)

    def raw_probability(self, row: np.ndarray) -> float:
        """The booster's own probability of one row (shape (1, n))."""
        return float(self._booster.predict(row, num_threads=1)[0])

    def probability(self, features: Mapping[str, float | None]) -> float | None:
        """Calibrated probability of a rise; None while a feature the model needs is not warm."""
        if any(features[name] is None for name in FEATURE_NAMES):
            return None
        return self._calibrator.apply_one(self.raw_probability(feature_vector(features)))


def model_status(path: Path | None, *, max_ece: float = DEFAULT_MAX_ECE) -> dict[str, Any]:
    """What the configured model is: version, card metrics and the gate's verdict (read-only).

    Reads the card only; ``configured`` False when no model is set, ``found`` False when the
    card is not there.
    """
    if path is None:
        return {"configured": False, "found": False, "gate": "no model configured: rules only"}
    if path.name.endswith(MODEL_SUFFIX):
        path = path.with_name(path.name.removesuffix(MODEL_SUFFIX) + CARD_SUFFIX)
    if not path.is_file():
        return {"configured": True, "found": False, "gate": f"model missing: no card at {path}"}
    card = json.loads(path.read_text(encoding="utf-8"))
    verdict = gate(card, max_ece=max_ece)
    return {
        "configured": True,
        "found": True,
        "version": card.get("version"),
        "created_at": card.get("created_at"),
        "data": card.get("data"),
        "out_of_sample": card.get("out_of_sample"),
        "folds": [{"fold": row["fold"], **row["calibrated"]} for row in card.get("folds", [])],
        "max_ece": max_ece,
        "accepted": verdict.accepted,
        "gate": verdict.reason,
    }
