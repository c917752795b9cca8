"""Training writes a versioned model with its card; the walk-forward folds are purged and
embargoed; the ECE gate accepts a calibrated model and refuses one above the limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.ml.features import compute_features
from trading_core.ml.model import SignalModel, gate, model_status
from trading_core.ml.splits import walk_forward
from trading_core.ml.train import TrainConfig, train

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def trending_bars(n: int = 3000, seed: int = 11) -> pd.DataFrame:
    """Bars whose next moves follow their recent ones (momentum): a learnable direction."""
    rng = np.random.default_rng(seed)
    returns = np.zeros(n)
    for i in range(1, n):
        returns[i] = 0.6 * returns[i - 1] + rng.normal(0, 0.002)
    close = 100 * np.exp(np.cumsum(returns))
    wiggle = np.abs(rng.normal(0, 0.001, n)) * close
    index = pd.DatetimeIndex([NOW + timedelta(minutes=5 * i) for i in range(n)])
    return pd.DataFrame(
        {"high": close + wiggle, "low": close - wiggle, "close": close, "volume": 50.0},
        index=index,
    )


SMALL = TrainConfig(horizon=3, folds=3, embargo=20, rounds=120, num_threads=1)


def test_folds_leave_a_purge_and_embargo_gap_between_segments() -> None:
    folds = walk_forward(1000, folds=3, horizon=6, embargo=10, start=60)
    for fold in folds:
        assert fold.calibration.start - fold.fit.stop == 16
        assert fold.test.start - fold.calibration.stop == 16
        assert fold.fit.start == 60
    assert [f.test.start for f in folds] == [295, 530, 765]
    assert folds[-1].test.stop == 1000
    with pytest.raises(ValueError, match="too few"):
        walk_forward(200, folds=5, horizon=6, embargo=50)


def test_training_writes_model_and_card_and_the_model_loads(tmp_path: Path) -> None:
    first = train(
        trending_bars(), symbol="SYN/USD", source="x", models_dir=tmp_path, now=NOW, config=SMALL
    )
    second = train(
        trending_bars(), symbol="SYN/USD", source="x", models_dir=tmp_path, now=NOW, config=SMALL
    )

    assert (first.card["version"], second.card["version"]) == ("direction-v1", "direction-v2")
    card = json.loads(first.card_path.read_text())
    assert card["data"]["first"] == NOW.isoformat()
    assert [row["fold"] for row in card["folds"]] == [1, 2, 3]
    for row in card["folds"]:
        assert set(row["calibrated"]) == {"auc", "log_loss", "brier", "ece"}
        assert row["best_iteration"] >= 1
    assert card["out_of_sample"]["auc"] > 0.6, "momentum is learnable out of sample"
    assert set(card["feature_importance"]) >= {"return_1", "rsi_14"}

    model = SignalModel.load(first.card_path)
    assert model.version == "direction-v1"
    features = compute_features(trending_bars()).iloc[-1].to_dict()
    p = model.probability(features)
    assert p is not None
    assert 0 < p < 1
    assert model.probability({**features, "rsi_14": None}) is None


def test_a_model_file_that_does_not_match_its_card_is_refused(tmp_path: Path) -> None:
    trained = train(
        trending_bars(1500),
        symbol="SYN/USD",
        source="x",
        models_dir=tmp_path,
        now=NOW,
        config=SMALL,
    )
    trained.model_path.write_text(trained.model_path.read_text() + "\n")
    with pytest.raises(ConfigurationError, match="SHA-256"):
        SignalModel.load(trained.card_path)


def test_the_gate_accepts_a_calibrated_model_and_refuses_one_above_the_limit(
    tmp_path: Path,
) -> None:
    trained = train(
        trending_bars(), symbol="SYN/USD", source="x", models_dir=tmp_path, now=NOW, config=SMALL
    )
    ece = trained.card["out_of_sample"]["ece"]
    assert ece <= 0.05, "a learnable series calibrates within seed 004's limit"

    accepted = gate(trained.card, max_ece=0.05)
    refused = gate(trained.card, max_ece=ece / 2)
    assert accepted.accepted
    assert "accepted" in accepted.reason
    assert not refused.accepted
    assert refused.reason == f"model direction-v1 refused: ECE {ece:.4f} > {ece / 2:g}"
    assert not gate({"version": "x"}).accepted


def test_model_status_reports_the_card_and_the_gate_both_ways(tmp_path: Path) -> None:
    trained = train(
        trending_bars(), symbol="SYN/USD", source="x", models_dir=tmp_path, now=NOW, config=SMALL
    )
    accepted = model_status(trained.card_path, max_ece=0.05)
    refused = model_status(trained.model_path, max_ece=1e-6)

    assert accepted["version"] == "direction-v1"
    assert accepted["accepted"] is True
    assert [row["fold"] for row in accepted["folds"]] == [1, 2, 3]
    assert accepted["out_of_sample"] == trained.card["out_of_sample"]
    assert refused["accepted"] is False
    assert refused["gate"].startswith("model direction-v1 refused: ECE")
    assert model_status(tmp_path / "gone.card.json")["found"] is False
