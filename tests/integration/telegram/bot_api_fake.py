"""A local Telegram Bot API server (real HTTP, aiohttp) for the operators' bot to talk to.

It serves ``POST /bot<token>/<method>`` the way the Bot API documents "Making requests": the
parameters as a query string, ``application/x-www-form-urlencoded`` (what python-telegram-bot's
HTTPXRequest sends: every value a string, lists and objects JSON-encoded) or JSON; every answer
is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``
(401 ``Unauthorized`` for a wrong token, 404 ``Not Found`` for an unknown method, 403
``Forbidden: bot can't initiate conversation with a user`` for a private chat that never
started the bot).

Methods: ``getMe``, ``deleteWebhook``, ``setMyCommands``, ``getUpdates`` (long polling: updates
with an id below ``offset`` are confirmed and forgotten; with none left the request waits up to
``timeout`` seconds for one), ``sendMessage``, ``close``/``logOut``. Shapes:

- ``getMe``: the Bot API's User object for a bot (``id``, ``is_bot: true``, ``first_name``,
  ``username``, ``can_join_groups``, ``can_read_all_group_messages``,
  ``supports_inline_queries``), as in the Bot API reference's ``getMe``/``User`` tables;
- updates: the Bot API's ``Update`` (``update_id`` + ``message``) with a ``Message``
  (``message_id``, ``from`` User, ``chat`` Chat with ``type`` ``private`` or ``group``, ``date``
  in Unix time, ``text``) and, for a command, a ``MessageEntity`` ``{"type": "bot_command",
  "offset": 0, "length": N}`` covering ``/name`` (``/name@bot`` in groups), which is what
  python-telegram-bot's CommandHandler matches on (its own test kit,
  ``tests/auxil/build_messages.py`` ``make_command_message``, builds commands the same way);
- ``sendMessage``: the sent ``Message`` (``from`` the bot, the ``chat``, ``date``, ``text``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER: dict[str, Any] = {
    "id": 7_000_000_001,
    "is_bot": True,
    "first_name": "Trading Desk",
    "username": "trading_desk_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


def user(user_id: int, username: str) -> dict[str, Any]:
    """A person's User object."""
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": username.capitalize(),
        "username": username,
        "language_code": "en",
    }


def private_chat(person: dict[str, Any]) -> dict[str, Any]:
    """The private chat with ``person`` (its id is the user's)."""
    return {
        "id": person["id"],
        "first_name": person["first_name"],
        "username": person["username"],
        "type": "private",
    }


def group_chat(chat_id: int, title: str) -> dict[str, Any]:
    return {"id": chat_id, "title": title, "type": "group"}


@dataclass
class BotApiFake:
    """The server's state: updates waiting, what the bot sent, every method it called."""

    token: str = "123456789:AAFakeTokenForTests-abcdefghijklmno"
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    started_chats: set[int] = field(default_factory=set)
    """Private chats whose user started the bot (others get 403 on sendMessage)."""
    confirmed_up_to: int = 0
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500_000_001))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _closing: bool = False
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        """What ``telegram.base_url`` is set to (python-telegram-bot appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> BotApiFake:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host_port = self._runner.addresses[0]
        self.port = int(host_port[1])
        return self

    async def close(self) -> None:
        async with self._changed:
            self._closing = True
            self._changed.notify_all()  # long polls return at once
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what a test does -------------------------------------------------------------------

    async def push_text(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str, *, edited: bool = False
    ) -> dict[str, Any]:
        """Queue the update Telegram would deliver for ``sender`` writing ``text`` in ``chat``."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if edited:
            message["edit_date"] = int(time.time())
        update = {
            "update_id": next(self._update_ids),
            "edited_message" if edited else "message": message,
        }
        if chat["type"] == "private":
            self.started_chats.add(chat["id"])
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()
        return update

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        count: int = 1,
        timeout: float = 15.0,
    ) -> list[dict[str, Any]]:
        """The first ``count`` sent messages matching ``predicate``, waiting for them (bounded)."""

        def found() -> list[dict[str, Any]]:
            return [m for m in self.sent if predicate(m)]

        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: len(found()) >= count)
        return found()[:count]

    async def reply_to(
        self, chat: dict[str, Any], sender: dict[str, Any], text: str, timeout: float = 15.0
    ) -> str:
        """Push ``text`` and return the next message the bot sends to that chat."""
        before = len(self.to_chat(chat["id"]))
        await self.push_text(chat, sender, text)
        [*_, last] = await self.wait_for(
            lambda m: m["chat_id"] == chat["id"], count=before + 1, timeout=timeout
        )
        return str(last["text"])

    def to_chat(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat_id"] == chat_id]

    async def wait_confirmed(self, update_id: int, timeout: float = 15.0) -> None:
        """Until the bot has confirmed (offset past) ``update_id``: it fetched and queued it."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: self.confirmed_up_to > update_id)

    # --- the Bot API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(method)
        handler = {
            "getMe": self._get_me,
            "deleteWebhook": self._true,
            "setMyCommands": self._set_my_commands,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "close": self._true,
            "logOut": self._true,
        }.get(method)
        if handler is None:
            return _error(404, "Not Found")
        return await handler(params)

    async def _get_me(self, _params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _true(self, _params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _set_my_commands(self, params: dict[str, Any]) -> web.Response:
        self.commands = list(_json(params.get("commands", "[]")))
        return _ok(True)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        async with self._changed:
            if offset:
                # Bot API: an update is confirmed once getUpdates is called with a higher offset.
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                self.confirmed_up_to = max(self.confirmed_up_to, offset)
                self._changed.notify_all()
            if not self.updates and timeout > 0 and not self._closing:
                try:
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: bool(self.updates) or self._closing)
                except TimeoutError:
                    pass
            return _ok(self.updates[:limit])

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        if not text:
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        if chat_id > 0 and chat_id not in self.started_chats:
            return _error(403, "Forbidden: bot can't initiate conversation with a user")
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "group"
        message = {
            "message_id": next(self._message_ids),
            "from": BOT_USER,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        async with self._changed:
            self.sent.append({"chat_id": chat_id, "text": text, "params": params})
            self._changed.notify_all()
        return _ok(message)


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        params.update(dict(await request.post()))
    return params


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )
