"""Training the direction classifier: features -> labels -> walk-forward folds -> LightGBM with
early stopping -> calibration -> per-fold scores -> model file and card.

Label at bar t: 1 when close[t + horizon] > close[t], else 0 (rows without a future close are
dropped). Each fold fits on its past, stops early and calibrates on the held-out end of that past
(see :mod:`trading_core.ml.splits`), and is scored on its test block, raw and calibrated. The
out-of-sample scores pool every fold's calibrated test predictions; the gate reads their ECE.
The model written is the last fold's (trained on the most data), with its calibration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from trading_core.ml import calibration
from trading_core.ml.evaluation import scores
from trading_core.ml.features import FEATURE_NAMES, FEATURE_SET, FEATURE_VERSION, compute_features
from trading_core.ml.model import CARD_SUFFIX, MODEL_SUFFIX, next_version, sha256_of
from trading_core.ml.splits import Fold, walk_forward

WARMUP_ROWS = 60
"""Rows dropped at the start: every feature is warm after them (the 50-bar average)."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What ``trading-core train`` fits; the defaults keep a 5,760-bar file within seconds."""

    name: str = "direction"
    horizon: int = 6
    folds: int = 4
    embargo: int = 50
    calibration: calibration.Method = "platt"
    calibration_share: float = 0.25
    num_threads: int = 2
    seed: int = 42
    rounds: int = 400
    early_stopping: int = 30
    params: dict[str, Any] = field(
        default_factory=lambda: {
            "learning_rate": 0.03,
            "num_leaves": 15,
            "min_data_in_leaf": 40,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
        }
    )


@dataclass(frozen=True, slots=True)
class Trained:
    model_path: Path
    card_path: Path
    card: dict[str, Any]


Progress = Callable[[int, int, str], None]
"""(step done, steps, what) after each fold and the final write."""


def labelled(bars: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, 0/1 labels and horizon log returns of the rows that have a future close."""
    features = compute_features(bars)
    close = bars["close"].to_numpy(dtype=np.float64)
    future = np.log(close[horizon:] / close[:-horizon])
    rows = len(bars) - horizon
    return features.iloc[:rows], (future > 0).astype(np.float64), future


def train(
    bars: pd.DataFrame,
    *,
    symbol: str,
    source: str,
    models_dir: Path,
    now: datetime,
    config: TrainConfig | None = None,
    progress: Progress | None = None,
) -> Trained:
    """Fit, score and write a model of ``bars`` (OHLCV indexed by bar close time, UTC)."""
    config = config or TrainConfig()
    features, label, future = labelled(bars, config.horizon)
    x = features.to_numpy(dtype=np.float64)
    folds = walk_forward(
        len(x),
        folds=config.folds,
        horizon=config.horizon,
        embargo=config.embargo,
        calibration_share=config.calibration_share,
        start=WARMUP_ROWS,
    )
    params = {
        **config.params,
        "objective": "binary",
        "verbosity": -1,
        "num_threads": config.num_threads,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
    }
    steps = len(folds) + 1
    fold_rows: list[dict[str, Any]] = []
    pooled_y: list[np.ndarray] = []
    pooled_p: list[np.ndarray] = []
    booster: lgb.Booster | None = None
    calibrator: calibration.Calibrator | None = None
    for fold in folds:
        booster, calibrator, row, test_p = _fit_fold(fold, x, label, params, config)
        fold_rows.append(row | {"ranges": _ranges(fold, features.index)})
        pooled_y.append(label[fold.test.start : fold.test.stop])
        pooled_p.append(test_p)
        if progress is not None:
            progress(fold.number, steps, f"fold {fold.number}: ECE {row['calibrated']['ece']:.4f}")
    if booster is None or calibrator is None:  # walk_forward never returns no fold
        raise ValueError("no fold to train")
    last = folds[-1]
    known = future[last.fit.start : last.calibration.stop]
    gains, losses = known[known > 0], -known[known < 0]
    win_loss = float(gains.mean() / losses.mean()) if len(gains) and len(losses) else 1.0
    importance = booster.feature_importance(importance_type="gain")
    models_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(models_dir, config.name)
    model_path = models_dir / f"{version}{MODEL_SUFFIX}"
    booster.save_model(str(model_path))
    card: dict[str, Any] = {
        "version": version,
        "name": config.name,
        "created_at": now.isoformat(),
        "model_file": model_path.name,
        "sha256": sha256_of(model_path),
        "lightgbm": lgb.__version__,
        "feature_set": {
            "name": FEATURE_SET,
            "version": FEATURE_VERSION,
            "features": list(FEATURE_NAMES),
        },
        "label": {
            "horizon_bars": config.horizon,
            "definition": f"close[t+{config.horizon}] > close[t]",
        },
        "data": {
            "source": source,
            "symbol": symbol,
            "rows": len(bars),
            "first": bars.index[0].isoformat(),
            "last": bars.index[-1].isoformat(),
            "rising_share": float(label.mean()),
        },
        "splits": {
            "kind": "walk-forward, purged and embargoed",
            "folds": config.folds,
            "purge_bars": config.horizon,
            "embargo_bars": config.embargo,
            "calibration_share": config.calibration_share,
            "warmup_rows": WARMUP_ROWS,
        },
        "params": params | {"rounds": config.rounds, "early_stopping": config.early_stopping},
        "folds": fold_rows,
        "out_of_sample": scores(np.concatenate(pooled_y), np.concatenate(pooled_p)),
        "calibration": {"method": calibrator.method, "params": calibrator.params},
        "feature_importance": {
            name: float(gain)
            for name, gain in sorted(
                zip(FEATURE_NAMES, importance, strict=True), key=lambda kv: -kv[1]
            )
        },
        "win_loss_ratio": win_loss,
    }
    card_path = models_dir / f"{version}{CARD_SUFFIX}"
    card_path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    if progress is not None:
        progress(steps, steps, f"wrote {model_path.name}")
    return Trained(model_path, card_path, card)


def _fit_fold(
    fold: Fold,
    x: np.ndarray,
    label: np.ndarray,
    params: dict[str, Any],
    config: TrainConfig,
) -> tuple[lgb.Booster, calibration.Calibrator, dict[str, Any], np.ndarray]:
    def part(rows: range) -> tuple[np.ndarray, np.ndarray]:
        return x[rows.start : rows.stop], label[rows.start : rows.stop]

    (fit_x, fit_y), (cal_x, cal_y), (test_x, test_y) = (
        part(fold.fit),
        part(fold.calibration),
        part(fold.test),
    )
    fit_set = lgb.Dataset(fit_x, fit_y, feature_name=list(FEATURE_NAMES), free_raw_data=False)
    valid_set = lgb.Dataset(cal_x, cal_y, reference=fit_set)
    booster = lgb.train(
        params,
        fit_set,
        num_boost_round=config.rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping, verbose=False)],
    )
    # Early stopping keeps the best iteration: save and predict with it alone.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    calibrator = calibration.fit(config.calibration, booster.predict(cal_x), cal_y)
    raw = np.asarray(booster.predict(test_x), dtype=np.float64)
    calibrated = calibrator.apply(raw)
    row = {
        "fold": fold.number,
        "best_iteration": booster.num_trees(),
        "rows": {"fit": len(fit_y), "calibration": len(cal_y), "test": len(test_y)},
        "raw": scores(test_y, raw),
        "calibrated": scores(test_y, calibrated),
    }
    return booster, calibrator, row, calibrated


def _ranges(fold: Fold, index: pd.Index) -> dict[str, list[str]]:
    def span(rows: range) -> list[str]:
        return [index[rows.start].isoformat(), index[rows.stop - 1].isoformat()]

    return {"fit": span(fold.fit), "calibration": span(fold.calibration), "test": span(fold.test)}
