"""The six committee agents: declarations, warm-up, signals on known markets, and filters."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import EntryPoint

import pytest

from trading_agents.breakout_hunter import BreakoutHunter
from trading_agents.liquidity_surfer import LiquiditySurfer
from trading_agents.mean_reversion import MeanReversion
from trading_agents.registry import COMMITTEE, ENTRY_POINTS
from trading_agents.sentiment_scout import SentimentScout
from trading_agents.trend_hunter import TrendHunter
from trading_agents.volatility_filter import VolatilityFilter
from trading_core.domain.market import Bar
from trading_core.domain.signal import Signal
from trading_core.ports.agent import AGENT_ENTRY_POINT_GROUP, AgentContext, TradingAgent, load_agent

from .conftest import (
    Candle,
    candles_to_bars,
    closes_to_bars,
    context_of,
    random_walk,
)

ALL = {"trending_up", "trending_down", "ranging", "high_volatility"}
DECLARED = {
    "trend_hunter": ({"trending_up", "trending_down"}, {"momentum": 0.6, "breakout": 0.4}),
    "mean_reversion": ({"ranging"}, {"mean_reversion": 0.7, "liquidity": 0.3}),
    "breakout_hunter": (
        {"ranging", "trending_up", "trending_down"},
        {"breakout": 0.5, "volatility": 0.25, "order_block": 0.25},
    ),
    "volatility_filter": (ALL, {}),
    "liquidity_surfer": (ALL, {"money_flow": 0.6, "liquidity": 0.4}),
    "sentiment_scout": (ALL, {"sentiment": 1.0}),
}
SIGNALLING = ["trend_hunter", "mean_reversion", "breakout_hunter", "liquidity_surfer"]


def buy(context: AgentContext, score: float = 0.8) -> Signal:
    """The committee's entry signal that a filter is asked about."""
    return Signal(
        agent="committee",
        symbol=context.bar.symbol,
        timestamp=context.bar.close_time,
        score=score,
    )


def trend(length: int, step: float) -> list[float]:
    closes, price = [], 100.0
    for index in range(length):
        price *= 1.0 if index % 4 == 3 else 1.0 + step
        closes.append(price)
    return closes


def swings(length: int, swing: float) -> list[float]:
    return [100.0 * (1 + (swing if index % 2 else -swing)) for index in range(length)]


def signal_of(agent: TradingAgent, bars: Sequence[Bar], **extra: float | None) -> Signal | None:
    return agent.evaluate(context_of(bars, extra=extra))


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_agent_declares_its_name_regimes_and_weights(name: str) -> None:
    regimes, weights = DECLARED[name]

    agent = COMMITTEE[name]()

    assert agent.name == name
    assert agent.target_regimes == frozenset(regimes)
    assert dict(agent.alpha_weights) == weights


@pytest.mark.parametrize(
    ("name", "parameters", "warmup"),
    [
        ("trend_hunter", {"adx_period": 10, "channel": 15, "ml_weight": 0.2}, 20),
        ("mean_reversion", {"band_period": 10, "rsi_period": 7, "liquidity_period": 5}, 10),
        ("breakout_hunter", {"channel": 10, "atr_period": 7, "impulse_atr": 1.5}, 11),
        ("volatility_filter", {"extreme_ratio": 2.5, "history": 30}, 44),
        ("liquidity_surfer", {"period": 10, "shrink": 0.25}, 11),
        ("sentiment_scout", {"key": "news_sentiment", "against": 0.3}, 0),
    ],
)
def test_agent_is_built_from_plain_config_values(
    name: str, parameters: dict[str, int | float | str], warmup: int
) -> None:
    agent = COMMITTEE[name](**parameters)
    bars = closes_to_bars(random_walk(120, seed=11))

    signal = agent.evaluate(context_of(bars, extra={"news_sentiment": 0.2}))

    assert agent.warmup_bars == warmup
    assert signal is None or -1.0 <= signal.score <= 1.0
    if name == "sentiment_scout":
        assert signal is not None
        assert signal.score == pytest.approx(0.2)


def test_a_zero_weight_switches_an_alpha_off() -> None:
    agent = MeanReversion(liquidity_weight=0)
    signal = signal_of(agent, closes_to_bars(random_walk(60, seed=2)))

    assert dict(agent.alpha_weights) == {"mean_reversion": 0.7}
    assert signal is not None
    assert set(signal.features) == {"mean_reversion"}


def test_all_weights_zero_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="every alpha weight is 0"):
        TrendHunter(momentum_weight=0, breakout_weight=0)


@pytest.mark.parametrize("name", SIGNALLING)
def test_no_signal_during_warm_up_then_a_signal_in_range(name: str) -> None:
    agent = COMMITTEE[name]()
    bars = closes_to_bars(random_walk(agent.warmup_bars, seed=5))

    early = signal_of(agent, bars[:-1])
    first = signal_of(agent, bars)

    assert early is None
    assert first is not None
    assert -1.0 <= first.score <= 1.0
    assert 0.0 < first.confidence <= 1.0
    assert first.timestamp == bars[-1].close_time
    assert first.agent == name
    assert set(first.features) == set(agent.alpha_weights)
    viewed = {
        alpha: (score or 0.0) * agent.alpha_weights[alpha]
        for alpha, score in first.features.items()
        if score is not None
    }
    strongest = sorted(viewed, key=lambda alpha: -abs(viewed[alpha]))[0]
    assert first.reason.startswith(f"{strongest} {first.features[strongest]:+.2f}")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", sorted(COMMITTEE))
def test_signals_stay_in_range_on_wild_random_walks(name: str, seed: int) -> None:
    agent = COMMITTEE[name]()
    bars = closes_to_bars(random_walk(150, seed=seed, volatility=0.08), wick=0.02)

    for end in range(20, len(bars) + 1, 13):
        signal = signal_of(agent, bars[:end], sentiment=0.3)
        assert signal is None or -1.0 <= signal.score <= 1.0


def test_trend_hunter_is_long_in_an_up_trend_and_short_in_a_down_trend() -> None:
    up = signal_of(TrendHunter(), closes_to_bars(trend(60, 0.01)))
    down = signal_of(TrendHunter(), closes_to_bars(trend(60, -0.01)))

    assert up is not None
    assert up.score > 0.3
    assert down is not None
    assert down.score < -0.3
    assert up.reason.startswith("momentum")
    assert "momentum" in up.reason


def test_trend_hunter_shrinks_an_entry_against_a_strong_trend() -> None:
    falling = context_of(closes_to_bars(trend(60, -0.01)))
    rising = context_of(closes_to_bars(trend(60, 0.01)))

    against = TrendHunter().trade_filter(buy(falling), falling)
    along = TrendHunter().trade_filter(buy(rising), rising)

    assert against.size_multiplier == 0.5
    assert "opposes" in against.reason
    assert along.size_multiplier == 1.0


def test_ml_slot_counts_only_when_a_probability_is_given() -> None:
    bars = closes_to_bars(trend(60, 0.01))
    plain = signal_of(TrendHunter(), bars)
    waiting = signal_of(TrendHunter(ml_weight=0.5), bars)
    informed = signal_of(TrendHunter(ml_weight=0.5), bars, ml_probability=0.1)

    assert plain is not None
    assert waiting is not None
    assert informed is not None
    assert waiting.features["ml_confidence"] is None
    assert waiting.score == pytest.approx(plain.score)
    assert informed.features["ml_confidence"] == pytest.approx(-0.8)
    assert informed.score < plain.score


def test_mean_reversion_buys_a_sharp_drop_and_shrinks_buying_a_sharp_rise() -> None:
    dropped = closes_to_bars([*swings(30, 0.005), 97.5, 95.0, 92.5, 90.0, 87.5])
    rose = closes_to_bars([*swings(30, 0.005), 102.5, 105.0, 107.5, 110.0, 112.5])

    signal = signal_of(MeanReversion(), dropped)
    verdict = MeanReversion().trade_filter(buy(context_of(rose)), context_of(rose))

    assert signal is not None
    assert signal.score > 0.3
    assert verdict.size_multiplier == 0.5


def test_breakout_hunter_buys_a_break_above_the_range_on_volume() -> None:
    closes = [*swings(40, 0.005), 103.0]
    volumes = [100.0] * 40 + [250.0]
    signal = signal_of(BreakoutHunter(), closes_to_bars(closes, volumes))

    assert signal is not None
    assert signal.score > 0.3
    assert signal.features["breakout"] is not None
    assert signal.features["breakout"] > 0


def test_breakout_hunter_shrinks_a_buy_into_an_untested_bearish_block() -> None:
    quiet: list[Candle] = [
        (100.4, 100.6, 99.3, 99.6) if i % 2 == 0 else (99.6, 100.7, 99.4, 100.4) for i in range(20)
    ]
    # Bar 20 an up candle, then a fall of 6, then a rebound towards the block (bearish setup).
    candles: list[Candle] = [
        *quiet,
        (99.6, 100.8, 99.2, 100.5),
        (100.5, 100.6, 98.3, 98.5),
        (98.5, 98.6, 96.3, 96.5),
        (96.5, 96.6, 94.3, 94.5),
        (94.5, 95.4, 94.4, 95.2),
        (95.2, 95.5, 94.8, 95.0),
        (95.0, 96.0, 94.9, 95.8),
        (95.8, 96.1, 95.4, 95.6),
        (95.6, 96.7, 95.5, 96.5),
        (96.5, 96.8, 96.1, 96.3),
        (96.3, 97.4, 96.2, 97.2),
        (97.2, 97.5, 96.9, 97.1),
        (97.1, 98.1, 97.0, 97.9),
    ]
    context = context_of(candles_to_bars(candles, [100.0] * 21 + [300.0] * 3 + [100.0] * 9))

    verdict = BreakoutHunter().trade_filter(buy(context), context)

    assert verdict.size_multiplier == 0.5
    assert "order block" in verdict.reason


def test_volatility_filter_never_signals() -> None:
    agent = VolatilityFilter()

    assert agent.evaluate(context_of(closes_to_bars(random_walk(120, seed=1)))) is None


def test_volatility_filter_vetoes_extreme_volatility_and_shrinks_high_volatility() -> None:
    calm = closes_to_bars(swings(80, 0.01))
    wild = closes_to_bars([*swings(75, 0.01), *swings(5, 0.10)])
    agent = VolatilityFilter()

    extreme = context_of(wild, regime="ranging")
    high = context_of(calm, regime="high_volatility")
    normal = context_of(calm, regime="ranging")

    assert agent.trade_filter(buy(extreme), extreme).size_multiplier == 0.0
    assert "extreme volatility" in agent.trade_filter(buy(extreme), extreme).reason
    assert agent.trade_filter(buy(high), high).size_multiplier == 0.5
    assert agent.trade_filter(buy(normal), normal).size_multiplier == 1.0


@pytest.mark.parametrize(
    ("last", "last_volume", "multiplier"),
    [
        ((100.0, 101.0, 99.0, 100.0), 100.0, 1.0),
        ((100.0, 101.0, 99.0, 100.0), 40.0, 0.5),
        ((100.0, 103.0, 97.0, 100.0), 100.0, 0.5),
        ((100.0, 103.0, 97.0, 100.0), 40.0, 0.25),
    ],
)
def test_liquidity_surfer_shrinks_entries_in_thin_or_wide_markets(
    last: Candle, last_volume: float, multiplier: float
) -> None:
    bars = candles_to_bars(
        [(100.0, 101.0, 99.0, 100.0)] * 20 + [last], [100.0] * 20 + [last_volume]
    )
    context = context_of(bars)

    assert LiquiditySurfer().trade_filter(buy(context), context).size_multiplier == multiplier


def test_liquidity_surfer_uses_a_quoted_spread_when_given() -> None:
    bars = candles_to_bars([(100.0, 101.0, 99.0, 100.0)] * 21)
    wide = context_of(bars, extra={"quoted_spread": 0.005})
    tight = context_of(bars, extra={"quoted_spread": 0.0005})

    assert LiquiditySurfer().trade_filter(buy(wide), wide).size_multiplier == 0.5
    assert LiquiditySurfer().trade_filter(buy(tight), tight).size_multiplier == 1.0


def test_liquidity_surfer_goes_with_volume_closing_at_the_highs() -> None:
    candles: list[Candle] = [(100.0, 101.0, 99.0, 100.0)] * 15 + [(100.0, 101.0, 99.0, 101.0)] * 6
    signal = signal_of(LiquiditySurfer(), candles_to_bars(candles, [100.0] * 15 + [200.0] * 6))

    assert signal is not None
    assert signal.score > 0.3


def test_sentiment_scout_stays_silent_without_a_sentiment() -> None:
    bars = closes_to_bars(random_walk(250, seed=4))

    assert signal_of(SentimentScout(), bars) is None
    assert signal_of(SentimentScout(), bars, sentiment=None) is None


def test_sentiment_scout_relays_a_sentiment_and_filters_against_it() -> None:
    bars = closes_to_bars(random_walk(30, seed=4))
    gloomy = context_of(bars, extra={"sentiment": -0.6})
    unknown = context_of(bars)

    signal = signal_of(SentimentScout(), bars, sentiment=0.4)

    assert signal is not None
    assert signal.score == pytest.approx(0.4)
    assert signal.confidence == 1.0
    assert SentimentScout().trade_filter(buy(gloomy), gloomy).size_multiplier == 0.5
    assert SentimentScout().trade_filter(buy(unknown), unknown).size_multiplier == 1.0


@pytest.mark.parametrize("name", sorted(COMMITTEE))
def test_entry_point_value_resolves_to_the_agent_class(name: str) -> None:
    entry = EntryPoint(name=name, value=ENTRY_POINTS[name], group=AGENT_ENTRY_POINT_GROUP)

    assert entry.load() is COMMITTEE[name]


@pytest.mark.parametrize("name", sorted(COMMITTEE))
def test_load_agent_finds_the_agent_by_name(name: str) -> None:
    agent = load_agent(name, {})

    assert type(agent) is COMMITTEE[name]
