"""Which tools a run places orders through, and every way to ask for MCP tools wrongly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.orchestrator.tools_choice import choose_tools
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings

URL = "http://127.0.0.1:8765/mcp"


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path, **overrides)


def test_by_default_the_run_uses_its_own_services(tmp_path: Path) -> None:
    assert choose_tools(settings(tmp_path), live=False) is None


@pytest.mark.parametrize(
    ("overrides", "live", "says"),
    [
        ({"tools": {"mcp_url": URL}}, False, "add --tools mcp"),
        ({"tools": {"kind": "mcp"}, "source": "kraken"}, False, "needs the suite's address"),
        ({"tools": {"kind": "mcp", "mcp_url": URL}}, False, "not synthetic"),
        ({"tools": {"kind": "mcp", "mcp_url": URL}, "source": "replay"}, False, "not replay"),
        ({"tools": {"kind": "mcp", "mcp_url": URL}, "source": "kraken"}, True, "paper only"),
        (
            {"tools": {"kind": "mcp", "mcp_url": URL}, "source": "kraken"},
            False,
            "TRADING_MCP__TOKENS__TRADING_CORE",
        ),
    ],
)
def test_mcp_tools_asked_for_wrongly_are_refused_in_one_line(
    tmp_path: Path, overrides: dict[str, Any], live: bool, says: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        choose_tools(settings(tmp_path, **overrides), live=live)
    assert says in refused.value.message
    assert "\n" not in refused.value.message


def test_mcp_tools_on_a_live_paper_feed_with_a_token_are_built(tmp_path: Path) -> None:
    chosen = settings(
        tmp_path,
        source="kraken",
        tools={"kind": "mcp", "mcp_url": URL},
        mcp={"tokens": {"trading_core": "secret"}},
    )
    factory = choose_tools(chosen, live=False)
    assert callable(factory)
