"""Backups of the trading database, and their restore.

- PostgreSQL: ``pg_dump --format=custom`` (compressed, restorable table by table with
  ``pg_restore``); restored with ``pg_restore --clean --if-exists --single-transaction``, so a
  restore that fails half-way leaves the database as it was.
- SQLite: the online backup API (``sqlite3.Connection.backup``), a consistent copy even while a
  run writes (WAL); restored through the same API into the database file.

Every backup is written under a temporary name and renamed when complete, with a SHA-256 beside
it (``NAME.sha256``, the format ``sha256sum -c`` reads). A restore verifies the checksum first
and refuses a backup that does not match, or that is of the other kind of database. Retention
keeps the newest ``keep`` backups of the directory and deletes the rest with their checksums.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from trading_core.domain.errors import ConfigurationError, DataError, StorageUnavailableError
from trading_core.storage.factory import sqlite_path
from trading_core.storage.urls import mask_url, redact

PREFIX = "trading-"
POSTGRES_SUFFIX = ".pgdump"
SQLITE_SUFFIX = ".sqlite"
CHECKSUM_SUFFIX = ".sha256"
DEFAULT_KEEP = 7
TOOL_TIMEOUT_S = 3600


@dataclass(frozen=True, slots=True)
class Backup:
    """One written backup: the file, its SHA-256 and its size in bytes."""

    path: Path
    sha256: str
    size: int


def backup_database(
    url: str, directory: Path, *, now: datetime, keep: int = DEFAULT_KEEP
) -> tuple[Backup, list[Path]]:
    """Back ``url`` up into ``directory``; returns the backup and the old ones deleted."""
    if keep < 1:
        raise ConfigurationError(f"--keep must be at least 1 (got {keep})")
    directory.mkdir(parents=True, exist_ok=True)
    suffix = SQLITE_SUFFIX if _is_sqlite(url) else POSTGRES_SUFFIX
    target = directory / f"{PREFIX}{now:%Y%m%dT%H%M%SZ}{suffix}"
    if target.exists():
        raise DataError(f"{target} already exists: one backup per second")
    partial = target.with_name(target.name + ".partial")
    try:
        if suffix == SQLITE_SUFFIX:
            _sqlite_copy(Path(sqlite_path(url)), partial, must_exist=True)
        else:
            _run_tool(["pg_dump", "--format=custom", f"--file={partial}", url], url)
        digest = file_sha256(partial)
        os.replace(partial, target)  # the final name only ever names a complete backup
    finally:
        partial.unlink(missing_ok=True)
    checksum_file(target).write_text(f"{digest}  {target.name}\n", encoding="utf-8")
    return Backup(target, digest, target.stat().st_size), _prune(directory, suffix, keep)


def restore_database(url: str, backup: Path) -> Backup:
    """Replace the database at ``url`` with ``backup`` once its checksum is verified."""
    verified = verify_backup(backup)
    if _is_sqlite(url) != (backup.suffix == SQLITE_SUFFIX):
        kind = "SQLite" if backup.suffix == SQLITE_SUFFIX else "PostgreSQL"
        raise ConfigurationError(f"{backup.name} is a {kind} backup; {mask_url(url)} is not")
    if backup.suffix == SQLITE_SUFFIX:
        target = Path(sqlite_path(url))
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(backup, target, must_exist=False)
    else:
        _run_tool(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={url}",
                str(backup),
            ],
            url,
        )
    return verified


def verify_backup(backup: Path) -> Backup:
    """The backup, if its SHA-256 matches the one written beside it; else DataError."""
    if not backup.is_file():
        raise DataError(f"no backup at {backup}")
    if backup.suffix not in (SQLITE_SUFFIX, POSTGRES_SUFFIX):
        raise DataError(f"{backup.name} is not a backup ({SQLITE_SUFFIX} or {POSTGRES_SUFFIX})")
    sidecar = checksum_file(backup)
    if not sidecar.is_file():
        raise DataError(f"{backup.name} has no {sidecar.name}: refusing an unverifiable restore")
    expected = sidecar.read_text(encoding="utf-8").split()[0]
    actual = file_sha256(backup)
    if actual != expected:
        raise DataError(
            f"{backup.name} does not match its checksum ({actual[:12]}... is not "
            f"{expected[:12]}...): it is damaged or was changed; refusing to restore it"
        )
    return Backup(backup, actual, backup.stat().st_size)


def checksum_file(backup: Path) -> Path:
    return backup.with_name(backup.name + CHECKSUM_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def _sqlite_copy(source: Path, target: Path, *, must_exist: bool) -> None:
    if must_exist and not source.is_file():
        raise StorageUnavailableError(f"no SQLite database at {source}")
    try:
        # Read-only on the source: a backup must never create or change what it copies.
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as origin:
            destination = sqlite3.connect(target)
            try:
                origin.backup(destination)
            finally:
                destination.close()
    except sqlite3.Error as exc:
        raise StorageUnavailableError(f"SQLite copy {source} -> {target} failed: {exc}") from exc


def _run_tool(command: list[str], url: str) -> None:
    if shutil.which(command[0]) is None:
        raise ConfigurationError(
            f"{command[0]} not found: install the PostgreSQL client tools (postgresql-client)"
        )
    try:
        done = subprocess.run(  # a fixed tool and an argument list: no shell
            command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise StorageUnavailableError(f"{command[0]} did not finish in {TOOL_TIMEOUT_S}s") from exc
    if done.returncode != 0:
        reason = redact(done.stderr.strip(), url) or f"exit status {done.returncode}"
        raise StorageUnavailableError(f"{command[0]} failed on {mask_url(url)}: {reason}")


def _prune(directory: Path, suffix: str, keep: int) -> list[Path]:
    backups = sorted(p for p in directory.glob(f"{PREFIX}*{suffix}") if p.is_file())
    removed = backups[:-keep]
    for old in removed:
        old.unlink()
        checksum_file(old).unlink(missing_ok=True)
    return removed
