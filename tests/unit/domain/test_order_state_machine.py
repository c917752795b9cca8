"""The order state machine: which moves are legal, and what a transition records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest

from trading_core.domain.order import (
    ALLOWED_TRANSITIONS,
    IllegalTransitionError,
    Order,
    OrderStatus,
)

S = OrderStatus
LATER = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)

# Written out by hand from the lifecycle in order.py's docstring, so a silent edit of
# ALLOWED_TRANSITIONS shows up here instead of being mirrored.
EXPECTED_ALLOWED: dict[OrderStatus, set[OrderStatus]] = {
    S.PENDING: {S.SENT, S.REJECTED, S.CANCELLED, S.UNKNOWN},
    S.SENT: {S.PARTIAL, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.UNKNOWN},
    S.PARTIAL: {S.PARTIAL, S.FILLED, S.CANCELLED, S.EXPIRED, S.UNKNOWN},
    S.UNKNOWN: {S.SENT, S.PARTIAL, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED},
    S.FILLED: set(),
    S.CANCELLED: set(),
    S.REJECTED: set(),
    S.EXPIRED: set(),
}
LEGAL = sorted(
    ((src, dst) for src, targets in EXPECTED_ALLOWED.items() for dst in targets),
    key=str,
)
ILLEGAL = sorted(
    ((src, dst) for src, dst in product(S, S) if dst not in EXPECTED_ALLOWED[src]),
    key=str,
)
TERMINAL = [S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED]

OrderFactory = Callable[..., Order]


def _order_in(make_order: OrderFactory, status: OrderStatus) -> Order:
    """An order of 10 that plausibly sits in ``status`` (partial/filled quantities match)."""
    filled = {S.PARTIAL: Decimal(4), S.FILLED: Decimal(10)}.get(status, Decimal(0))
    average = Decimal(100) if filled else None
    return make_order(status=status, filled_quantity=filled, average_fill_price=average)


def test_transition_table_matches_the_documented_lifecycle() -> None:
    assert {k: set(v) for k, v in ALLOWED_TRANSITIONS.items()} == EXPECTED_ALLOWED


def test_illegal_table_is_not_empty_and_disjoint_from_legal_one() -> None:
    # 8 statuses -> 64 pairs; 4 + 6 + 5 + 6 legal ones.
    assert len(LEGAL) == 21
    assert len(ILLEGAL) == 64 - 21
    assert not set(LEGAL) & set(ILLEGAL)


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=lambda s: str(s))
def test_every_allowed_transition_moves_the_order(
    make_order: OrderFactory, source: OrderStatus, target: OrderStatus
) -> None:
    order = _order_in(make_order, source)

    moved = order.transition(target, at=LATER, reason="because", broker_order_id="B-7")

    assert moved.status is target
    assert moved.updated_at == LATER
    assert moved.status_reason == "because"
    assert moved.broker_order_id == "B-7"
    assert moved.created_at == order.created_at
    assert order.status is source, "transition must not mutate the original"


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=lambda s: str(s))
def test_every_illegal_transition_raises_and_names_both_states(
    make_order: OrderFactory, source: OrderStatus, target: OrderStatus
) -> None:
    order = _order_in(make_order, source)

    with pytest.raises(IllegalTransitionError) as caught:
        order.transition(target, at=LATER)

    assert caught.value.current is source
    assert caught.value.target is target
    assert f"{source} -> {target}" in str(caught.value)
    assert "ord-1" in str(caught.value)


@pytest.mark.parametrize("terminal", TERMINAL, ids=str)
def test_terminal_states_have_no_way_out(make_order: OrderFactory, terminal: OrderStatus) -> None:
    order = _order_in(make_order, terminal)

    assert terminal.is_terminal
    assert not terminal.is_open
    for target in S:
        with pytest.raises(IllegalTransitionError):
            order.transition(target, at=LATER)


@pytest.mark.parametrize("live", [S.PENDING, S.SENT, S.PARTIAL, S.UNKNOWN], ids=str)
def test_non_terminal_states_count_as_open(live: OrderStatus) -> None:
    assert live.is_open
    assert not live.is_terminal


def test_transition_without_reason_keeps_the_previous_reason(make_order: OrderFactory) -> None:
    sent = make_order().transition(S.SENT, at=LATER, reason="accepted", broker_order_id="B-1")

    cancelled = sent.transition(S.CANCELLED, at=LATER + timedelta(seconds=1))

    assert cancelled.status_reason == "accepted"
    assert cancelled.broker_order_id == "B-1"


def test_a_pending_order_cannot_fill_before_it_is_sent(make_order: OrderFactory) -> None:
    with pytest.raises(IllegalTransitionError):
        make_order().with_fill(Decimal(1), Decimal(100), at=LATER)


def test_transition_refuses_a_naive_timestamp(make_order: OrderFactory) -> None:
    with pytest.raises(ValueError, match="timezone"):
        make_order().transition(S.SENT, at=datetime(2024, 3, 1, 15, 0))
