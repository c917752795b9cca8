"""Purged, embargoed walk-forward splits of a time-ordered data set.

The rows after the warm-up are cut into ``folds + 1`` equal blocks; fold i trains on everything
before block i + 1 and is tested on block i + 1. Inside each fold's past, the last
``calibration_share`` is held out for early stopping and calibration. Between consecutive
segments (fit | calibration | test) a gap of ``horizon + embargo`` rows is dropped:

- purge (``horizon``): a row's label looks ``horizon`` bars ahead, so the last ``horizon`` rows
  before a segment have labels made of that segment's prices;
- embargo: the features look back (a 50-bar average), so the first rows of a segment share
  their inputs with the end of the one before; ``embargo`` more rows keep the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fold:
    """Row ranges [start, stop) of one walk-forward fold."""

    number: int
    fit: range
    calibration: range
    test: range


def walk_forward(
    rows: int,
    *,
    folds: int,
    horizon: int,
    embargo: int,
    calibration_share: float = 0.2,
    start: int = 0,
) -> list[Fold]:
    """The folds over rows ``start .. rows - 1`` (see the module docstring)."""
    if folds < 1 or horizon < 1 or embargo < 0 or not 0 < calibration_share < 1:
        raise ValueError("need folds >= 1, horizon >= 1, embargo >= 0, 0 < calibration_share < 1")
    gap = horizon + embargo
    block = (rows - start) // (folds + 1)
    out: list[Fold] = []
    for i in range(folds):
        test_start = start + block * (i + 1)
        test_stop = rows if i == folds - 1 else test_start + block
        past_stop = test_start - gap
        calibration_rows = int((past_stop - start) * calibration_share)
        calibration_start = past_stop - calibration_rows
        fit_stop = calibration_start - gap
        if fit_stop - start < 50 or calibration_rows < 20 or test_stop - test_start < 20:
            raise ValueError(
                f"{rows - start} rows are too few for {folds} folds with a gap of {gap}"
            )
        out.append(
            Fold(
                number=i + 1,
                fit=range(start, fit_stop),
                calibration=range(calibration_start, past_stop),
                test=range(test_start, test_stop),
            )
        )
    return out
