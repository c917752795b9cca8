"""The feature catalog's rows: which features exist, from which bar columns, since when."""

from __future__ import annotations

from pydantic import Field

from trading_core.domain.base import Frozen, UtcDatetime


class FeatureSet(Frozen):
    """One row of ``market_data.feature_catalog``."""

    name: str
    version: int = Field(ge=1)
    source_columns: list[str]
    """The bar columns the features are computed from."""
    features: list[str]
    created_at: UtcDatetime
