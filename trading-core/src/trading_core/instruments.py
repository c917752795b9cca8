"""The instrument allow-list, read from the packaged symbols.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trading_core.domain.errors import ConfigurationError, InstrumentNotFoundError
from trading_core.domain.instrument import Instrument


class InstrumentRegistry:
    """Known instruments by exact symbol. Anything not listed is not tradable."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol = {i.symbol: i for i in instruments}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __len__(self) -> int:
        return len(self._by_symbol)

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    def get(self, symbol: str) -> Instrument:
        """The instrument for ``symbol`` (exact match, no normalisation: homoglyphs fail)."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise InstrumentNotFoundError(
                f"unknown symbol {symbol!r}: not in the instrument list"
            ) from None

    def require(self, symbols: Iterable[str]) -> None:
        """Raise InstrumentNotFoundError naming every unknown symbol at once."""
        unknown = [s for s in symbols if s not in self._by_symbol]
        if unknown:
            raise InstrumentNotFoundError(
                f"unknown symbol(s) {', '.join(map(repr, unknown))}; known: "
                f"{', '.join(self.symbols())}"
            )

    @classmethod
    def from_file(cls, path: Path) -> InstrumentRegistry:
        if not path.is_file():
            raise ConfigurationError(f"instrument list not found: {path}")
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_mapping(document, origin=str(path))

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any], *, origin: str) -> InstrumentRegistry:
        defaults: Mapping[str, Mapping[str, Any]] = document.get("defaults", {})
        instruments = []
        for index, entry in enumerate(document.get("instrument", [])):
            asset_class = entry.get("asset_class", "crypto")
            merged = {**defaults.get(asset_class, {}), **entry}
            try:
                instruments.append(Instrument.model_validate(merged))
            except ValidationError as exc:
                raise ConfigurationError(f"{origin}: instrument #{index + 1}: {exc}") from exc
        return cls(instruments)
