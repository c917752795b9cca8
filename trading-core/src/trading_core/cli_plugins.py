"""Commands other distributions add to `trading-core`, found by entry point, loaded on use.

A distribution registers a ``typer.Typer`` under the ``trading_core.commands`` group (the MCP
servers add ``assistant``, the LLM-agent host). trading-core never imports them: the entry point
names them, and a command's module is imported only when that command runs, so `trading-core
run` pays nothing for the others.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import click
import typer

COMMAND_ENTRY_POINT_GROUP = "trading_core.commands"


def add_plugin_commands(app: typer.Typer) -> None:
    """Register every installed plugin command on ``app`` (lazily)."""
    for entry in entry_points(group=COMMAND_ENTRY_POINT_GROUP):
        _register(app, entry)


def _register(app: typer.Typer, entry: EntryPoint) -> None:
    @app.command(
        name=entry.name,
        short_help=f"(from {entry.dist.name if entry.dist else entry.module}; --help for more)",
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "help_option_names": [],
        },
        add_help_option=False,
    )
    def _run(ctx: typer.Context) -> None:
        loaded = entry.load()
        command = typer.main.get_command(loaded) if isinstance(loaded, typer.Typer) else loaded
        if not callable(getattr(command, "main", None)):
            raise click.ClickException(f"{entry.value} is not a command")
        command.main(args=list(ctx.args), prog_name=f"{ctx.find_root().info_name} {entry.name}")
