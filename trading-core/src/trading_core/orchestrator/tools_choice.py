"""Which tools a run places its orders through: its own services, or an MCP suite over HTTP.

The MCP transport lives in the mcp-servers distribution, which trading-core never imports: it
registers a builder under the ``trading_core.tools`` entry-point group (name ``mcp``), loaded
only when a run asks for it. Everything a person can get wrong is refused here, before the run
opens anything, in one line each.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from trading_core.domain.errors import ConfigurationError
from trading_core.settings import Settings, SourceKind

if TYPE_CHECKING:
    from trading_core.orchestrator.runner import ToolsFactory

TOOLS_ENTRY_POINT_GROUP = "trading_core.tools"
MCP_TOOLS = "mcp"
REALTIME_SOURCES = frozenset({SourceKind.KRAKEN, SourceKind.IB})

ToolsBuilder = Callable[[Settings], "ToolsFactory"]
"""What the entry point names: settings in, the run's tools factory out (it may refuse)."""


def choose_tools(settings: Settings, *, live: bool) -> ToolsFactory | None:
    """The configured tools factory, or ``None`` for the in-process tools.

    Raises :class:`ConfigurationError` when MCP tools are asked for where they cannot be right:
    without a URL, on a live run (the servers trade paper only), or on a replay (a replay
    trades a book of its own on market time, which a suite in another process cannot see).
    """
    config = settings.tools
    if config.kind == "in-process":
        if config.mcp_url is not None:
            raise ConfigurationError(
                "--mcp-url is where --tools mcp sends orders: add --tools mcp "
                "(TRADING_TOOLS__KIND=mcp), or drop the URL"
            )
        return None
    if config.mcp_url is None:
        raise ConfigurationError(
            "--tools mcp needs the suite's address: --mcp-url http://127.0.0.1:8765/mcp "
            "(TRADING_TOOLS__MCP_URL), served by `mcp-suite --transport http`"
        )
    if live:
        raise ConfigurationError(
            "--tools mcp with --live: the MCP servers trade paper only, so a live run places "
            "its orders itself (drop --tools mcp)"
        )
    if settings.source not in REALTIME_SOURCES:
        raise ConfigurationError(
            f"--tools mcp needs a live paper feed (--source kraken), not {settings.source}: a "
            "replay trades a book of its own on market time that a suite in another process "
            "cannot see (replays use the in-process tools, which decide the same)"
        )
    return _builder()(settings)


def _builder() -> ToolsBuilder:
    for entry in entry_points(group=TOOLS_ENTRY_POINT_GROUP, name=MCP_TOOLS):
        built: ToolsBuilder = entry.load()
        return built
    raise ConfigurationError(
        "--tools mcp needs the mcp-servers package installed beside trading-core "
        "(uv sync in the repository, or pip install ./mcp-servers)"
    )
