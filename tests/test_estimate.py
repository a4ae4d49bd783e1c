"""The hit-rate estimate, the stop rules and the forecast, case by case (the statistical
properties over many sweeps are in test_estimate_simulation.py)."""

from __future__ import annotations

import math
import random

import pytest

from asyncfilter._estimate import (
    Estimate,
    HitRateTracker,
    hit_rate,
    log_mixture_ratio,
    log_ratio_finite,
    upper_end_below,
)
from asyncfilter._forecast import (
    Forecast,
    _nb_quantile,
    betainc,
    forecast,
    low_hit_rate,
    target_unreachable,
)
from asyncfilter._pricing import PriceTable

THRESHOLD = math.log(20)  # log(1/alpha) at 95%


def test_the_interval_is_exactly_the_set_the_mixture_ratio_keeps() -> None:
    rng = random.Random(5)
    for _ in range(200):
        n = rng.randint(1, 5000)
        k = rng.randint(0, n)
        e = hit_rate(n, k)
        assert e.low <= k / n <= e.high
        assert log_mixture_ratio(e.low, n, k) < THRESHOLD
        assert log_mixture_ratio(e.high, n, k) < THRESHOLD
        if e.low > 0:
            assert log_mixture_ratio(e.low - 1e-9, n, k) >= THRESHOLD
        if e.high < 1:
            assert log_mixture_ratio(e.high + 1e-9, n, k) >= THRESHOLD


def test_the_finite_population_interval_is_exactly_the_set_of_hit_counts_it_keeps() -> None:
    rng = random.Random(6)
    for _ in range(200):
        population = rng.randint(1, 20_000)
        n = rng.randint(1, population)
        k = rng.randint(0, n)
        e = hit_rate(n, k, population=population)
        m_low, m_high = round(e.low * population), round(e.high * population)
        kept = [
            m
            for m in range(max(0, m_low - 3), min(population, m_high + 3) + 1)
            if log_ratio_finite(m, population, n, k) < THRESHOLD
        ]
        assert kept == list(range(m_low, m_high + 1))
        assert k <= m_low
        assert m_high <= population - (n - k)


def test_the_finite_ratio_is_the_prior_posterior_ratio_of_a_beta_binomial() -> None:
    # pi_0(m) / pi_n(m) computed from the two beta-binomial laws directly, in exact arithmetic
    a, b = 0.5, 2.0

    def beta(x: float, y: float) -> float:
        return math.exp(math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y))

    population, n, k = 40, 12, 3
    for m in range(k, population - (n - k) + 1):
        prior = math.comb(population, m) * beta(m + a, population - m + b) / beta(a, b)
        posterior = (
            math.comb(population - n, m - k)
            * beta(m + a, population - m + b)
            / beta(a + k, b + n - k)
        )
        assert log_ratio_finite(m, population, n, k) == pytest.approx(
            math.log(prior / posterior), rel=1e-9, abs=1e-9
        )


def test_a_whole_population_seen_leaves_only_its_own_rate() -> None:
    e = hit_rate(400, 20, population=400)
    assert (e.low, e.estimate, e.high) == (0.05, 0.05, 0.05)


def test_a_known_population_narrows_the_interval_and_a_huge_one_changes_nothing() -> None:
    free = hit_rate(1000, 10)
    assert hit_rate(1000, 10, population=2000).high < free.high
    huge = hit_rate(1000, 10, population=10**9)
    assert huge.low == pytest.approx(free.low, abs=1e-6)
    assert huge.high == pytest.approx(free.high, abs=1e-6)


def test_no_hits_puts_the_lower_end_at_zero_and_all_hits_the_upper_end_at_one() -> None:
    assert hit_rate(300, 0).low == 0.0
    assert hit_rate(300, 300).high == 1.0
    assert hit_rate(0, 0) == Estimate(0.0, 0.0, 1.0, 0.95, 0, 0)


def test_the_interval_shrinks_as_answers_come_in() -> None:
    widths = [(lambda e: e.high - e.low)(hit_rate(n, n // 20)) for n in (100, 1000, 10_000)]
    assert widths[0] > widths[1] > widths[2]


@pytest.mark.parametrize(
    ("n", "hits", "population", "level", "field"),
    [
        (5, 6, None, 0.95, "hits"),
        (5, -1, None, 0.95, "hits"),
        (10, 1, 5, 0.95, "population"),
        (10, 1, None, 1.0, "level"),
    ],
)
def test_bad_counts_are_refused_naming_the_field(
    n: int, hits: int, population: int | None, level: float, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        hit_rate(n, hits, population=population, level=level)


def test_the_json_form_has_the_documented_keys() -> None:
    d = hit_rate(600, 29, population=12_000).to_dict()
    assert list(d) == ["estimate", "low", "high", "level", "n"]
    assert d["estimate"] == pytest.approx(0.048333, abs=1e-6)
    assert d["low"] < d["estimate"] < d["high"]
    assert (d["level"], d["n"]) == (0.95, 600)


def test_the_tracker_counts_in_constant_time_and_computes_once_per_count() -> None:
    tracker = HitRateTracker(population=1000)
    assert tracker.estimate() is None
    for i in range(200):
        tracker.add(i % 10 == 0)
    first = tracker.estimate()
    assert first is tracker.estimate()  # cached while n is unchanged
    assert first == hit_rate(200, 20, population=1000)
    tracker.add(True)
    assert tracker.estimate() == hit_rate(201, 21, population=1000)
    tracker.population = None  # e.g. listing order: no population claim
    assert tracker.estimate() == hit_rate(201, 21)


def test_a_population_smaller_than_the_answers_is_ignored_not_fatal() -> None:
    tracker = HitRateTracker(population=3)
    for _ in range(5):
        tracker.add(False)
    estimate = tracker.estimate()
    assert estimate is not None
    assert estimate.population is None


def test_low_hit_rate_fires_only_when_the_whole_sequence_is_below_the_floor() -> None:
    assert not low_hit_rate(hit_rate(100, 1), 0.05)  # 1%, but far from sure yet
    assert low_hit_rate(hit_rate(2000, 20), 0.05)
    assert not low_hit_rate(hit_rate(2000, 90), 0.05)


def test_the_constant_time_stop_check_agrees_with_the_interval() -> None:
    rng = random.Random(7)
    for _ in range(1500):
        population = rng.choice([None, rng.randint(1, 50_000)])
        n = rng.randint(0, population or 20_000)
        k = rng.randint(0, n)
        floor = rng.choice([0.005, 0.01, 0.05, 0.3, rng.random(), k / max(n, 1)])
        expected = low_hit_rate(hit_rate(n, k, population=population), floor)
        assert upper_end_below(floor, n, k, population=population) == expected, (
            population,
            n,
            k,
            floor,
        )


def test_the_tracker_checks_the_floor_without_computing_the_interval() -> None:
    tracker = HitRateTracker(population=5000)
    for i in range(1500):
        tracker.add(i % 100 == 0)
    assert tracker.below(0.05)
    assert not tracker.below(0.01)
    assert tracker._cache is None  # nothing computed


def test_the_incomplete_beta_agrees_with_a_summed_binomial_tail() -> None:
    def tail(successes: int, p: float, draws: int) -> float:
        return math.fsum(
            math.exp(
                math.lgamma(draws + 1)
                - math.lgamma(j + 1)
                - math.lgamma(draws - j + 1)
                + j * math.log(p)
                + (draws - j) * math.log1p(-p)
            )
            for j in range(successes, draws + 1)
        )

    cases = [
        (1, 0.1, 5),
        (5, 0.02, 300),
        (50, 0.05, 1000),
        (500, 0.3, 1700),
        (3, 0.001, 2000),
        (10, 0.9, 12),
        (40, 0.005, 20_000),
    ]
    for successes, p, draws in cases:
        got = betainc(successes, draws - successes + 1, p)
        assert got == pytest.approx(tail(successes, p, draws), rel=1e-8, abs=1e-12)


def test_negative_binomial_quantiles_match_simulated_draws() -> None:
    rng = random.Random(9)
    needed = sorted(
        sum(math.ceil(math.log(1 - rng.random()) / math.log(1 - 0.05)) for _ in range(20))
        for _ in range(4000)
    )
    for q in (0.025, 0.5, 0.975):
        quantile = _nb_quantile(20, 0.05, q)
        assert abs(quantile - needed[int(q * 4000)]) / quantile < 0.05


def test_the_forecast_prices_both_ends_with_this_months_prior_use() -> None:
    prices = PriceTable()
    e = hit_rate(600, 29)
    f = forecast(e, hits=29, target=500, prices=prices, after_calls=999_000, calls_per_s=50.0)
    low, high = f.calls
    assert low is not None
    assert high is not None
    assert 471 < low < 471 / e.high * 1.2
    assert high > 471 / e.low * 0.8
    assert f.usd == (
        prices.cost(low, after=999_000),
        prices.cost(high, after=999_000),
    )
    assert f.usd[1] is not None
    assert f.usd[1] < high * 0.001
    assert f.seconds == (low / 50.0, high / 50.0)
    assert f.to_dict()["calls"] == [low, high]


def test_a_target_already_met_needs_nothing() -> None:
    assert forecast(hit_rate(100, 10), hits=10, target=10) == Forecast((0, 0), (0.0, 0.0), None)


def test_the_forecast_has_no_high_end_when_the_bucket_may_hold_too_few_hits() -> None:
    # 29 in 600 of 12,000: the bucket may hold as few as ~260 hits, so 500 may be impossible
    f = forecast(hit_rate(600, 29, population=12_000), hits=29, target=500)
    assert f.calls[0] is not None
    assert f.calls[1] is None
    assert f.to_dict()["usd"][1] is None
    # never more calls than objects left
    g = forecast(hit_rate(600, 29, population=12_000), hits=29, target=100)
    assert g.calls[1] is not None
    assert g.calls[1] <= 12_000 - 600


def test_an_unreachable_target_is_reported_with_its_figures() -> None:
    e = hit_rate(600, 29)
    message = target_unreachable(e, 29, 500, 3000, limit="the budget")
    assert message is not None
    assert "29 hits so far" in message
    assert "3,000" in message
    assert "the budget" in message
    assert target_unreachable(e, 29, 500, 20_000) is None
    assert target_unreachable(e, 29, 20, 0) is None  # already there


def test_a_bucket_too_poor_for_the_target_is_reported_whatever_the_budget() -> None:
    message = target_unreachable(hit_rate(600, 29, population=5000), 29, 500, None)
    assert message is not None
    assert "4,400 objects not yet seen" in message
    assert target_unreachable(hit_rate(600, 29, population=50_000), 29, 500, None) is None
