"""Stop waiting for market data the moment a stop is asked for.

A live source (Kraken polls once per bar) or a paced replay spends nearly all its time waiting
for the next bar. The pipeline checks its stop event between bars, so without this a Ctrl-C or
SIGTERM during a five-minute wait went unanswered for five minutes, or for ever when the feed was
down. :func:`until_stopped` races each wait against the stop event and, once it is set, cancels
the wait and closes the source's iterator, so the run ends within moments and flushes its state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

_T = TypeVar("_T")


async def until_stopped(items: AsyncIterator[_T], stop: asyncio.Event) -> AsyncIterator[_T]:
    """Yield from ``items`` until it ends or ``stop`` is set, whichever comes first.

    An item already received is always yielded; a wait still under way when ``stop`` is set is
    cancelled, and ``items`` is closed (``aclose``) so its own clean-up runs.
    """
    stopper = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            fetch = asyncio.ensure_future(anext(items))
            await asyncio.wait((fetch, stopper), return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await fetch
                return
            try:
                item = fetch.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
        if isinstance(items, AsyncGenerator):
            await items.aclose()
