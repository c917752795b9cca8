"""Who is calling: a person, a person's assistant, or trading-core itself.

The principal decides whether an order needs a person's approval and is recorded with every
decision. Loosening anything (approving, resuming, raising a limit) takes a human principal; no
assistant or autonomous principal is ever treated as one.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from trading_core.domain.base import Frozen
from trading_core.settings import ApprovalSettings, Mode

AUTONOMOUS_PRINCIPAL = "trading-core"


class PrincipalKind(StrEnum):
    HUMAN = "human"
    """A person at a terminal (the CLI) or answering an elicitation form."""
    ASSISTANT = "assistant"
    """A model acting for a person (stdio, or an HTTP token naming an assistant)."""
    AUTONOMOUS = "autonomous"
    """trading-core's orchestrator."""


class Principal(Frozen):
    name: str = Field(min_length=1, max_length=128)
    kind: PrincipalKind

    @classmethod
    def for_token_name(cls, name: str) -> Principal:
        """The principal an HTTP bearer token names (``trading-core`` is the autonomous one)."""
        # Environment variable names cannot hold a hyphen: TRADING_MCP__TOKENS__TRADING_CORE.
        if name.lower().replace("_", "-") == AUTONOMOUS_PRINCIPAL:
            return cls(name=AUTONOMOUS_PRINCIPAL, kind=PrincipalKind.AUTONOMOUS)
        return cls(name=name, kind=PrincipalKind.ASSISTANT)

    @property
    def is_human(self) -> bool:
        return self.kind is PrincipalKind.HUMAN


def needs_approval(
    principal: Principal,
    *,
    mode: Mode,
    notional: Decimal,
    reduces_position: bool,
    policy: ApprovalSettings,
) -> bool:
    """Whether ``principal``'s order waits for a person (the contract's approval policy).

    An assistant's order in live mode always waits, even one that reduces a position (the
    contract says always); in paper mode above a notional threshold, unless it only reduces a
    position. trading-core trades inside its budget and queues anything above it. A person's own
    order never waits for another person.
    """
    if principal.is_human:
        return False
    if principal.kind is PrincipalKind.ASSISTANT and mode is Mode.LIVE:
        return True
    if reduces_position:
        return False
    if principal.kind is PrincipalKind.AUTONOMOUS:
        return notional > policy.autonomous_budget_notional
    return notional > policy.assistant_paper_notional
