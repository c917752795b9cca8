"""LiquiditySurfer: goes with the side the volume takes, and holds back in thin markets."""

from __future__ import annotations

from trading_agents.alphas.liquidity import (
    PERIOD,
    QUOTED_SPREAD_KEY,
    WIDE_QUOTED_SPREAD,
    liquidity,
    liquidity_min_bars,
    money_flow,
    range_spread_ratio,
    volume_ratio,
)
from trading_agents.base import NO_OBJECTION, AlphaAgent, confirming
from trading_agents.series import BarSeries, series_of
from trading_core.domain.signal import Signal
from trading_core.ports.agent import AgentContext, FilterVerdict


class LiquiditySurfer(AlphaAgent):
    """Money flow (Chaikin, directional) confirmed by liquidity; active in every regime.

    Liquidity counts for the side of the money flow (``base.confirming``). When the context's
    indicators carry a quoted spread (``liquidity.QUOTED_SPREAD_KEY``, a fraction of the mid) it
    is used instead of the bar-range proxy.

    ``trade_filter`` multiplies the entry's size by ``shrink`` for each sign of a thin market:
    volume below ``thin_volume`` times its average (``liquidity.volume_ratio``), and a wide
    spread: the range proxy above ``wide_spread`` times its median (``range_spread_ratio``), or
    the quoted spread above ``wide_quoted_spread``. Both: ``shrink`` squared.
    """

    name = "liquidity_surfer"

    def __init__(
        self,
        money_flow_weight: float = 0.6,
        liquidity_weight: float = 0.4,
        period: int = PERIOD,
        thin_volume: float = 0.5,
        wide_spread: float = 2.0,
        wide_quoted_spread: float = WIDE_QUOTED_SPREAD,
        shrink: float = 0.5,
    ) -> None:
        super().__init__({"money_flow": money_flow_weight, "liquidity": liquidity_weight})
        if not 0.0 <= shrink <= 1.0:
            raise ValueError(f"shrink must be in [0, 1], got {shrink}")
        self.period = int(period)
        self.thin_volume = float(thin_volume)
        self.wide_spread = float(wide_spread)
        self.wide_quoted_spread = float(wide_quoted_spread)
        self.shrink = float(shrink)

    @property
    def warmup_bars(self) -> int:
        return liquidity_min_bars(self.period)

    def scores(self, series: BarSeries, context: AgentContext) -> dict[str, float | None]:
        flow = money_flow(series, period=self.period)
        scores: dict[str, float | None] = {}
        if self.weighted("money_flow"):
            scores["money_flow"] = flow
        if self.weighted("liquidity"):
            level = liquidity(
                series,
                period=self.period,
                quoted_spread=context.indicators.get(QUOTED_SPREAD_KEY),
                wide_quoted_spread=self.wide_quoted_spread,
            )
            scores["liquidity"] = confirming(flow, level)
        return scores

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        series = series_of(context.bars)
        reasons: list[str] = []
        volume = volume_ratio(series, period=self.period)
        if volume is not None and volume < self.thin_volume:
            reasons.append(f"thin volume ({volume:.2f}x its average)")
        quoted = context.indicators.get(QUOTED_SPREAD_KEY)
        if quoted is not None:
            if quoted > self.wide_quoted_spread:
                reasons.append(f"wide quoted spread ({quoted:.4%})")
        else:
            spread = range_spread_ratio(series, period=self.period)
            if spread is not None and spread > self.wide_spread:
                reasons.append(f"wide spread proxy ({spread:.1f}x its median range)")
        if not reasons:
            return NO_OBJECTION
        multiplier = self.shrink ** len(reasons)
        return FilterVerdict(multiplier, f"size x{multiplier:g}: " + "; ".join(reasons))
