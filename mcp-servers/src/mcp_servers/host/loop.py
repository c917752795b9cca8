"""The assistant loop: ask the model, run the tools it calls, repeat until it answers.

Each model turn (one chat completion and the tool calls it asked for) is one ``assistant`` row
in ``audit.decisions``: the SHA-256 of exactly what the model was sent, the model's name, the
calls with their arguments, a short form of each result, and the text it said. A question ends
when the model answers without calling a tool, or after ``max_turns`` completions (then the host
says it stopped). A failing chat endpoint ends the question with the error; nothing is retried
behind the person's back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastmcp import Client

from trading_core.domain.signal import Decision, DecisionType
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store

from .bridge import SYSTEM_PROMPT, ToolOutcome, call_tool, offered_tools
from .chat import ChatClient, ChatReply

AUDIT_SYMBOL = "*"
"""The ``symbol`` of an assistant row: a turn is about the conversation, not one instrument."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One completion and what came of it."""

    number: int
    prompt_sha256: str
    reply: ChatReply
    outcomes: tuple[ToolOutcome, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """How one question ended."""

    text: str
    turns: tuple[Turn, ...]
    stopped: bool = False
    """True when ``max_turns`` ran out before the model answered."""


@dataclass
class Conversation:
    """The messages so far (system prompt first); a REPL keeps one across questions."""

    session: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    messages: list[dict[str, Any]] = field(
        default_factory=lambda: [{"role": "system", "content": SYSTEM_PROMPT}]
    )


class Assistant:
    """Drives one model over one suite connection, auditing every turn."""

    def __init__(
        self,
        *,
        chat: ChatClient,
        suite: Client[Any],
        store: Store,
        clock: Clock,
        principal: str,
        model: str,
        max_turns: int,
        on_call: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._chat = chat
        self._suite = suite
        self._store = store
        self._clock = clock
        self._principal = principal
        self._model = model
        self._max_turns = max_turns
        self._on_call = on_call
        self._tools: list[dict[str, Any]] | None = None

    async def ask(self, question: str, conversation: Conversation | None = None) -> Answer:
        """Answer ``question`` (the person's, trusted), calling tools as the model asks."""
        talk = conversation or Conversation()
        if self._tools is None:
            self._tools = await offered_tools(self._suite)
        names = {spec["function"]["name"] for spec in self._tools}
        talk.messages.append({"role": "user", "content": question})
        turns: list[Turn] = []
        for number in range(1, self._max_turns + 1):
            digest = _prompt_digest(talk.messages, self._tools, self._model)
            reply = await self._chat.complete(talk.messages, self._tools)
            talk.messages.append(reply.as_message())
            outcomes = []
            for call in reply.tool_calls:
                if self._on_call is not None:
                    self._on_call(call.name, call.arguments)
                outcome = await call_tool(self._suite, call, names)
                outcomes.append(outcome)
                talk.messages.append(outcome.message())
            turn = Turn(number, digest, reply, tuple(outcomes))
            turns.append(turn)
            await self._audit(talk, turn)
            if not reply.tool_calls:
                return Answer(text=reply.content or "", turns=tuple(turns))
        text = (
            f"stopped after {self._max_turns} model turns without a final answer "
            "(TRADING_ASSISTANT__MAX_TURNS raises the limit)"
        )
        return Answer(text=text, turns=tuple(turns), stopped=True)

    async def _audit(self, talk: Conversation, turn: Turn) -> None:
        reply = turn.reply
        calls = [
            {"id": c.call_id, "tool": c.name, "arguments": c.arguments, "error": c.error}
            for c in reply.tool_calls
        ]
        if reply.tool_calls:
            action = "tool_calls: " + ", ".join(c.name for c in reply.tool_calls)
        else:
            action = "answer"
        await self._store.record_decisions(
            [
                Decision(
                    timestamp=self._clock.now(),
                    decision_type=DecisionType.ASSISTANT,
                    symbol=AUDIT_SYMBOL,
                    risk_check={
                        "session": talk.session,
                        "turn": turn.number,
                        "model": reply.model or self._model,
                        "prompt_sha256": turn.prompt_sha256,
                        "finish_reason": reply.finish_reason,
                        "tool_calls": calls,
                        "results": [o.summary() for o in turn.outcomes],
                        "usage": reply.usage,
                    },
                    final_action=action,
                    reasoning=reply.content or "",
                    principal=self._principal,
                )
            ]
        )


def _prompt_digest(messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str) -> str:
    """SHA-256 of what the model is sent (canonical JSON): the audit can name the exact prompt."""
    canonical = json.dumps(
        {"model": model, "messages": messages, "tools": tools},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
