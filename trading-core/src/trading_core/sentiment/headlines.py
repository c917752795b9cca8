"""Headlines from a file: CSV, JSON Lines, or an RSS 2.0 feed saved to disk.

Every headline has a timestamp (timezone-aware UTC), a source, the symbols it is about and its
text. The text and the source are third-party data: nothing here or downstream ever treats
them as instructions.

Column names follow the files people have (case-insensitive): ``timestamp`` (or ``date``,
``published``, ``publisheddate``), ``source`` (or ``publisher``, ``site``), ``symbols``
(``;``-separated, or a JSON list in JSONL; or ``symbol``, ``stock``, ``stock_symbol``,
``ticker``) and ``text`` (or ``headline``, ``title``, ``article_title``). The aliases are those
of public headline sets: ``headline, url, publisher, date, stock`` (Hugging Face
ashraq/financial-news) and ``Date, Article_title, Stock_symbol, Url, Publisher`` (FNSPID).
An RSS item gives ``title``, ``pubDate`` (RFC 822), ``source`` (else the channel's title) and
one ``category`` per symbol.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from trading_core.domain.errors import DataError

MAX_TEXT_CHARS = 1000
"""A headline longer than this is cut: a headline is a line, not an article."""

_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "date", "published", "publisheddate", "published_at", "time"),
    "source": ("source", "publisher", "site"),
    "symbols": ("symbols", "symbol", "stock", "stock_symbol", "ticker", "tickers"),
    "text": ("text", "headline", "title", "article_title"),
}


@dataclass(frozen=True, slots=True)
class Headline:
    """One headline: when it was published, by whom, about which symbols, and what it says."""

    timestamp: datetime
    source: str
    symbols: tuple[str, ...]
    text: str


def load_headlines(path: Path) -> list[Headline]:
    """Every headline in ``path`` (by suffix: .csv, .jsonl/.ndjson, .xml/.rss), oldest first.

    A missing file, an unknown suffix or a row without a timestamp, symbol or text raises
    DataError naming the file and the row.
    """
    if not path.is_file():
        raise DataError(f"headline file {path} does not exist", code="HEADLINES_NOT_FOUND")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows: Iterable[tuple[int, Mapping[str, Any]]] = list(
                enumerate(csv.DictReader(handle), start=2)
            )
    elif suffix in (".jsonl", ".ndjson"):
        rows = list(_json_lines(path))
    elif suffix in (".xml", ".rss"):
        rows = list(_rss_items(path))
    else:
        raise DataError(
            f"headline file {path}: unknown format {suffix or '(no suffix)'}; "
            "use .csv, .jsonl or .xml (RSS 2.0)",
            code="HEADLINES_FORMAT",
        )
    headlines = [_headline(path, line, row) for line, row in rows]
    # Stable: headlines of one instant keep the file's order.
    return sorted(headlines, key=lambda h: h.timestamp)


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 (UTC if no zone; a trailing `` UTC`` allowed) or RFC 822, as aware UTC."""
    text = value.strip()
    if text.upper().endswith(" UTC"):
        text = text[:-4]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise ValueError(f"not a timestamp: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _headline(path: Path, line: int, row: Mapping[str, Any]) -> Headline:
    fields = {str(key).strip().lower(): value for key, value in row.items() if key is not None}

    def pick(name: str) -> Any:
        for alias in _ALIASES[name]:
            if fields.get(alias) not in (None, ""):
                return fields[alias]
        return None

    where = f"headline file {path}, line {line}"
    stamp, symbols, text = pick("timestamp"), pick("symbols"), pick("text")
    if stamp is None or symbols is None or text is None:
        missing = [
            n for n, v in (("timestamp", stamp), ("symbols", symbols), ("text", text)) if v is None
        ]
        raise DataError(f"{where}: no {', '.join(missing)}", code="HEADLINES_FORMAT")
    try:
        moment = parse_timestamp(str(stamp))
    except ValueError as exc:
        raise DataError(f"{where}: {exc}", code="HEADLINES_FORMAT") from None
    names = symbols if isinstance(symbols, list) else str(symbols).split(";")
    cleaned = tuple(dict.fromkeys(str(s).strip() for s in names if str(s).strip()))
    if not cleaned:
        raise DataError(f"{where}: no symbols", code="HEADLINES_FORMAT")
    source = str(pick("source") or "unknown").strip()[:200]
    return Headline(moment, source, cleaned, " ".join(str(text).split())[:MAX_TEXT_CHARS])


def _json_lines(path: Path) -> Iterable[tuple[int, Mapping[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"headline file {path}, line {line}: not JSON ({exc.msg})",
                    code="HEADLINES_FORMAT",
                ) from None
            if not isinstance(row, dict):
                raise DataError(
                    f"headline file {path}, line {line}: not a JSON object",
                    code="HEADLINES_FORMAT",
                )
            yield line, row


def _rss_items(path: Path) -> Iterable[tuple[int, Mapping[str, Any]]]:
    # Python's expat (2.4.1 and later) refuses entity expansion bombs; an RSS file has no DTD.
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise DataError(f"headline file {path}: not XML ({exc})", code="HEADLINES_FORMAT") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise DataError(f"headline file {path}: not an RSS 2.0 feed", code="HEADLINES_FORMAT")
    channel_title = (channel.findtext("title") or "").strip()
    for number, item in enumerate(channel.iterfind("item"), start=1):
        categories = [(c.text or "").strip() for c in item.iterfind("category")]
        yield (
            number,
            {
                "timestamp": item.findtext("pubDate"),
                "source": (item.findtext("source") or channel_title or "").strip(),
                "symbols": [c for c in categories if c],
                "text": item.findtext("title"),
            },
        )
