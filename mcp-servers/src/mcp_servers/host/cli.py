"""`trading-core assistant`: ask a model about the account, with the suite's tools.

Registered on the ``trading-core`` command through the ``trading_core.commands`` entry point
(trading-core never imports the servers). One question as an argument prints one answer; with
none, questions are read line by line from stdin until ``exit`` or end of input, in one
conversation. Tool calls are shown on stderr as they happen; answers go to stdout.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from fastmcp import Client
from fastmcp.client.auth import BearerAuth
from fastmcp.client.transports import StreamableHttpTransport

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import ConfigurationError, TradingError
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import Settings, load_settings, refuse_live_mode
from trading_core.storage.factory import open_store

from .chat import ChatClient
from .loop import Answer, Assistant, Conversation

app = typer.Typer(add_completion=False, rich_markup_mode=None)
EXIT_ERROR = 2
QUIT_WORDS = frozenset({"exit", "quit", ":q"})


@app.command(
    short_help="Ask a model about the account; it acts only through the suite's tools.",
)
def assistant(
    question: Annotated[
        str | None,
        typer.Argument(
            metavar="QUESTION", help="One question; without it, read questions from stdin."
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="OpenAI-compatible endpoint (default from settings)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="NAME", help="Model name to ask for.")
    ] = None,
    mcp_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="A suite over streamable HTTP (default: in-process)."),
    ] = None,
    max_turns: Annotated[
        int | None, typer.Option(metavar="N", help="Model turns per question (1-50).")
    ] = None,
    db_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Data directory of the embedded database.")
    ] = None,
) -> None:
    """Ask a model (any OpenAI-compatible chat endpoint) about the account.

    The model sees the suite's tools as an assistant: every guardrail applies, orders above the
    approval threshold wait for a person (`trading-core approvals approve ID`), and it can never
    approve anything. Each model turn is written to the audit (`trading-core decisions`).
    """
    section: dict[str, Any] = {}
    for key, value in (
        ("base_url", base_url),
        ("model", model),
        ("mcp_url", mcp_url),
        ("max_turns", max_turns),
    ):
        if value is not None:
            section[key] = value
    try:
        # Flags override the [assistant] settings key by key (pydantic-settings merges them).
        settings = load_settings(db_url=db_url, data_dir=data_dir, assistant=section or None)
        refuse_live_mode(settings)
        asyncio.run(_session(settings, question))
    except TradingError as exc:
        typer.secho(f"error [{exc.code}]: {exc.cli_message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_ERROR) from None


async def _session(settings: Settings, question: str | None) -> None:
    config = settings.assistant
    async with AsyncExitStack() as stack:
        chat = ChatClient(
            config.base_url,
            model=config.model,
            api_key=config.api_key.get_secret_value() if config.api_key else None,
            timeout=config.timeout_seconds,
            temperature=config.temperature,
        )
        stack.push_async_callback(chat.close)
        store = await open_store(settings.database_url)
        stack.push_async_callback(store.close)
        await store.upgrade()
        suite = await stack.enter_async_context(open_suite(settings))
        host = Assistant(
            chat=chat,
            suite=suite,
            store=store,
            clock=SystemClock(),
            principal=config.principal,
            model=config.model,
            max_turns=config.max_turns,
            on_call=_show_call,
        )
        conversation = Conversation()
        if question is not None:
            _show(await host.ask(question, conversation))
            return
        while (line := await _read_question()) is not None:
            asked = line.strip()
            if asked.lower() in QUIT_WORDS:
                return
            if asked:
                _show(await host.ask(asked, conversation))


@asynccontextmanager
async def open_suite(settings: Settings) -> AsyncIterator[Client[Any]]:
    """The suite the model acts through: over HTTP with a token, or in this process."""
    config = settings.assistant
    if config.mcp_url is not None:
        if config.mcp_token is None or not config.mcp_token.get_secret_value().strip():
            raise ConfigurationError(
                "the assistant's suite over HTTP needs its bearer token: set "
                "TRADING_ASSISTANT__MCP_TOKEN to one of the suite's TRADING_MCP__TOKENS__..."
            )
        transport = StreamableHttpTransport(
            config.mcp_url, auth=BearerAuth(config.mcp_token.get_secret_value())
        )
        async with Client(transport) as client:
            yield client
        return
    principal = Principal(name=config.principal, kind=PrincipalKind.ASSISTANT)
    async with Client(build_suite(Runtime(settings, principal=principal))) as client:
        yield client


async def _read_question() -> str | None:
    if sys.stdin.isatty():
        typer.echo("you> ", nl=False, err=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line or None


def _show_call(name: str, arguments: dict[str, Any]) -> None:
    shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    typer.echo(f"  -> {name}({shown})", err=True)


def _show(answer: Answer) -> None:
    if answer.stopped:
        typer.secho(answer.text, fg=typer.colors.YELLOW, err=True)
        return
    typer.echo(answer.text)
