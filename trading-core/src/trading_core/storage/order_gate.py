"""The order gate: one account's check-and-send, one process at a time, across processes.

Two processes on one database (a run and an MCP server) each check an order against the
account's positions and open orders before they send it. Without a lock both could check
"position 8 % of a 10 % cap", both pass, and together reach 16 %. The gate makes check, persist
and send one critical section per account for every process on the database:

- PostgreSQL: a session-level advisory lock on a connection held for the section (released by
  the server if the process dies);
- SQLite: an exclusive ``flock`` on a file beside the database (released by the kernel if the
  process dies); an in-memory database has no other process, an asyncio lock is enough.

The same two mechanisms give a process lease (:func:`file_lease`, the PostgreSQL stores' advisory
lock): held for a process's life, it tells another process whether the orders a paper broker
holds in memory can still fill, or died with it.

Waiting is bounded: a gate not had within the timeout raises :class:`OrderGateBusy`, and the
order is refused (fail closed), never sent unchecked.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from trading_core.domain.errors import OrderGateBusy

GATE_TIMEOUT_S = 10.0
POLL_S = 0.005


def gate_file(database: str, account: str) -> str:
    """The lock file of ``account``'s gate beside a SQLite ``database`` (one per account: a live
    account's gate never waits for the paper account's)."""
    tag = hashlib.sha256(account.encode()).hexdigest()[:16]
    return f"{database}.order-gate-{tag}"


def busy(account: str, timeout: float) -> OrderGateBusy:
    return OrderGateBusy(
        f"another process has been placing an order on account {account} for over "
        f"{timeout:g}s; this order was not sent (try again)"
    )


@asynccontextmanager
async def file_gate(path: str, account: str, timeout: float) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block."""
    descriptor = await asyncio.to_thread(os.open, path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() >= deadline:
                    raise busy(account, timeout) from None
                await asyncio.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)


@asynccontextmanager
async def file_lease(path: str) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path`` while the block runs: "this process is alive".

    The kernel drops the lock when the process dies, however it dies; :func:`file_lease_alive`
    tells the two apart. The file is removed on a clean exit.
    """
    descriptor = await asyncio.to_thread(os.open, path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh owner id: never held
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)


def file_lease_alive(path: str) -> bool:
    """Whether the process that took the lease at ``path`` still holds it."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.unlink(path)  # its holder died: nothing will hold it again
        return False
    finally:
        os.close(descriptor)
