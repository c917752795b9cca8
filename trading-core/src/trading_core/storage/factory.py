"""Open a ``Store`` from a URL: ``sqlite:///relative.db``, ``sqlite:////abs.db``, ``postgresql://``."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from trading_core.domain.errors import ConfigurationError
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.storage.postgres import CONNECT_TIMEOUT_S, PostgresStore
from trading_core.storage.sqlite import SqliteStore
from trading_core.storage.urls import mask_url

__all__ = ["mask_url", "open_store", "sqlite_path"]

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:`` URL names: three slashes relative, four absolute."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ConfigurationError(
            f"SQLite URLs look like sqlite:///relative/path.db or sqlite:////absolute/path.db, "
            f"got {mask_url(url)}"
        )
    path = unquote(url[len(prefix) :].split("?", 1)[0])
    if not path:
        raise ConfigurationError(f"SQLite URL {url} names no file")
    return path


async def open_store(
    url: str, *, clock: Clock | None = None, connect_timeout: float = CONNECT_TIMEOUT_S
) -> Store:
    """Connect to the store at ``url`` (no migrations: call ``await store.upgrade()``).

    Raises ``StorageUnavailableError`` naming host:port (password masked) when the database
    cannot be reached within ``connect_timeout`` seconds, and ``ConfigurationError`` for a URL
    this function does not understand.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        path = sqlite_path(url)
        return await SqliteStore.open(path, clock=clock)
    if scheme in POSTGRES_SCHEMES:
        return await PostgresStore.connect(url, clock=clock, connect_timeout=connect_timeout)
    raise ConfigurationError(
        f"unknown database URL scheme {scheme or '(none)'!r} in {mask_url(url)}: "
        "use sqlite:///path.db or postgresql://user:password@host:port/database"
    )
