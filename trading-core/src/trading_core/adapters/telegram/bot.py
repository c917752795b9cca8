"""The operators' Telegram bot: python-telegram-bot's Application over the trading services.

Long polling (getUpdates) only: no port to open, nothing to expose. Every update first meets the
allowlist gate: a chat not in ``telegram.allowed_chat_ids`` gets no reply at all (a reply would
tell a stranger the bot is alive) and is logged, and recorded once an hour in
audit.system_events. Updates are handled one at a time (python-telegram-bot's default), each
after a refresh of the services from the store, so the bot answers with what every other process
did. Alerts are read from the store by :class:`~.alerts.AlertWatcher` and pushed, rate limited
per chat, to every allowlisted chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from telegram import BotCommand, Update
from telegram.error import Forbidden, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from trading_core.domain.errors import ConfigurationError, TradingError
from trading_core.domain.state import Severity, SystemEvent
from trading_core.services.container import TradingApp
from trading_core.settings import Settings, TelegramSettings

from . import actions, replies
from .alerts import AlertWatcher
from .codes import OneTimeCodes
from .throttle import AlertThrottle

logger = logging.getLogger(__name__)

UNKNOWN_CHAT_AUDIT_EVERY: Final = timedelta(hours=1)
"""An unknown chat is written to audit.system_events at most this often (logged each time)."""
DEFAULT_DAYS: Final = 7
MAX_DAYS: Final = 60
DEFAULT_TRADES: Final = 10
MAX_TRADES: Final = 50

BotApplication = Application[Any, Any, Any, Any, Any, Any]
Handler = Callable[["Request"], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Request:
    """One command from an allowlisted chat."""

    chat_id: int
    user_id: int
    args: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.args).strip()


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    help: str
    handler: Handler


def check_configured(config: TelegramSettings) -> None:
    """Refuse at start, in one line, a bot that could never answer anyone."""
    token = config.bot_token.get_secret_value().strip() if config.bot_token else ""
    if not token:
        raise ConfigurationError(
            "no Telegram bot token: set TRADING_TELEGRAM__BOT_TOKEN (BotFather's /newbot gives one)"
        )
    if not config.allowed_chat_ids:
        raise ConfigurationError(
            "no chat may use the bot: set TRADING_TELEGRAM__ALLOWED_CHAT_IDS (e.g. '[123456789]', "
            "your user id for a private chat)"
        )


class OperatorBot:
    """The bot over one process's :class:`TradingApp`; :meth:`start`, then :meth:`stop`."""

    def __init__(
        self,
        app: TradingApp,
        config: TelegramSettings | None = None,
        *,
        reload_settings: Callable[[], Settings] | None = None,
    ) -> None:
        """``reload_settings`` re-reads the configuration for /reload_config (default: the
        files and environment, with this app's config directory, data directory and database,
        as the command line chose them)."""
        self._app = app
        self._config = config or app.settings.telegram
        self._reload_settings = reload_settings or (lambda: actions.reread(app.settings))
        check_configured(self._config)
        self._allowed = frozenset(self._config.allowed_chat_ids)
        self._approvers = frozenset(self._config.approver_ids)
        self._codes = OneTimeCodes(
            app.clock,
            ttl=timedelta(seconds=self._config.code_ttl_seconds),
            attempts=self._config.code_attempts,
        )
        self._throttle = AlertThrottle(
            app.clock, per_minute=self._config.alerts_per_minute, burst=self._config.alert_burst
        )
        self._watcher = AlertWatcher(
            app.store,
            app.clock,
            fill_notional=self._config.alert_fill_notional,
            currency=app.account.currency,
            tick_of=replies.tick_of(app),
        )
        self._lock = asyncio.Lock()
        self._unknown_audited: dict[int, datetime] = {}
        self._alert_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.commands = self._commands()
        self.application = self._build()

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token (getMe), publish the command list, start polling and the alerts."""
        try:
            await self.application.initialize()
        except InvalidToken as exc:
            raise ConfigurationError(f"the Bot API refused the bot token: {exc.message}") from None
        except TelegramError as exc:
            said = str(exc).replace(self._token(), "<token>")
            raise TradingError(
                f"cannot reach the Telegram Bot API: {said}", code="TELEGRAM_UNREACHABLE"
            ) from None
        await self._watcher.prime()
        await self.application.bot.set_my_commands(
            [BotCommand(c.name, c.help[:256]) for c in self.commands]
        )
        await self.application.start()
        updater = self.application.updater
        if updater is None:  # pragma: no cover - the builder always makes one here
            raise ConfigurationError("python-telegram-bot built no updater")
        await updater.start_polling(
            timeout=self._config.poll_timeout_seconds,
            allowed_updates=[Update.MESSAGE],
            drop_pending_updates=False,
        )
        self._alert_task = asyncio.create_task(self._alert_loop(), name="telegram-alerts")

    async def stop(self) -> None:
        """Stop polling (confirming what was fetched), the alerts, then the application."""
        self._stopping.set()
        if self._alert_task is not None:
            self._alert_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._alert_task
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # --- alerts -------------------------------------------------------------------------------

    async def push_alerts(self) -> int:
        """Read the store once and push what it holds to every allowed chat; returns messages
        sent (the poll loop calls this every ``alert_poll_seconds``)."""
        async with self._lock:
            alerts = await self._watcher.poll()
        sent = 0
        for chat_id in sorted(self._allowed):
            for alert in alerts:
                text = self._throttle.offer(chat_id, alert)
                if text is not None and await self._send(chat_id, text):
                    sent += 1
        for chat_id in self._throttle.chats_holding():
            summary = self._throttle.flush(chat_id)
            if summary is not None and await self._send(chat_id, summary):
                sent += 1
        return sent

    async def _alert_loop(self) -> None:
        interval = self._config.alert_poll_seconds
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
                return
            try:
                await self.push_alerts()
            except TradingError as exc:  # the store is unreachable: try again next time
                logger.warning("telegram alerts: %s: %s", exc.code, exc.message)
            except Exception:  # the loop's top level: log, keep pushing
                logger.exception("telegram alerts: a poll failed")

    async def _send(self, chat_id: int, text: str) -> bool:
        try:
            await self.application.bot.send_message(chat_id=chat_id, text=replies.clip(text))
        except TelegramError as exc:
            logger.warning("telegram: cannot send to chat %s: %s", chat_id, exc)
            return False
        return True

    # --- wiring -------------------------------------------------------------------------------

    def _build(self) -> BotApplication:
        builder = ApplicationBuilder().token(self._token()).job_queue(None)
        if self._config.base_url:
            builder = builder.base_url(self._config.base_url)
        application: BotApplication = builder.build()
        application.add_handler(TypeHandler(Update, self._gate), group=-1)
        # New messages only: editing an old "/approve ID CODE" must not approve again.
        only_new = filters.UpdateType.MESSAGE
        for command in self.commands:
            application.add_handler(
                CommandHandler(command.name, self._callback(command), filters=only_new)
            )
        application.add_handler(MessageHandler(only_new & filters.COMMAND, self._unknown))
        application.add_error_handler(self._on_error)
        return application

    def _token(self) -> str:
        assert self._config.bot_token is not None  # check_configured ran
        return self._config.bot_token.get_secret_value().strip()

    async def _gate(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let only allowlisted chats through; the rest get nothing (and are logged)."""
        if not isinstance(update, Update):
            raise ApplicationHandlerStop
        chat = update.effective_chat
        user = update.effective_user
        if chat is not None and chat.id in self._allowed and user is not None and not user.is_bot:
            return
        who = f"user {user.id} (@{user.username})" if user is not None else "no user"
        chat_id = chat.id if chat is not None else None
        logger.warning(
            "telegram: update %s from chat %s, %s, not in telegram.allowed_chat_ids: ignored",
            update.update_id,
            chat_id,
            who,
        )
        if chat_id is not None:
            await self._audit_unknown(chat_id, who)
        raise ApplicationHandlerStop

    async def _audit_unknown(self, chat_id: int, who: str) -> None:
        now = self._app.clock.now()
        last = self._unknown_audited.get(chat_id)
        if last is not None and now - last < UNKNOWN_CHAT_AUDIT_EVERY:
            return
        self._unknown_audited[chat_id] = now
        await self._app.store.record_event(
            SystemEvent(
                timestamp=now,
                event_type="telegram.unknown_chat",
                component="adapters.telegram",
                severity=Severity.WARNING,
                message=f"update from chat {chat_id} ({who}) not in the allowlist: ignored",
                details={"chat_id": chat_id, "who": who},
            )
        )

    def _callback(
        self, command: Command
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat, user = update.effective_chat, update.effective_user
            if chat is None or user is None:
                return
            request = Request(chat_id=chat.id, user_id=user.id, args=list(context.args or []))
            async with self._lock:
                try:
                    await self._app.refresh()
                    text = await command.handler(request)
                except TradingError as exc:
                    text = f"refused [{exc.code}]: {exc.cli_message}"
            await self._send(chat.id, text)

        return callback

    async def _unknown(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None:
            await self._send(update.effective_chat.id, "unknown command; /help lists them")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The top-level handler: the details stay in this log, the chat hears only that it failed.
        logger.error("telegram: handling an update failed", exc_info=context.error)
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None and chat.id in self._allowed:
            await self._send(chat.id, "internal error; see the bot's log")

    # --- the commands -------------------------------------------------------------------------

    def _commands(self) -> list[Command]:
        return [
            Command("status", "/status", "state, open positions, orders, approvals", self._status),
            Command("profit", "/profit", "P&L of closed trades and of the account", self._profit),
            Command("balance", "/balance", "cash, positions and equity", self._balance),
            Command("daily", "/daily [N]", "closed-trade P&L per day (7 days)", self._daily),
            Command("performance", "/performance", "closed-trade P&L per symbol", self._perf),
            Command("trades", "/trades [N]", "the last closed trades (10)", self._trades),
            Command("why", "/why ORDER", "the reasoning behind an order (audit)", self._why),
            Command("regime", "/regime", "market regime of each symbol", self._regime),
            Command("approve", "/approve ID [CODE]", "approve a request (one-time code)", self._ok),
            Command("reject", "/reject ID [REASON]", "reject a request", self._reject),
            Command("kill", "/kill [REASON]", "kill switch: halt, cancel (flatten)", self._kill),
            Command("stop", "/stop [REASON]", "no new orders until /start", self._stop),
            Command("pause", "/pause MIN [REASON]", "no new orders for MIN minutes", self._pause),
            Command(
                "start",
                "/start REASON",
                "resume trading (an approver; not after /kill)",
                self._start,
            ),
            Command(
                "reload_config", "/reload_config", "re-read config (tighten-only)", self._reload
            ),
            Command("help", "/help", "this list", self._help),
        ]

    async def _status(self, _request: Request) -> str:
        return await replies.status(self._app)

    async def _profit(self, _request: Request) -> str:
        return await replies.profit(self._app)

    async def _balance(self, _request: Request) -> str:
        return await replies.balance(self._app)

    async def _daily(self, request: Request) -> str:
        days = _count(request.args, DEFAULT_DAYS, MAX_DAYS)
        if days is None:
            return f"usage: /daily [N] (1 to {MAX_DAYS} days)"
        return await replies.daily(self._app, days)

    async def _perf(self, _request: Request) -> str:
        return await replies.performance(self._app)

    async def _trades(self, request: Request) -> str:
        limit = _count(request.args, DEFAULT_TRADES, MAX_TRADES)
        if limit is None:
            return f"usage: /trades [N] (1 to {MAX_TRADES})"
        return await replies.trades(self._app, limit)

    async def _why(self, request: Request) -> str:
        if len(request.args) != 1:
            return "usage: /why ORDER (an order id or client order id)"
        return await replies.why(self._app, request.args[0])

    async def _regime(self, _request: Request) -> str:
        return await replies.regime(self._app)

    async def _ok(self, request: Request) -> str:
        if request.user_id not in self._approvers:
            return "refused: you are not an approver (telegram.approver_ids)"
        if len(request.args) not in (1, 2):
            return "usage: /approve ID, then /approve ID CODE with the code sent to you"
        approval_id = request.args[0]
        if len(request.args) == 2:
            return await actions.approve_with_code(
                self._app, self._codes, request.user_id, approval_id, request.args[1]
            )
        sent = await actions.ask_for_code(self._app, self._codes, request.user_id, approval_id)
        # The code goes to the approver's private chat (its id is the user's), never to a group.
        try:
            await self.application.bot.send_message(chat_id=request.user_id, text=sent.code_text)
        except Forbidden:
            self._codes.discard(approval_id)
            return "cannot send you a code: open a private chat with this bot first, then ask again"
        return sent.ack

    async def _reject(self, request: Request) -> str:
        if not request.args:
            return "usage: /reject ID [REASON]"
        reason = " ".join(request.args[1:])
        return await actions.reject(
            self._app, actions.person(request.user_id), request.args[0], reason
        )

    async def _kill(self, request: Request) -> str:
        return await actions.kill(self._app, actions.person(request.user_id), request.text)

    async def _stop(self, request: Request) -> str:
        return await actions.stop(self._app, actions.person(request.user_id), request.text)

    async def _pause(self, request: Request) -> str:
        if not request.args or not request.args[0].isdigit():
            return "usage: /pause MINUTES [REASON]"
        reason = " ".join(request.args[1:])
        return await actions.pause(
            self._app, actions.person(request.user_id), int(request.args[0]), reason
        )

    async def _start(self, request: Request) -> str:
        if request.user_id not in self._approvers:
            return "refused: resuming takes an approver (telegram.approver_ids)"
        if not request.text:
            # A Telegram client sends a bare /start when a chat with the bot is first opened:
            # that must never resume trading. A reason is what `state resume --reason` needs too.
            return (
                f"state: {replies.state_line(self._app.state.record)}\n"
                "to resume trading send /start REASON (what was reviewed)"
            )
        return await actions.start(self._app, actions.person(request.user_id), request.text)

    async def _reload(self, request: Request) -> str:
        return await actions.reload_config(
            self._app, actions.person(request.user_id), self._reload_settings()
        )

    async def _help(self, _request: Request) -> str:
        lines = [f"{c.usage} - {c.help}" for c in self.commands]
        lines.append("approving: /approve ID sends you a one-time code; /approve ID CODE approves")
        return "\n".join(lines)


def _count(args: Sequence[str], default: int, most: int) -> int | None:
    if not args:
        return default
    if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= most:
        return None
    return int(args[0])


async def run_bot(app: TradingApp, stop: asyncio.Event) -> None:
    """Serve the operators' bot on ``app`` until ``stop`` is set."""
    await OperatorBot(app).run(stop)
