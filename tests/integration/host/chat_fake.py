"""A scripted OpenAI-compatible chat endpoint on a local port (real HTTP, aiohttp).

It speaks Chat Completions as OpenAI documents it and as local servers (llama.cpp's
``llama-server``, vLLM) serve it. The shapes follow openai-python's own response models,
``openai.types.chat.ChatCompletion`` (``id``, ``object: "chat.completion"``, ``created``,
``model``, ``system_fingerprint``, ``choices[{index, message, logprobs, finish_reason}]``,
``usage{prompt_tokens, completion_tokens, total_tokens}``) with ``ChatCompletionMessage``
(``role``, ``content``, ``refusal``, ``tool_calls``) and ``ChatCompletionMessageToolCall``
(``id``, ``type: "function"``, ``function{name, arguments}``, arguments a JSON string), and
OpenAI's function-calling guide (``finish_reason`` ``"tool_calls"`` with ``content`` null).

Each request gets the next scripted reply; a reply may be a function of the request (a model
that reads what a tool returned). Every request body is kept for the test to inspect.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Reply = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]
_ids = itertools.count(1)


def tool_calls(
    *calls: tuple[str, dict[str, Any] | str], model: str = "fake-model"
) -> dict[str, Any]:
    """A reply that calls tools (arguments as the JSON string the API sends, or a raw string)."""
    return _completion(
        {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": f"call_{next(_ids):06d}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for name, args in calls
            ],
        },
        "tool_calls",
        model,
    )


def text(content: str, model: str = "fake-model") -> dict[str, Any]:
    """A final answer (``finish_reason: "stop"``)."""
    return _completion({"role": "assistant", "content": content, "refusal": None}, "stop", model)


def _completion(message: dict[str, Any], finish_reason: str, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_ids):08d}",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


@dataclass
class ChatFake:
    """The endpoint's script and what it was sent."""

    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
    """Answer every request with this HTTP status (an OpenAI error body when not 200)."""
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.status != 200:
            error = {"message": "the model is overloaded", "type": "server_error", "code": None}
            return web.json_response({"error": error}, status=self.status)
        if not self.script:
            return web.json_response(text("(the script has ended)"))
        reply = self.script.pop(0)
        return web.json_response(reply(body) if callable(reply) else reply)
