"""Ingest rules: what is dropped (and counted with examples), what is only flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.validation import (
    DropReason,
    QualityReport,
    frame_to_bars,
    validate_bars,
    validate_frame,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def _frame(rows: list[tuple[int, float, float, float, float, float]]) -> pd.DataFrame:
    """Rows of (minutes after T0, open, high, low, close, volume)."""
    return pd.DataFrame(
        {
            "time": [pd.Timestamp(T0 + timedelta(minutes=row[0])) for row in rows],
            "open": [row[1] for row in rows],
            "high": [row[2] for row in rows],
            "low": [row[3] for row in rows],
            "close": [row[4] for row in rows],
            "volume": [row[5] for row in rows],
        }
    )


def _validate(
    frame: pd.DataFrame, now: datetime | None = NOW
) -> tuple[pd.DataFrame, QualityReport]:
    result = validate_frame(frame, symbol="ABC", timeframe=Timeframe.M1, now=now)
    return result.frame, result.report


def test_clean_rows_are_all_accepted_unchanged() -> None:
    frame = _frame([(0, 10, 11, 9, 10.5, 1), (1, 10.5, 11, 10, 10.8, 2)])

    clean, report = _validate(frame)

    assert report.accepted == report.total_rows == 2
    assert report.dropped == ()
    assert report.gaps == ()
    pd.testing.assert_frame_equal(clean, frame)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ((1, 0.0, 11, 0.0, 10, 1), DropReason.NON_POSITIVE_PRICE),
        ((1, -1.0, 11, -2, 10, 1), DropReason.NON_POSITIVE_PRICE),
        ((1, 10, 11, 9, 10, -0.5), DropReason.NEGATIVE_VOLUME),
        ((1, 10, 11, 10.5, 10.2, 1), DropReason.HIGH_LOW_INCONSISTENT),
        ((1, 10, 10.1, 9, 10.4, 1), DropReason.HIGH_LOW_INCONSISTENT),
        ((1, 10, float("nan"), 9, 10, 1), DropReason.MISSING_VALUE),
        ((1, 10, float("inf"), 9, 10, 1), DropReason.MISSING_VALUE),
        ((61, 10, 11, 9, 10, 1), DropReason.FUTURE_TIMESTAMP),
    ],
)
def test_bad_row_is_dropped_and_counted_under_its_reason(
    row: tuple[int, float, float, float, float, float], reason: DropReason
) -> None:
    frame = _frame([(0, 10, 11, 9, 10, 1), row, (2, 10, 11, 9, 10, 1)])

    clean, report = _validate(frame)

    assert report.accepted == len(clean) == 2
    assert report.dropped_count(reason) == 1
    assert report.total_dropped == 1
    (entry,) = report.dropped
    assert entry.examples[0].startswith("row 2 ")


def test_zero_volume_and_a_bar_exactly_at_now_are_kept() -> None:
    frame = _frame([(0, 10, 11, 9, 10, 0.0), (60, 10, 11, 9, 10, 1)])

    clean, report = _validate(frame)

    assert len(clean) == 2
    assert report.total_dropped == 0


def test_future_rule_is_skipped_without_now() -> None:
    frame = _frame([(0, 10, 11, 9, 10, 1), (600, 10, 11, 9, 10, 1)])

    clean, _ = _validate(frame, now=None)

    assert len(clean) == 2


def test_duplicate_timestamps_keep_the_last_row_in_file_order() -> None:
    frame = _frame([(0, 10, 11, 9, 10.1, 1), (0, 10, 11, 9, 10.2, 1), (1, 10, 11, 9, 10, 1)])

    clean, report = _validate(frame)

    assert clean["close"].tolist() == [10.2, 10]
    assert report.dropped_count(DropReason.DUPLICATE_TIMESTAMP) == 1
    assert "c=10.1" in report.dropped[0].examples[0]


def test_a_broken_late_duplicate_does_not_evict_the_good_row() -> None:
    frame = _frame([(0, 10, 11, 9, 10.1, 1), (0, 10, 11, 9, 10.2, -1)])

    clean, report = _validate(frame)

    assert clean["close"].tolist() == [10.1]
    assert report.dropped_count(DropReason.NEGATIVE_VOLUME) == 1
    assert report.dropped_count(DropReason.DUPLICATE_TIMESTAMP) == 0


def test_rows_are_sorted_by_time() -> None:
    frame = _frame([(2, 10, 11, 9, 10.2, 1), (0, 10, 11, 9, 10.0, 1), (1, 10, 11, 9, 10.1, 1)])

    clean, _ = _validate(frame)

    assert clean["close"].tolist() == [10.0, 10.1, 10.2]


def test_examples_are_capped_but_the_count_is_complete() -> None:
    frame = _frame([(minute, 10, 11, 9, 10, -1) for minute in range(7)])

    _, report = _validate(frame)

    (entry,) = report.dropped
    assert entry.count == 7
    assert len(entry.examples) == 3


def test_jump_over_ten_percent_is_flagged_not_dropped() -> None:
    frame = _frame(
        [
            (0, 100, 101, 99, 100, 1),
            (1, 111, 112, 110, 111, 1),  # open and close 11 % above the previous close
            (2, 111, 111, 99.8, 99.9, 1),  # close 10.0 % below 111: not more than 10 %
            (3, 99.9, 100, 70, 80, 1),  # close-to-close -19.9 %, open unchanged
        ]
    )

    clean, report = _validate(frame)

    assert len(clean) == 4
    assert [gap.timestamp for gap in report.gaps] == [
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=3),
    ]
    first, second = report.gaps
    assert first.previous_close == Decimal("100")
    assert first.open_jump == pytest.approx(0.11)
    assert second.open_jump == pytest.approx(0.0)
    assert second.close_jump == pytest.approx(80 / 99.9 - 1)


def test_a_move_of_exactly_ten_percent_is_not_a_gap_despite_float_rounding() -> None:
    # 1.1 / 1.0 - 1 is 0.10000000000000009 in floats.
    frame = _frame([(0, 1.0, 1.0, 1.0, 1.0, 1), (1, 1.1, 1.1, 1.1, 1.1, 1)])

    _, report = _validate(frame)

    assert report.gaps == ()


def test_validation_does_not_modify_its_input() -> None:
    frame = _frame([(1, 10, 11, 9, 10, 1), (0, 10, 11, 9, 10, -1)])
    before = frame.copy()

    _validate(frame)

    pd.testing.assert_frame_equal(frame, before)


def test_rows_become_bars_with_decimals_from_the_float_repr() -> None:
    frame = _frame([(0, 0.1, 0.30000000000000004, 0.1, 0.2, 1e-05)])

    (bar,) = frame_to_bars(frame, "ABC", Timeframe.M1)

    assert bar.open == Decimal("0.1")
    assert bar.high == Decimal("0.30000000000000004")
    assert bar.volume == Decimal("0.00001")
    assert bar.timestamp == T0
    assert bar.timestamp.tzinfo is UTC


def test_real_stress_period_data_is_clean_and_google_2008_gaps_are_flagged(
    market_data_dir: Path,
) -> None:
    goog = load_bars_frame(market_data_dir / "GOOG.csv")

    result = validate_frame(goog.frame, symbol="GOOG", timeframe=goog.timeframe, now=NOW)

    assert result.report.total_dropped == 0
    assert result.report.accepted == 2148
    gap_days = {gap.timestamp.date().isoformat() for gap in result.report.gaps}
    assert "2008-10-13" in gap_days  # the rebound after the October 2008 crash week
    assert len(result.bars()) == 2148


def test_bars_rules_drop_future_and_duplicates_and_flag_gaps() -> None:
    def bar(minute: int, close: str) -> Bar:
        price = Decimal(close)
        return Bar(
            symbol="ABC",
            timeframe=Timeframe.M1,
            timestamp=T0 + timedelta(minutes=minute),
            open=price,
            high=price,
            low=price,
            close=price,
            volume=Decimal(1),
        )

    bars = [bar(1, "100"), bar(0, "99"), bar(1, "101"), bar(2, "120"), bar(90, "100")]

    clean, report = validate_bars(bars, now=NOW)

    assert [(b.timestamp.minute, b.close) for b in clean] == [
        (0, Decimal(99)),
        (1, Decimal(101)),
        (2, Decimal(120)),
    ]
    assert report.dropped_count(DropReason.FUTURE_TIMESTAMP) == 1
    assert report.dropped_count(DropReason.DUPLICATE_TIMESTAMP) == 1
    assert [gap.timestamp.minute for gap in report.gaps] == [2]
    assert report.accepted == 3
    assert report.total_rows == 5
