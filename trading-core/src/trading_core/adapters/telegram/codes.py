"""One-time approval codes: random, short-lived, single use, bound to one approval and one person.

A code proves that the person approving over Telegram also reads the private chat the code went
to: a message in an allowlisted group (or a replayed update) alone cannot approve. Codes live in
this process's memory only, so a restart burns every code (fail closed: ask again). A code is
stored as its SHA-256, compared in constant time, and burnt after too many wrong tries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from trading_core.ports.clock import Clock

CODE_DIGITS = 6


class Redeemed(StrEnum):
    """What checking a code found; only ``OK`` lets the approval go ahead."""

    OK = "ok"
    NONE = "none"
    """No code was sent to this person for this approval (or it was used or burnt)."""
    EXPIRED = "expired"
    WRONG = "wrong"
    BURNT = "burnt"
    """Wrong again, with no tries left: the code is gone."""


@dataclass
class _Issued:
    digest: bytes
    expires_at: datetime
    tries_left: int


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.strip().encode("utf-8")).digest()


class OneTimeCodes:
    """Issues and redeems codes keyed by (approval id, Telegram user id)."""

    def __init__(self, clock: Clock, *, ttl: timedelta, attempts: int) -> None:
        self._clock = clock
        self._ttl = ttl
        self._attempts = attempts
        self._issued: dict[tuple[str, int], _Issued] = {}

    def issue(self, approval_id: str, user_id: int, *, not_after: datetime) -> tuple[str, datetime]:
        """A new code for ``user_id`` to approve ``approval_id``; replaces one sent before.

        The code expires after the configured lifetime, and never after ``not_after`` (the
        approval's own expiry). Returns the code and when it expires.
        """
        self._forget_expired()
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        expires_at = min(self._clock.now() + self._ttl, not_after)
        self._issued[(approval_id, user_id)] = _Issued(_digest(code), expires_at, self._attempts)
        return code, expires_at

    def redeem(self, approval_id: str, user_id: int, code: str) -> tuple[Redeemed, int]:
        """Check ``code``; a right one is used up at once. Returns the verdict and tries left."""
        key = (approval_id, user_id)
        issued = self._issued.get(key)
        if issued is None:
            return Redeemed.NONE, 0
        if self._clock.now() >= issued.expires_at:
            del self._issued[key]
            return Redeemed.EXPIRED, 0
        if hmac.compare_digest(issued.digest, _digest(code)):
            del self._issued[key]  # single use: gone before the approval is even tried
            return Redeemed.OK, 0
        issued.tries_left -= 1
        if issued.tries_left <= 0:
            del self._issued[key]
            return Redeemed.BURNT, 0
        return Redeemed.WRONG, issued.tries_left

    def discard(self, approval_id: str) -> None:
        """Forget every code for ``approval_id`` (it was decided or expired)."""
        for key in [k for k in self._issued if k[0] == approval_id]:
            del self._issued[key]

    def _forget_expired(self) -> None:
        now = self._clock.now()
        for key in [k for k, v in self._issued.items() if now >= v.expires_at]:
            del self._issued[key]
