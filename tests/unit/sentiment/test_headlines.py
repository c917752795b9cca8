"""Headlines read from CSV, JSON Lines and RSS files: timestamps in UTC, symbols, source, text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading_core.domain.errors import DataError
from trading_core.sentiment.headlines import Headline, load_headlines, parse_timestamp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "headlines"


def test_json_lines_give_every_field_oldest_first() -> None:
    headlines = load_headlines(FIXTURES / "eth_ltc_2018-01.jsonl")
    assert len(headlines) == 4
    assert headlines[0] == Headline(
        timestamp=datetime(2018, 1, 12, 10, tzinfo=UTC),
        source="Example Wire",
        symbols=("ETH/BTC",),
        text="Ethereum surges to record as exchange adoption grows",
    )
    assert [h.timestamp for h in headlines] == sorted(h.timestamp for h in headlines)


def test_a_csv_in_the_financial_news_shape_maps_its_columns() -> None:
    headlines = load_headlines(FIXTURES / "financial_news.csv")
    assert [(h.symbols, h.source) for h in headlines] == [
        (("A",), "Example Wire"),
        (("A",), "Example Daily"),
        (("AAPL",), "Example Daily"),
    ]
    # 16:05 at UTC-4 is 20:05 UTC; "... UTC" is read as UTC.
    assert headlines[0].timestamp == datetime(2020, 5, 26, 20, 5, tzinfo=UTC)
    assert headlines[2].timestamp == datetime(2020, 5, 28, 12, tzinfo=UTC)
    assert headlines[0].text == "Agilent beats estimates, raises outlook"


def test_an_rss_feed_gives_titles_dates_sources_and_categories() -> None:
    first, second = load_headlines(FIXTURES / "feed.xml")
    assert first.text == "Bitcoin rallies as inflows surge"
    assert first.source == "Example Markets"  # no <source>: the channel's title
    assert first.symbols == ("BTC/USD",)
    assert first.timestamp == datetime(2025, 6, 10, 4, tzinfo=UTC)
    assert second.source == "Example Crypto"
    assert second.symbols == ("BTC/USD", "ETH/USD")
    assert second.timestamp == datetime(2025, 6, 10, 7, 15, tzinfo=UTC)  # +0200


def test_semicolons_separate_symbols_in_a_csv_and_long_text_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "timestamp,source,symbols,text\n"
        f"2024-03-01T09:00:00,wire,BTC/USD; ETH/USD,{'word ' * 400}\n",
        encoding="utf-8",
    )
    (headline,) = load_headlines(path)
    assert headline.symbols == ("BTC/USD", "ETH/USD")
    assert headline.timestamp == datetime(2024, 3, 1, 9, tzinfo=UTC)  # no zone: UTC
    assert len(headline.text) == 1000


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("h.csv", "timestamp,symbol,text\n2024-01-01,BTC/USD,\n", "line 2: no text"),
        ("h.csv", "date,stock,headline\nyesterday,BTC/USD,x\n", "not a timestamp"),
        ("h.jsonl", '{"timestamp": "2024-01-01", "text": "x"}\n', "line 1: no symbols"),
        ("h.jsonl", "[1, 2]\n", "not a JSON object"),
        ("h.xml", "<feed/>", "not an RSS 2.0 feed"),
        ("h.txt", "x", "unknown format .txt"),
    ],
)
def test_bad_files_are_refused_naming_the_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_headlines(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as refused:
        load_headlines(tmp_path / "none.csv")
    assert refused.value.code == "HEADLINES_NOT_FOUND"


def test_timestamps_in_rfc_822_and_iso_8601_are_utc() -> None:
    assert parse_timestamp("Mon, 01 Jan 2024 12:00:00 -0500") == datetime(
        2024, 1, 1, 17, tzinfo=UTC
    )
    assert parse_timestamp("2024-01-01T12:00:00+01:00") == datetime(2024, 1, 1, 11, tzinfo=UTC)
