"""Typed, frozen settings read once: settings.toml, then TRADING_* environment variables.

Precedence (highest first): explicit overrides (command-line flags), environment variables
(``TRADING_`` prefix, ``__`` for nesting), ``settings.toml`` in the config directory, defaults.
Unknown keys are rejected. Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from decimal import Decimal
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from trading_core.domain.errors import ConfigurationError
from trading_core.risk import limits as hard_limits

CONFIG_DIR_ENV = "TRADING_CONFIG_DIR"
PACKAGED_CONFIG_DIR = Path(str(files("trading_core") / "defaults"))
"""settings.toml, symbols.toml and risk_limits.toml as shipped: what runs with nothing set."""
APP_NAME = "trading-core"


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/trading-core`` on Linux).

    One place whatever directory a process starts in, so ``trading-core run`` and an MCP server
    that Claude Desktop launches from ``/`` share one database.
    """
    return Path(user_data_dir(APP_NAME, appauthor=False))


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class SourceKind(StrEnum):
    SYNTHETIC = "synthetic"
    REPLAY = "replay"
    KRAKEN = "kraken"
    IB = "ib"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaperSettings(_Section):
    spread_bps: Decimal = Decimal("5")
    slippage_bps: Decimal = Decimal("2")
    commission_bps: Decimal = Decimal("10")
    max_participation: Decimal = Decimal("0.25")


class AgentSettings(_Section):
    """The agent the orchestrator runs: one by ``name``, or a committee of several."""

    name: str = "ma_cross"
    order_fraction: Decimal = Field(default=Decimal("0.02"), gt=0, le=Decimal("0.05"))
    parameters: dict[str, int | float | str] = Field(default_factory=dict)
    committee: list[str] = Field(default_factory=list)
    """Agents combined by regime (e.g. trend_hunter, mean_reversion); empty: ``name`` alone."""
    weights: dict[str, float] = Field(default_factory=dict)
    """Committee weight per agent (default 1)."""
    member_parameters: dict[str, dict[str, int | float | str]] = Field(default_factory=dict)
    """Constructor parameters per committee member."""
    entry_threshold: float = Field(default=0.5, gt=0, le=1)
    exit_threshold: float = Field(default=-0.5, ge=-1, lt=0)


class ModelSettings(_Section):
    """The signal model the orchestrator feeds to ``ml_confidence`` and quarter-Kelly sizing."""

    path: Path | None = None
    """A model card (``*.card.json``) or the model file beside it; None: no model, every agent
    keeps to its rules."""
    max_ece: float = Field(default=hard_limits.MAX_MODEL_ECE, gt=0)
    """Out-of-sample expected calibration error above which the model never informs a decision
    or a size (seed 004). Capped in code (``risk.limits``): configuration may only lower it."""

    @field_validator("max_ece")
    @classmethod
    def _within_hard_cap(cls, value: float) -> float:
        if value > hard_limits.MAX_MODEL_ECE:
            raise ValueError(
                f"{value} is above its hard cap {hard_limits.MAX_MODEL_ECE}: a looser gate would "
                "let a worse-calibrated model size positions (configuration may only lower it)"
            )
        return value


class SyntheticSettings(_Section):
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USD", "ETH/USD"])
    timeframe: str = "5m"
    bars: int = Field(default=2000, gt=0)


class ApprovalSettings(_Section):
    """When a person must approve, and for how long a request waits."""

    ttl_seconds: int = Field(default=900, gt=0, le=86_400)
    assistant_paper_notional: Decimal = Field(
        default=hard_limits.MAX_ASSISTANT_PAPER_NOTIONAL, ge=0
    )
    """An assistant's paper order above this notional (account currency) waits for a person.
    Capped in code (``risk.limits``): configuration may only lower it."""
    autonomous_budget_notional: Decimal = Field(
        default=hard_limits.MAX_AUTONOMOUS_BUDGET_NOTIONAL, ge=0
    )
    """trading-core's own orders above this notional wait for a person (capped likewise)."""
    elicitation_timeout_seconds: float = Field(default=120.0, gt=0, le=600)
    """How long approve_order waits for the person's answer in the client (no answer = no)."""
    in_band: bool = True
    """Accept a yes given in the MCP client's form. The server cannot tell a person's click from
    a client that answers forms by itself; set false to accept approvals only out of band
    (``trading-core approvals approve``), e.g. for HTTP clients you do not control."""

    @field_validator("assistant_paper_notional", "autonomous_budget_notional")
    @classmethod
    def _within_hard_cap(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        cap = {
            "assistant_paper_notional": hard_limits.MAX_ASSISTANT_PAPER_NOTIONAL,
            "autonomous_budget_notional": hard_limits.MAX_AUTONOMOUS_BUDGET_NOTIONAL,
        }[str(info.field_name)]
        if value > cap:
            raise ValueError(
                f"{value} is above its hard cap {cap}: a higher threshold would take the person "
                "out of more orders (configuration may only lower it)"
            )
        return value


class McpSettings(_Section):
    """The MCP servers: transport defaults, HTTP tokens and limits, the market feed they show."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tokens: dict[str, SecretStr] = Field(default_factory=dict)
    """Principal name -> bearer token for HTTP (``trading-core`` is the autonomous principal)."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Origins allowed besides the server's own host (browser-based clients)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Host header names accepted besides loopback (``127.0.0.1``, ``localhost``, ``::1``), the
    port ignored: a suite bound to ``0.0.0.0`` and reached by another container as
    ``http://mcp-suite:8765/mcp`` needs ``["mcp-suite"]``. Anything else is refused (421)."""
    requests_per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=40, gt=0)
    feed_timeframe: str = "1m"
    history_bars: int = Field(default=4320, gt=0, le=50_000)
    replay_seconds_per_bar: float = Field(default=1.0, gt=0)


class KillSwitchSettings(_Section):
    """What the kill switch does besides cancelling every open order and blocking new ones."""

    flatten: Literal["never", "all"] = "never"
    """``all``: close every position with a marketable IOC order that still passes every
    pre-trade control (a refused one leaves the position open and raises an alert)."""


class KrakenSettings(_Section):
    """Kraken's REST API: market data, and trading when live mode is switched on."""

    api_url: str | None = None
    """Base URL of the REST API (default Kraken's own); a local server speaking Kraken's wire
    format, for tests and rehearsals."""
    api_key: SecretStr | None = None
    """Trading key (``TRADING_KRAKEN__API_KEY``); needed only by a live run."""
    api_secret: SecretStr | None = None
    """Its base64 private key (``TRADING_KRAKEN__API_SECRET``)."""
    rate_limit_ms: int | None = Field(default=None, ge=0, le=60_000)
    """Spacing of calls (default ccxt's for Kraken); lowered only for a local server."""
    poll_seconds: float = Field(default=2.0, gt=0, le=60)
    """Working orders are polled at most this often (ccxt's limiter spaces every call too)."""
    dead_man_seconds: int = Field(default=60, ge=15, le=600)
    """Kraken cancels every open order if a live run stops refreshing within this long
    (CancelAllOrdersAfter); refreshed at every bar and at least every third of it."""


class IbSettings(_Section):
    """Interactive Brokers through IB Gateway or TWS, which holds the login (never this system).

    Ports by IB's convention: IB Gateway 4002 (paper account) and 4001 (live), TWS 7497 / 7496.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=4002, ge=1, le=65_535)
    client_id: int = Field(default=0, ge=0, le=999)
    """API client id; 0 (the default) also sees, and can cancel, orders a person placed in
    TWS, which reconciliation's ``unknown_orders = "cancel"`` needs."""
    account: str | None = None
    """The account to trade (``DU...`` for a paper account); required by a live run, so a
    gateway logged in to several accounts never trades the wrong one."""
    connect_attempts: int = Field(default=5, ge=1, le=20)
    """Connection attempts (with doubling waits) at start and after a drop."""


class ReconciliationSettings(_Section):
    """How a live run checks the venue against its own books (at start, periodically, daily).

    The tolerances are capped in code: configuration can tighten them, never widen them past
    what a person would still call "the same books".
    """

    interval_minutes: int = Field(default=5, gt=0, le=60)
    unknown_orders: Literal["cancel", "adopt"] = "cancel"
    """An open order at the venue that this system never sent: cancel it, or adopt it into
    the book (counted by every control from then on)."""
    quantity_tolerance_pct: Decimal = Field(default=Decimal("0.01"), ge=0, le=Decimal("0.5"))
    """Largest difference between a venue balance and the book's position, in % of the larger
    (at least one lot of the instrument)."""
    cash_tolerance_pct: Decimal = Field(default=Decimal("0.05"), ge=0, le=Decimal("0.5"))
    """Largest difference between the venue's cash and the ledger's, in % (at least one cent)."""
    failures_before_reducing: int = Field(default=3, ge=1, le=10)
    """Periodic checks that could not reach the venue in a row before trading is REDUCING."""


class RunToolsSettings(_Section):
    """What a run places its orders through: its own services, or an MCP suite over HTTP."""

    kind: Literal["in-process", "mcp"] = "in-process"
    """``mcp``: every order, cancel and open-order listing is a tool call to ``mcp_url`` as
    ``trading-core`` (its bearer token is ``mcp.tokens``' ``trading-core`` entry,
    ``TRADING_MCP__TOKENS__TRADING_CORE``)."""
    mcp_url: str | None = None
    """The suite's streamable-HTTP endpoint, e.g. ``http://127.0.0.1:8765/mcp``."""
    call_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """A tool call that takes longer counts as the suite being down."""
    reconnect_max_seconds: float = Field(default=30.0, ge=0.1, le=600)
    """Reconnection attempts back off from 0.5 s, doubling, up to this."""


class AssistantSettings(_Section):
    """The LLM-agent host (``trading-core assistant``): which chat endpoint, which suite.

    Any OpenAI-compatible ``/chat/completions`` endpoint works: a local llama.cpp server
    (``llama-server --port 8080`` serves ``http://127.0.0.1:8080/v1``), vLLM, or a hosted API.
    The model only ever gets the suite's tools as an assistant principal: every guardrail and
    approval applies to it as to any MCP client, and it can never approve anything itself.
    """

    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "local"
    api_key: SecretStr | None = None
    """Sent as a bearer token to the chat endpoint (a local server usually needs none)."""
    max_turns: int = Field(default=8, ge=1, le=50)
    """Model calls per question, tool rounds included, before the host stops and says so."""
    timeout_seconds: float = Field(default=120.0, gt=0, le=600)
    """Longest wait for one chat completion."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    mcp_url: str | None = None
    """A suite served over streamable HTTP (``mcp-suite --transport http``); unset: the suite
    runs inside the host process on this machine's database, like a stdio server."""
    mcp_token: SecretStr | None = None
    """The bearer token for ``mcp_url`` (one of the suite's ``mcp.tokens``, naming the host)."""
    principal: str = Field(default="assistant:host", pattern=r"^assistant:[A-Za-z0-9_.-]{1,48}$")
    """Who the host is in the audit trail when the suite runs in-process."""


class FirmSettings(_Section):
    """One risk view across the firm's accounts (the other venue's run publishes its book).

    ``accounts`` names the *other* accounts whose books count against this run's caps, as
    their runs trade them: ``kraken`` or ``ib``. Empty: this account is the whole firm. The
    ages are capped in code (``risk.limits``): configuration may only shorten them.
    """

    accounts: list[Literal["ib", "kraken"]] = Field(default_factory=list)
    base_currency: str = Field(default="USD", min_length=3, max_length=5)
    max_account_age_seconds: int = Field(
        default=60, gt=0, le=hard_limits.FIRM_MAX_ACCOUNT_AGE_SECONDS
    )
    max_mark_age_seconds: int = Field(default=300, gt=0, le=hard_limits.FIRM_MAX_MARK_AGE_SECONDS)
    max_fx_age_seconds: int = Field(default=60, gt=0, le=hard_limits.FX_MAX_RATE_AGE_SECONDS)
    publish_seconds: float = Field(default=10.0, gt=0, le=30)
    """How often a live run publishes its own book for the others (and after every fill)."""

    @model_validator(mode="after")
    def _published_before_stale(self) -> FirmSettings:
        if self.publish_seconds * 2 > self.max_account_age_seconds:
            raise ValueError(
                f"publish_seconds ({self.publish_seconds}) must be at most half of "
                f"max_account_age_seconds ({self.max_account_age_seconds}), or a healthy "
                "account's snapshot would look stale between two publications"
            )
        return self


class TelegramSettings(_Section):
    """The operators' Telegram bot (``trading-core telegram``): who may talk to it, what it pushes.

    Create the bot with BotFather; its token is ``TRADING_TELEGRAM__BOT_TOKEN``. Only the chats
    in ``allowed_chat_ids`` get an answer (others get nothing and are logged); only the users in
    ``approver_ids`` may approve, and each approval takes a one-time code the bot sends them.
    """

    bot_token: SecretStr | None = None
    """The token BotFather gave (``123456:ABC-...``)."""
    allowed_chat_ids: list[int] = Field(default_factory=list)
    """Chats the bot answers and pushes alerts to (a private chat's id is its user's id)."""
    approver_ids: list[int] = Field(default_factory=list)
    """Telegram user ids allowed to approve and to resume; they get the one-time codes."""
    base_url: str | None = None
    """Bot API base URL, token appended (default Telegram's ``https://api.telegram.org/bot``);
    a local Bot API server, or a test fake."""
    poll_timeout_seconds: int = Field(default=30, ge=0, le=50)
    """getUpdates long-polling timeout: how long one request waits for an update."""
    code_ttl_seconds: int = Field(default=300, ge=30, le=900)
    """How long a one-time approval code is good for (never past the approval's own expiry)."""
    code_attempts: int = Field(default=3, ge=1, le=5)
    """Wrong codes before the code is burnt (a new /approve ID sends a new one)."""
    alert_fill_notional: Decimal | None = Field(default=Decimal(10_000), ge=0)
    """A fill of at least this notional (account currency) is pushed; None pushes no fill."""
    alert_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    """How often audit.system_events and the fills are read for alerts (the store is the truth:
    alerts from every process on the database arrive, whatever the bus)."""
    alerts_per_minute: float = Field(default=6.0, gt=0, le=60)
    """Alerts each chat gets per minute at most once its burst is spent (token bucket); the
    rest are counted and summarised in one line."""
    alert_burst: int = Field(default=3, ge=1, le=20)


class InfluxSettings(_Section):
    """InfluxDB 2 time series of a run: bars, equity, fills and decisions (off unless ``url``).

    Points are batched and sent in the background; a slow or dead InfluxDB never blocks trading:
    beyond ``buffer_points`` waiting, the oldest are dropped and counted
    (``influx_points_dropped_total``).
    """

    url: str | None = None
    """The server, e.g. ``http://influxdb:8086`` (``TRADING_INFLUX__URL``); unset: no writes."""
    org: str = "trading"
    bucket: str = "trading"
    token: SecretStr | None = None
    """An API token allowed to write to the bucket (``TRADING_INFLUX__TOKEN``)."""
    batch_size: int = Field(default=5000, gt=0, le=50_000)
    """Points per write request (InfluxData's advice for line protocol batches: 5,000 lines)."""
    flush_seconds: float = Field(default=5.0, gt=0, le=300)
    """A batch smaller than ``batch_size`` is sent at the latest this long after its first point."""
    buffer_points: int = Field(default=100_000, gt=0, le=10_000_000)
    """Points held while InfluxDB is slow or down; past that the oldest are dropped."""

    @model_validator(mode="after")
    def _buffer_holds_a_batch(self) -> InfluxSettings:
        if self.buffer_points < self.batch_size:
            raise ValueError(
                f"buffer_points ({self.buffer_points}) must hold at least one batch "
                f"(batch_size {self.batch_size})"
            )
        return self


class SentimentSettings(_Section):
    """Headline sentiment for the ``sentiment`` indicator (``sentiment_scout`` trades on it).

    Off unless ``headlines`` names a file. Each headline is scored once, by the model at
    ``model_path`` when one is set, else by a small finance lexicon; a bar sees the mean score
    of its symbol's headlines published in the ``window_hours`` before its close.
    """

    headlines: Path | None = None
    """A CSV, JSON Lines or RSS 2.0 file of headlines (``trading_core.sentiment.headlines``)."""
    model_path: Path | None = None
    """A local directory holding a FinBERT-style sequence classifier (``save_pretrained``'s
    files, e.g. a download of ProsusAI/finbert); unset: the lexicon scores every headline."""
    batch_size: int = Field(default=32, ge=1, le=1024)
    """Headlines per model call."""
    time_budget_seconds: float = Field(default=120.0, gt=0, le=3600)
    """Scoring time allowed to the model; the headlines left then are scored by the lexicon."""
    window_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    """How long a headline counts after it is published."""


class Settings(BaseSettings):
    """Everything `trading-core` reads from configuration."""

    model_config = SettingsConfigDict(
        env_prefix="TRADING_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    config_dir: Path = PACKAGED_CONFIG_DIR
    data_dir: Path = Field(default_factory=default_data_dir)
    db_url: str | None = None
    redis_url: str | None = None
    mode: Mode = Mode.PAPER
    seed: int = 42
    source: SourceKind = SourceKind.SYNTHETIC
    data: list[Path] = Field(default_factory=list)
    symbols: list[str] = Field(default_factory=list)
    max_bars: int | None = Field(default=None, gt=0)
    speed: float | None = Field(default=None, gt=0)
    """Replay pacing: 1 plays bars at wall-clock speed, 60 sixty times faster; None: no waiting."""
    on_stop: Literal["cancel", "keep"] = "cancel"
    """Open orders when a run is stopped early (Ctrl-C, SIGTERM): cancel them, or leave them."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    """Where ``/metrics`` listens: this machine only by default; ``0.0.0.0`` in a container,
    so that Prometheus in another one can scrape it."""
    initial_cash: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal(100_000), "BTC": Decimal(10)}
    )
    paper: PaperSettings = Field(default_factory=PaperSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    synthetic: SyntheticSettings = Field(default_factory=SyntheticSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    kill_switch: KillSwitchSettings = Field(default_factory=KillSwitchSettings)
    kraken: KrakenSettings = Field(default_factory=KrakenSettings)
    ib: IbSettings = Field(default_factory=IbSettings)
    reconciliation: ReconciliationSettings = Field(default_factory=ReconciliationSettings)
    firm: FirmSettings = Field(default_factory=FirmSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    tools: RunToolsSettings = Field(default_factory=RunToolsSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = config_file(_CHOSEN_CONFIG_DIR.get() or _config_dir(), "settings.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @property
    def database_url(self) -> str:
        """The configured database, or the embedded SQLite file under ``data_dir``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.data_dir / 'trading.db'}"

    @property
    def symbols_file(self) -> Path:
        """The instrument allow-list: the config directory's, else the packaged one."""
        return config_file(self.config_dir, "symbols.toml")

    @property
    def risk_limits_file(self) -> Path:
        """Tighten-only risk limits: the config directory's, else the packaged one."""
        return config_file(self.config_dir, "risk_limits.toml")


LIVE_ONLY_IN_RUN = (
    "live trading runs only as `trading-core run --live`; the MCP servers, backtests and other "
    "commands trade paper (set TRADING_MODE=paper)"
)
LIVE_FLAG_ONLY = (
    "--live was given but TRADING_MODE is paper: live trading takes both switches "
    "(TRADING_MODE=live and --live)"
)
LIVE_SETTING_ONLY = (
    "TRADING_MODE=live is set but --live was not given: live trading takes both switches "
    "(TRADING_MODE=live and --live)"
)


def refuse_live_mode(settings: Settings) -> None:
    """Fail closed at start of anything but a live run: it must not trade live by accident."""
    if settings.mode is Mode.LIVE:
        raise ConfigurationError(LIVE_ONLY_IN_RUN)


def live_switches(settings: Settings, *, live_flag: bool) -> bool:
    """Whether this run trades live: both switches, or neither (paper); one alone is refused.

    The first switch is configuration (``TRADING_MODE=live``), the second a flag a person types
    at start (``--live``), so neither a stray environment variable nor a copied command line
    sends real orders alone. With both, a live run also needs live prices and Kraken keys.
    """
    live_setting = settings.mode is Mode.LIVE
    if live_flag and not live_setting:
        raise ConfigurationError(LIVE_FLAG_ONLY)
    if live_setting and not live_flag:
        raise ConfigurationError(LIVE_SETTING_ONLY)
    if not live_setting:
        return False
    if settings.source is SourceKind.IB:
        if not (settings.ib.account or "").strip():
            raise ConfigurationError(
                "live trading on IB needs TRADING_IB__ACCOUNT (the account id the gateway "
                "trades, DU... for a paper account)"
            )
        return True
    if settings.source is not SourceKind.KRAKEN:
        raise ConfigurationError(
            f"live trading needs live prices: --source kraken or --source ib "
            f"(not {settings.source})"
        )
    kraken = settings.kraken
    if not _secret(kraken.api_key) or not _secret(kraken.api_secret):
        raise ConfigurationError(
            "live trading on Kraken needs TRADING_KRAKEN__API_KEY and TRADING_KRAKEN__API_SECRET"
        )
    return True


def _secret(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())


def config_file(config_dir: Path, name: str) -> Path:
    """``config_dir/name`` when it exists, else the packaged default of that file."""
    chosen = config_dir / name
    return chosen if chosen.is_file() else PACKAGED_CONFIG_DIR / name


# The directory load_settings() was asked to read; sources are built per class, so it travels
# to settings_customise_sources through a context variable rather than a global.
_CHOSEN_CONFIG_DIR: ContextVar[Path | None] = ContextVar("_CHOSEN_CONFIG_DIR", default=None)


def _config_dir() -> Path:
    named = os.environ.get(CONFIG_DIR_ENV)
    return Path(named) if named else PACKAGED_CONFIG_DIR


def load_settings(**overrides: Any) -> Settings:
    """Read settings once; overrides (flags) win; bad values raise ConfigurationError."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    clean.setdefault("config_dir", _config_dir())
    if not Path(clean["config_dir"]).is_dir():
        raise ConfigurationError(
            f"config directory {clean['config_dir']} does not exist (set {CONFIG_DIR_ENV} to a "
            "directory, or unset it for the packaged defaults)"
        )
    token = _CHOSEN_CONFIG_DIR.set(Path(clean["config_dir"]))
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from exc
    except SettingsError as exc:
        # A complex value that is not JSON (TRADING_MCP__TOKENS=x); the value is not echoed.
        raise ConfigurationError(f"invalid configuration: {exc}") from exc
    finally:
        _CHOSEN_CONFIG_DIR.reset(token)
