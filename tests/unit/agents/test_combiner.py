"""The alpha combiner: sum(score_i * w_i) / sum(|w_i|) over the alphas with a view."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_agents.combiner import breakdown, combine


def test_weighted_mean_matches_a_hand_computation() -> None:
    scores = {"momentum": 0.5, "breakout": -0.2, "ml_confidence": None}
    weights = {"momentum": 0.6, "breakout": 0.3, "ml_confidence": 0.1}

    # (0.5 * 0.6 - 0.2 * 0.3) / (0.6 + 0.3): the silent alpha is in neither sum
    assert combine(scores, weights) == pytest.approx(0.24 / 0.9)


def test_negative_weight_counts_by_its_absolute_value_in_the_denominator() -> None:
    scores = {"trend": 0.8, "contrarian": 0.4}

    assert combine(scores, {"trend": 1.0, "contrarian": -0.5}) == pytest.approx(0.6 / 1.5)


def test_no_view_at_all_is_none() -> None:
    assert combine({"a": None, "b": None}, {"a": 1.0, "b": 2.0}) is None
    assert combine({}, {"a": 1.0}) is None


def test_weighted_alpha_missing_from_the_scores_has_no_view() -> None:
    assert combine({"a": -0.4}, {"a": 1.0, "b": 3.0}) == pytest.approx(-0.4)


def test_views_that_all_weigh_zero_are_none() -> None:
    assert combine({"a": 0.7}, {"a": 0.0}) is None


def test_a_score_without_a_weight_is_an_error() -> None:
    with pytest.raises(ValueError, match="momentm"):
        combine({"momentm": 0.3}, {"momentum": 1.0})


@pytest.mark.parametrize("score", [1.5, -1.01, math.nan])
def test_a_score_outside_minus_one_one_is_an_error(score: float) -> None:
    with pytest.raises(ValueError, match="must be in"):
        combine({"a": score}, {"a": 1.0})


def test_a_weight_that_is_not_finite_is_an_error() -> None:
    with pytest.raises(ValueError, match="finite"):
        combine({"a": 0.3}, {"a": math.inf})


def test_breakdown_shares_add_up_to_the_score_and_name_the_strongest_first() -> None:
    combination = breakdown(
        {"momentum": 0.9, "breakout": -0.1, "ml_confidence": None},
        {"momentum": 0.5, "breakout": 0.3, "ml_confidence": 0.2},
    )

    assert combination.score is not None
    assert math.fsum(r.contribution for r in combination.readings) == pytest.approx(
        combination.score
    )
    assert [r.name for r in combination.strongest()] == ["momentum", "breakout"]
    assert combination.coverage == pytest.approx(0.8)
    text = combination.describe()
    assert text.index("momentum +0.90") < text.index("breakout -0.10")
    assert text.endswith("no view: ml_confidence")


def test_breakdown_without_a_view_says_so() -> None:
    combination = breakdown({"a": None}, {"a": 1.0})

    assert combination.score is None
    assert combination.coverage == 0.0
    assert combination.describe() == "no view: a"


_scores = st.one_of(st.none(), st.floats(-1.0, 1.0))
_weights = st.floats(-5.0, 5.0).filter(lambda w: abs(w) > 1e-6)


@given(st.dictionaries(st.sampled_from("abcdef"), st.tuples(_scores, _weights), min_size=1))
def test_combined_score_is_the_formula_and_stays_in_range(
    alphas: dict[str, tuple[float | None, float]],
) -> None:
    scores = {name: score for name, (score, _) in alphas.items()}
    weights = {name: weight for name, (_, weight) in alphas.items()}
    viewed = [(s, weights[n]) for n, s in scores.items() if s is not None]

    result = combine(scores, weights)

    if not viewed:
        assert result is None
    else:
        expected = math.fsum(s * w for s, w in viewed) / math.fsum(abs(w) for _, w in viewed)
        assert result == pytest.approx(max(-1.0, min(1.0, expected)), abs=1e-12)
        assert result is not None
        assert -1.0 <= result <= 1.0
