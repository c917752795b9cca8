"""Alert rate limiting: a token bucket per chat; what it holds back is counted and summarised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.telegram.throttle import Alert, AlertThrottle
from trading_core.domain.state import Severity

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _throttle(clock: SimulatedClock) -> AlertThrottle:
    return AlertThrottle(clock, per_minute=6, burst=2)


def test_the_burst_goes_out_then_alerts_are_held_back() -> None:
    clock = SimulatedClock(START)
    throttle = _throttle(clock)

    sent = [throttle.offer(1, Alert(f"a{n}")) for n in range(5)]

    assert sent == ["a0", "a1", None, None, None]
    assert throttle.chats_holding() == [1]
    assert throttle.flush(1) is None  # no token back yet


def test_once_a_token_is_back_the_held_alerts_are_summarised_with_the_most_severe() -> None:
    clock = SimulatedClock(START)
    throttle = _throttle(clock)
    for n in range(5):
        throttle.offer(1, Alert(f"a{n}", Severity.CRITICAL if n == 3 else Severity.WARNING))

    clock.advance(timedelta(seconds=10))  # 6 a minute: one token every 10 s
    summary = throttle.flush(1)

    assert summary == (
        "(3 more alerts suppressed since 12:00:00 UTC; the most severe: a3 - "
        "all are in audit.system_events)"
    )
    assert throttle.chats_holding() == []
    assert throttle.flush(1) is None


def test_the_next_alert_through_carries_the_count_instead_of_a_separate_summary() -> None:
    clock = SimulatedClock(START)
    throttle = _throttle(clock)
    for n in range(3):
        throttle.offer(1, Alert(f"a{n}"))

    clock.advance(timedelta(seconds=10))
    sent = throttle.offer(1, Alert("fresh"))

    assert sent is not None
    assert sent.splitlines()[0] == "fresh"
    assert sent.splitlines()[1].startswith("(1 more alert suppressed")


def test_each_chat_has_its_own_bucket_and_tokens_never_exceed_the_burst() -> None:
    clock = SimulatedClock(START)
    throttle = _throttle(clock)
    for n in range(2):
        throttle.offer(1, Alert(f"a{n}"))

    assert throttle.offer(2, Alert("other chat")) == "other chat"
    clock.advance(timedelta(hours=1))  # a long quiet spell refills to the burst, not beyond
    assert [throttle.offer(1, Alert(f"b{n}")) for n in range(3)] == ["b0", "b1", None]
