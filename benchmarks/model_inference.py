"""Row: one-row inference of the signal model, µs per calibrated probability, against
LightGBM's own ``Booster.predict`` of the same numpy row (num_threads=1).

Ours is what the live loop pays at each close once the features are built: the feature dict to a
row, the booster's predict, and the calibration. The model is trained here on the replay file
(the same code as ``trading-core train``) in a scratch directory. Target: <= 60 µs at p50.
"""

from __future__ import annotations

import gc
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb

from benchmarks.environment import versions
from benchmarks.harness import Measurement, Progress, RowResult, time_interleaved
from benchmarks.inputs import loaded_file
from trading_core.ml.features import compute_features, feature_vector
from trading_core.ml.model import SignalModel
from trading_core.ml.train import TrainConfig, train

KEY = "model_inference"
TITLE = "signal model one-row inference"
N = 20_000
WARMUP = 2_000
TARGET_US = 60.0


def run(progress: Progress) -> RowResult:
    row = RowResult(
        key=KEY,
        path=TITLE,
        sample="call",
        kind="latency",
        unit="µs per probability",
        versions=versions("trading-core", "lightgbm", "numpy"),
    )
    loaded = loaded_file()
    frame = loaded.frame.set_index("time").astype(float)
    frame.index = frame.index + loaded.timeframe.duration
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch:
        progress("training the model on the replay file")
        trained = train(
            frame,
            symbol=loaded.symbol,
            source=loaded.name,
            models_dir=Path(scratch),
            now=datetime(2024, 1, 1, tzinfo=UTC),
            config=TrainConfig(num_threads=1),
        )
        model = SignalModel.load(trained.card_path)
        booster = lgb.Booster(model_file=str(trained.model_path))
    features = compute_features(frame).iloc[-1].to_dict()
    numpy_row = feature_vector(features)

    def ours() -> object:
        return model.probability(features)

    def baseline() -> object:
        return booster.predict(numpy_row, num_threads=1)

    progress(f"timing {N} inferences and {N} bare predicts, interleaved ({WARMUP} warm-up)")
    gc.collect()
    ours_ns, baseline_ns = time_interleaved(ours, baseline, n=N, warmup=WARMUP)
    row.ours = Measurement.from_ns("SignalModel.probability(features)", ours_ns, 1, WARMUP)
    row.baseline = Measurement.from_ns(
        "lgb.Booster.predict(row, num_threads=1)", baseline_ns, 1, WARMUP
    )
    trees = trained.card["folds"][-1]["best_iteration"]
    row.notes.append(
        f"Model {trained.card['version']} ({trees} trees), {len(numpy_row[0])} features; "
        f"target <= {TARGET_US:g} µs at p50."
    )
    return row
