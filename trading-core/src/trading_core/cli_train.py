"""`trading-core train`: fit the LightGBM direction model on a bar file, write model and card."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from trading_core.domain.errors import TradingError
from trading_core.settings import load_settings

BAR_WIDTH = 30


def train(
    data: Annotated[
        Path, typer.Option(metavar="FILE", help="Bars to train on (CSV, feather, Parquet).")
    ],
    models_dir: Annotated[
        Path | None,
        typer.Option(
            "--models",
            metavar="DIR",
            help="Where the model and its card go (default: DATA_DIR/models).",
        ),
    ] = None,
    horizon: Annotated[
        int, typer.Option(metavar="BARS", min=1, help="Predict the direction over this many bars.")
    ] = 6,
    folds: Annotated[int, typer.Option(metavar="N", min=1, help="Walk-forward folds.")] = 4,
    embargo: Annotated[
        int, typer.Option(metavar="BARS", min=0, help="Bars dropped past each purge gap.")
    ] = 50,
    calibration: Annotated[
        str, typer.Option(metavar="METHOD", help="Probability calibration: platt or isotonic.")
    ] = "platt",
    threads: Annotated[int, typer.Option(metavar="N", min=1, help="LightGBM threads.")] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the direction classifier on a bar file and write a versioned model with its card.

    Purged, embargoed walk-forward folds with early stopping; the card holds the data range,
    the splits, AUC, log loss, Brier score and calibration error per fold, feature importance
    and the gate's verdict (model.max_ece in settings).
    """
    from trading_core.adapters.clock import SystemClock
    from trading_core.marketdata.loaders import load_bars_frame
    from trading_core.ml.model import gate
    from trading_core.ml.train import TrainConfig
    from trading_core.ml.train import train as fit

    if calibration not in ("platt", "isotonic"):
        typer.echo(f"error: --calibration is platt or isotonic, not {calibration!r}", err=True)
        raise typer.Exit(2)
    started = time.monotonic()
    overwrite = sys.stderr.isatty()

    def progress(done: int, steps: int, what: str) -> None:
        if quiet:
            return
        filled = BAR_WIDTH * done // steps
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{steps} {what}"
        line += f" | {time.monotonic() - started:.1f} s"
        typer.echo(f"\r{line}\x1b[K" if overwrite else line, err=True, nl=not overwrite)

    try:
        settings = load_settings()
        loaded = load_bars_frame(data)
        frame = loaded.frame.set_index("time")
        # A bar's features are known at its close: index rows by their close time.
        frame.index = frame.index + loaded.timeframe.duration
        config = TrainConfig(
            horizon=horizon,
            folds=folds,
            embargo=embargo,
            calibration="platt" if calibration == "platt" else "isotonic",
            num_threads=threads,
            seed=settings.seed,
        )
        trained = fit(
            frame.astype(float),
            symbol=loaded.symbol,
            source=data.name,
            models_dir=models_dir or settings.data_dir / "models",
            now=SystemClock().now(),
            config=config,
            progress=progress,
        )
    except (TradingError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if overwrite and not quiet:
        typer.echo("", err=True)
    card = trained.card
    typer.echo(f"model {card['version']}: {trained.model_path}")
    typer.echo(f"card: {trained.card_path}")
    for row in card["folds"]:
        m = row["calibrated"]
        typer.echo(
            f"fold {row['fold']}: AUC {m['auc']:.4f} log loss {m['log_loss']:.4f} "
            f"Brier {m['brier']:.4f} ECE {m['ece']:.4f} ({row['best_iteration']} trees)"
        )
    oos = card["out_of_sample"]
    typer.echo(f"out of sample: AUC {oos['auc']:.4f} ECE {oos['ece']:.4f}")
    typer.echo(gate(card, max_ece=settings.model.max_ece).reason)
