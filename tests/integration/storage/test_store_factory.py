"""Opening stores from URLs: failures are fast, clear and never show a password."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trading_core.domain.errors import ConfigurationError, StorageUnavailableError
from trading_core.storage.factory import mask_url, open_store, sqlite_path

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_unreachable_postgres_fails_fast_naming_host_and_port_without_password(
    scheme: str,
) -> None:
    started = time.monotonic()

    with pytest.raises(StorageUnavailableError) as raised:
        await open_store(f"{scheme}://trader:hunter2@127.0.0.1:1/trading")

    assert time.monotonic() - started < 6
    assert "127.0.0.1:1" in raised.value.message
    assert "hunter2" not in str(raised.value)
    assert "trader:***@" in raised.value.message
    assert raised.value.code == "STORAGE_UNAVAILABLE"


async def test_missing_postgres_database_is_reported_as_unavailable() -> None:
    with pytest.raises(StorageUnavailableError, match=r"127\.0\.0\.1:5432.*does not exist"):
        await open_store("postgresql://postgres@127.0.0.1:5432/no_such_db_for_trading_tests")


@pytest.mark.parametrize("url", ["mysql://u:pw@host/db", "trading.db", "redis://127.0.0.1"])
async def test_unknown_url_scheme_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown database URL scheme"):
        await open_store(url)


async def test_sqlite_url_without_a_path_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="names no file"):
        await open_store("sqlite:///")


async def test_sqlite_file_that_cannot_be_created_is_reported_as_unavailable(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")

    with pytest.raises(StorageUnavailableError, match="cannot open SQLite database"):
        await open_store(f"sqlite:///{blocker}/trading.db")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:s3cret@db:5432/t", "postgresql://u:***@db:5432/t"),
        ("postgres://u@db/t", "postgres://u@db/t"),
        ("postgresql://db/t?user=u&password=s3cret", "postgresql://db/t?user=u&password=***"),
        ("sqlite:////var/lib/trading.db", "sqlite:////var/lib/trading.db"),
    ],
)
def test_mask_url_hides_passwords_only(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/trading.db", "data/trading.db"),
        ("sqlite:////var/lib/trading.db", "/var/lib/trading.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_url_names_a_relative_or_absolute_file(url: str, path: str) -> None:
    assert sqlite_path(url) == path
