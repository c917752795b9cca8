"""The signal model in the live loop: per-symbol features at each close, one calibrated
probability, and what the decision row says about it.

The probability goes to the agents as the indicator ``ml_probability`` (the ``ml_confidence``
alpha's slot) and onto the signal as ``win_probability`` / ``win_loss_ratio``, which is what
makes the orchestrator size an entry by quarter Kelly. Only a model the gate accepted does
either; a refused or missing model leaves every agent on its rules, and each decision's
reasoning says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trading_core.domain.errors import ConfigurationError
from trading_core.domain.signal import Signal
from trading_core.ml.features import FeatureBuilder
from trading_core.ml.model import GateVerdict, SignalModel, gate
from trading_core.orchestrator.sizing import WIN_LOSS_RATIO, WIN_PROBABILITY

ML_PROBABILITY = "ml_probability"
"""The indicator the agents' ``ml_confidence`` alpha reads (trading_agents ML_PROBABILITY_KEY)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reading:
    """The model at one bar: the indicators the agent sees, the probability, the note."""

    indicators: Mapping[str, float | None]
    probability: float | None
    note: str


@dataclass(slots=True)
class LiveModel:
    """A configured model (possibly refused or missing) and its per-symbol feature state."""

    model: SignalModel | None
    verdict: GateVerdict
    _builders: dict[str, FeatureBuilder] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, *, max_ece: float) -> LiveModel:
        """Load ``path`` and gate it; a model that cannot be loaded is logged as missing."""
        try:
            model = SignalModel.load(path)
        except (ConfigurationError, OSError, KeyError, ValueError) as exc:
            log.warning("signal model not used: %s", exc)
            return cls(None, GateVerdict(False, f"model missing ({exc})"))
        verdict = gate(model.card, max_ece=max_ece)
        if not verdict.accepted:
            log.warning("signal model not used for sizing: %s", verdict.reason)
        return cls(model, verdict)

    def read(
        self, symbol: str, close: float, volume: float, indicators: Mapping[str, float | None]
    ) -> Reading:
        """Update ``symbol``'s features with its closed bar; the model's reading of it."""
        if self.model is None:
            return Reading(indicators, None, f"{self.verdict.reason}; rules only")
        builder = self._builders.get(symbol)
        if builder is None:
            builder = self._builders[symbol] = FeatureBuilder()
        features = builder.update(close, volume, indicators)
        version = self.model.version
        if not self.verdict.accepted:
            return Reading(indicators, None, f"{self.verdict.reason}; rules only")
        probability = self.model.probability(features)
        if probability is None:
            return Reading(indicators, None, f"model {version} warming up; rules only")
        informed = {**indicators, ML_PROBABILITY: probability}
        return Reading(informed, probability, f"model {version} p(up) {probability:.3f}")

    def calibrated(self, signal: Signal | None, reading: Reading) -> Signal | None:
        """``signal`` carrying the model's win probability, so that sizing is quarter Kelly."""
        if signal is None or reading.probability is None or self.model is None:
            return signal
        features = {
            **signal.features,
            WIN_PROBABILITY: reading.probability,
            WIN_LOSS_RATIO: self.model.win_loss_ratio,
        }
        return signal.model_copy(update={"features": features})
