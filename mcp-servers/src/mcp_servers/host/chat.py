"""A client for any OpenAI-compatible chat endpoint (``POST {base_url}/chat/completions``).

The wire format is OpenAI's Chat Completions with tools (function calling): the request carries
``model``, ``messages`` and ``tools`` (``{"type": "function", "function": {name, description,
parameters}}``); a reply's ``choices[0].message`` carries ``content`` and/or ``tool_calls``
(each ``{"id", "type": "function", "function": {"name", "arguments"}}`` with ``arguments`` a
JSON *string*), and ``finish_reason`` ``"tool_calls"`` or ``"stop"``. llama.cpp's
``llama-server``, vLLM and Ollama's ``/v1`` serve the same shape; two deviations seen from such
servers are accepted: ``arguments`` already an object, and a missing call ``id``.

Arguments that are not valid JSON are not an error of the whole reply: the call is kept with
its parse error, so the host can tell the model and let it retry.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from trading_core.domain.errors import TradingError

CHAT_PATH = "/chat/completions"


class ChatEndpointError(TradingError):
    """The chat endpoint could not be reached, or did not answer in the expected shape."""

    code = "CHAT_ENDPOINT_ERROR"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    """As the model sent it (for the audit and for the model's own history)."""
    error: str | None = None
    """Why ``arguments`` could not be read (then ``arguments`` is empty)."""


@dataclass(frozen=True, slots=True)
class ChatReply:
    """The first choice of one completion."""

    content: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    model: str
    usage: dict[str, Any] = field(default_factory=dict)

    def as_message(self) -> dict[str, Any]:
        """The reply as the assistant message to send back in the next request's history."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments},
                }
                for call in self.tool_calls
            ]
        return message


class ChatClient:
    """Sends one conversation, gets one reply; owns its HTTP connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        temperature: float = 0.0,
    ) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._url = base_url.rstrip("/") + CHAT_PATH
        self._model = model
        self._temperature = temperature
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self._url

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ChatReply:
        """One completion of ``messages`` with ``tools`` offered; raises ChatEndpointError."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "temperature": self._temperature,
        }
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        if self._http is None:
            self._http = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        try:
            async with self._http.post(self._url, json=body) as response:
                status, text = response.status, await response.text()
        except TimeoutError as exc:
            raise ChatEndpointError(
                f"the chat endpoint {self._url} did not answer in time"
            ) from exc
        except aiohttp.ClientError as exc:
            raise ChatEndpointError(
                f"cannot reach the chat endpoint {self._url} ({type(exc).__name__}: {exc}); "
                "start a local server (llama-server, vLLM) or set TRADING_ASSISTANT__BASE_URL"
            ) from exc
        if status != 200:
            raise ChatEndpointError(
                f"the chat endpoint {self._url} answered HTTP {status}: {_error_text(text)}"
            )
        try:
            return parse_reply(json.loads(text))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ChatEndpointError(
                f"the chat endpoint {self._url} answered in an unexpected shape ({exc!r})"
            ) from exc

    async def close(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()
            await asyncio.sleep(0)  # let aiohttp close its transports before the loop ends


def parse_reply(document: dict[str, Any]) -> ChatReply:
    """The first choice of a Chat Completions response document."""
    choice = document["choices"][0]
    message = choice["message"]
    calls = tuple(
        _tool_call(raw, index) for index, raw in enumerate(message.get("tool_calls") or [])
    )
    content = message.get("content")
    return ChatReply(
        content=content if isinstance(content, str) else None,
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        model=str(document.get("model", "")),
        usage=dict(document.get("usage") or {}),
    )


def _tool_call(raw: dict[str, Any], index: int) -> ToolCall:
    function = raw["function"]
    name = str(function["name"])
    call_id = str(raw.get("id") or f"call_{index}")
    arguments = function.get("arguments")
    if isinstance(arguments, dict):  # an object instead of a string (seen from Ollama, vLLM)
        return ToolCall(call_id, name, arguments, json.dumps(arguments))
    text = "" if arguments is None else str(arguments)
    if not text.strip():
        return ToolCall(call_id, name, {}, text)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return ToolCall(call_id, name, {}, text, error=f"arguments are not valid JSON ({exc})")
    if not isinstance(parsed, dict):
        return ToolCall(call_id, name, {}, text, error="arguments must be a JSON object")
    return ToolCall(call_id, name, parsed, text)


def _error_text(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text[:200] or "no body"
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:200]
    return str(error if error is not None else document)[:200]
