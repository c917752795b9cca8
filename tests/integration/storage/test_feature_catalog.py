"""The feature catalog on both backends: registered once, listed by name and version."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.features import FeatureSet
from trading_core.ml.feature_store import FeatureStore
from trading_core.ml.features import FEATURE_NAMES, SOURCE_COLUMNS
from trading_core.ports.store import Store

pytestmark = pytest.mark.integration


async def test_a_feature_set_is_registered_once_with_its_columns(
    store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    features = FeatureStore(tmp_path)
    first = await features.register(store, clock)
    clock.advance(timedelta(hours=1))
    again = await features.register(store, clock)

    assert again == first
    assert await store.list_feature_sets() == [first]
    assert first.source_columns == list(SOURCE_COLUMNS)
    assert first.features == list(FEATURE_NAMES)
    assert first.created_at == clock.now() - timedelta(hours=1)


async def test_catalog_rows_are_ordered_and_replaced_by_key(
    store: Store, clock: SimulatedClock
) -> None:
    row = FeatureSet(
        name="bars", version=2, source_columns=["close"], features=["a"], created_at=clock.now()
    )
    await store.save_feature_set(row)
    await store.save_feature_set(row.model_copy(update={"version": 1}))
    await store.save_feature_set(row.model_copy(update={"features": ["a", "b"]}))

    listed = await store.list_feature_sets()
    assert [(r.name, r.version, r.features) for r in listed] == [
        ("bars", 1, ["a"]),
        ("bars", 2, ["a", "b"]),
    ]
