"""`trading-core telegram`: the operators' bot, long polling until Ctrl-C or SIGTERM.

It refuses at start, in one line and before opening anything, when no bot token or no allowed
chat is configured: a bot that started and then answered nobody would look healthy.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from trading_core.domain.errors import TradingError
from trading_core.settings import Settings, load_settings

DbUrl = Annotated[
    str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
]
DataDir = Annotated[
    Path | None, typer.Option(metavar="DIR", help="Data directory of the embedded database.")
]


def telegram(db_url: DbUrl = None, data_dir: DataDir = None) -> None:
    """Run the operators' Telegram bot (long polling) on this machine's account.

    Needs TRADING_TELEGRAM__BOT_TOKEN and TRADING_TELEGRAM__ALLOWED_CHAT_IDS; approvers are
    TRADING_TELEGRAM__APPROVER_IDS. Chats not allowed get no answer and are logged.
    """
    overrides: dict[str, object] = {"db_url": db_url}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        settings = load_settings(**overrides)
        # Checked before python-telegram-bot is even imported, and before the database opens.
        from trading_core.adapters.telegram.bot import check_configured

        check_configured(settings.telegram)
        _quiet_http_logs()
        asyncio.run(_serve(settings, lambda: load_settings(**overrides)))
    except TradingError as exc:
        typer.secho(f"error [{exc.code}]: {exc.cli_message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _quiet_http_logs() -> None:
    # Warnings and up (an unknown chat, a failed send); the bot's own notes at INFO. Never
    # httpx's request lines below WARNING: a Bot API URL holds the bot's token.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("trading_core.adapters.telegram").setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


async def _serve(settings: Settings, reload_settings: Callable[[], Settings]) -> None:
    from trading_core.adapters.telegram.bot import OperatorBot
    from trading_core.services.container import open_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = await open_app(settings, channel="telegram")
    try:
        bot = OperatorBot(app, reload_settings=reload_settings)
        await bot.start()
        typer.echo("telegram bot polling; Ctrl-C stops it", err=True)
        try:
            await stop.wait()
        finally:
            await bot.stop()
    finally:
        await app.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
