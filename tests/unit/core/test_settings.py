"""Typed settings: file, then environment, then flags; unknown keys and bad values refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.settings import SourceKind, load_settings


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "settings.toml").write_text(
        'seed = 7\ndata_dir = "from-file"\n[paper]\ncommission_bps = "3"\n', encoding="utf-8"
    )
    return tmp_path


def test_file_values_apply_when_nothing_overrides_them(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRADING_SEED", raising=False)
    settings = load_settings(config_dir=config_dir)
    assert settings.seed == 7
    assert settings.paper.commission_bps == Decimal(3)
    assert settings.database_url == "sqlite:///from-file/trading.db"


def test_environment_beats_the_file_and_flags_beat_the_environment(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADING_SEED", "11")
    monkeypatch.setenv("TRADING_PAPER__COMMISSION_BPS", "4")
    assert load_settings(config_dir=config_dir).seed == 11
    assert load_settings(config_dir=config_dir).paper.commission_bps == Decimal(4)
    assert load_settings(config_dir=config_dir, seed=12).seed == 12


def test_unknown_keys_are_refused_with_their_name(config_dir: Path) -> None:
    (config_dir / "settings.toml").write_text("bypass_risk = true\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="bypass_risk"):
        load_settings(config_dir=config_dir)


def test_bad_values_are_refused_clearly(config_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="source"):
        load_settings(config_dir=config_dir, source="telepathy")
    assert load_settings(config_dir=config_dir, source="replay").source is SourceKind.REPLAY


def test_secrets_are_never_printed(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADING_TELEGRAM__BOT_TOKEN", "123:very-secret")
    settings = load_settings(config_dir=config_dir)
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in settings.model_dump_json()
    assert settings.telegram.bot_token is not None
    assert settings.telegram.bot_token.get_secret_value() == "123:very-secret"


def test_a_complex_value_that_is_not_json_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    monkeypatch.setenv("TRADING_MCP__TOKENS", "not-json-secret")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(config_dir=config_dir)
    assert "not-json-secret" not in raised.value.message


def test_http_tokens_come_from_the_environment_keyed_by_principal(
    monkeypatch: pytest.MonkeyPatch, config_dir: Path
) -> None:
    monkeypatch.setenv("TRADING_MCP__TOKENS__ASSISTANT", "s3cret")
    settings = load_settings(config_dir=config_dir)
    assert settings.mcp.tokens["assistant"].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("key", "cap"),
    [("assistant_paper_notional", Decimal(1_000)), ("autonomous_budget_notional", Decimal(5_000))],
)
def test_approval_thresholds_can_be_lowered_but_not_raised_past_their_hard_cap(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, key: str, cap: Decimal
) -> None:
    env = f"TRADING_APPROVALS__{key.upper()}"
    monkeypatch.setenv(env, "0")
    assert getattr(load_settings(config_dir=config_dir).approvals, key) == 0
    monkeypatch.setenv(env, str(cap))
    assert getattr(load_settings(config_dir=config_dir).approvals, key) == cap
    for raised in (cap + Decimal("0.01"), Decimal(1_000_000)):
        monkeypatch.setenv(env, str(raised))
        with pytest.raises(ConfigurationError, match=f"{key}.*above its hard cap {cap}"):
            load_settings(config_dir=config_dir)
    monkeypatch.delenv(env)
    (config_dir / "settings.toml").write_text(f"[approvals]\n{key} = 1000000\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="hard cap"):
        load_settings(config_dir=config_dir)


@pytest.mark.parametrize(
    ("firm", "problem"),
    [
        ({"max_fx_age_seconds": "121"}, "max_fx_age_seconds"),
        ({"max_account_age_seconds": "121"}, "max_account_age_seconds"),
        ({"max_mark_age_seconds": "901"}, "max_mark_age_seconds"),
        ({"accounts": '["binance"]'}, "accounts"),
        ({"max_account_age_seconds": "30", "publish_seconds": "20"}, "at most half"),
    ],
)
def test_the_firm_views_ages_only_shorten_and_its_accounts_are_venues(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, firm: dict[str, str], problem: str
) -> None:
    for key, value in firm.items():
        monkeypatch.setenv(f"TRADING_FIRM__{key.upper()}", value)
    with pytest.raises(ConfigurationError, match=problem):
        load_settings(config_dir=config_dir)


def test_the_models_calibration_gate_can_be_tightened_but_not_loosened(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(config_dir=config_dir).model.max_ece == 0.05
    monkeypatch.setenv("TRADING_MODEL__MAX_ECE", "0.02")
    assert load_settings(config_dir=config_dir).model.max_ece == 0.02
    for loosened in ("0.0501", "0.2", "1"):
        monkeypatch.setenv("TRADING_MODEL__MAX_ECE", loosened)
        with pytest.raises(ConfigurationError, match=r"max_ece.*above its hard cap 0\.05"):
            load_settings(config_dir=config_dir)
