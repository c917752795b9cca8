"""Who waits for a person: the contract's approval policy, case by case."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_core.services.principals import (
    AUTONOMOUS_PRINCIPAL,
    Principal,
    PrincipalKind,
    needs_approval,
)
from trading_core.settings import ApprovalSettings, Mode

POLICY = ApprovalSettings(
    assistant_paper_notional=Decimal(1_000), autonomous_budget_notional=Decimal(5_000)
)
ASSISTANT = Principal(name="assistant", kind=PrincipalKind.ASSISTANT)
AUTONOMOUS = Principal(name=AUTONOMOUS_PRINCIPAL, kind=PrincipalKind.AUTONOMOUS)
PERSON = Principal(name="cli:ann", kind=PrincipalKind.HUMAN)


@pytest.mark.parametrize(
    ("principal", "mode", "notional", "reduces", "expected"),
    [
        (ASSISTANT, Mode.PAPER, Decimal("1000"), False, False),  # at the threshold: no
        (ASSISTANT, Mode.PAPER, Decimal("1000.01"), False, True),
        (ASSISTANT, Mode.PAPER, Decimal("50000"), True, False),  # reducing in paper: no
        (ASSISTANT, Mode.LIVE, Decimal("1"), False, True),  # live: always
        (ASSISTANT, Mode.LIVE, Decimal("1"), True, True),  # live: always, even reducing
        (AUTONOMOUS, Mode.LIVE, Decimal("5000"), False, False),  # inside its budget
        (AUTONOMOUS, Mode.PAPER, Decimal("5000.01"), False, True),  # above it: queued
        (AUTONOMOUS, Mode.LIVE, Decimal("9999"), True, False),
        (PERSON, Mode.LIVE, Decimal("1000000"), False, False),  # a person never waits
    ],
)
def test_approval_policy(
    principal: Principal, mode: Mode, notional: Decimal, reduces: bool, expected: bool
) -> None:
    assert (
        needs_approval(
            principal, mode=mode, notional=notional, reduces_position=reduces, policy=POLICY
        )
        is expected
    )


@pytest.mark.parametrize("name", ["trading-core", "trading_core", "TRADING_CORE"])
def test_the_autonomous_token_name_in_any_spelling_an_env_var_allows(name: str) -> None:
    principal = Principal.for_token_name(name)
    assert principal.kind is PrincipalKind.AUTONOMOUS
    assert principal.name == AUTONOMOUS_PRINCIPAL


def test_any_other_token_names_an_assistant_never_a_person() -> None:
    for name in ("assistant", "human", "cli:root", "admin"):
        principal = Principal.for_token_name(name)
        assert principal.kind is PrincipalKind.ASSISTANT
        assert not principal.is_human
