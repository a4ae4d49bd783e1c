"""What the hit-rate estimate implies: the stop rules that reason, and the cost of a target.

Every figure here is a pure function of an :class:`~asyncfilter._estimate.Estimate`, so the
controller, the progress line, the summary and ``plan --sample`` say the same thing.

The forecast of the calls still needed for ``r`` more hits is a range with two sources of
doubt: the rate (the confidence sequence) and the luck of the draws (at a known rate the calls
needed follow a negative binomial law). Its low end is the 2.5% quantile of the calls at the
sequence's upper rate, its high end the 97.5% quantile at the lower rate, so the range reads
straight off the rate range the user sees. A union bound guarantees it holds the calls actually
needed with probability at least 90%; in the simulations (tests/test_estimate_simulation.py) it
held them in at least 99% of sweeps, because a sequence valid at every moment is conservative
when read at one. With a known population the rates are those of the objects not yet seen and
the calls never exceed their number; the negative binomial (draws with replacement) is then a
little wider than the exact negative hypergeometric, which errs on the safe side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._estimate import Estimate
from ._pricing import DEFAULT_PRICES, PriceTable


@dataclass(frozen=True, slots=True)
class Forecast:
    """What ``target`` hits still cost: each a ``(low, high)`` range.

    ``high`` is ``None`` when the target may never be reached (the pessimistic rate is 0, or
    the bucket may hold too few hits); ``low`` too when even the optimistic end cannot reach it.
    """

    calls: tuple[int | None, int | None]
    usd: tuple[float | None, float | None]
    seconds: tuple[float | None, float | None] | None
    """``None`` without a call rate."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary's ``forecast`` object."""
        return {
            "calls": list(self.calls),
            "usd": [_round(u, 4) for u in self.usd],
            "seconds": [_round(s, 1) for s in self.seconds] if self.seconds else None,
        }


def forecast(
    estimate: Estimate,
    *,
    hits: int,
    target: int,
    prices: PriceTable = DEFAULT_PRICES,
    after_calls: int = 0,
    calls_per_s: float | None = None,
) -> Forecast:
    """The calls, dollars and seconds still needed to go from ``hits`` to ``target``."""
    need = target - hits
    if need <= 0:
        return Forecast((0, 0), (0.0, 0.0), (0.0, 0.0) if calls_per_s else None)
    tail = (1 - estimate.level) / 2
    (worst, best), room = _pool_rates(estimate)
    low = _calls(need, best, tail, room)
    high = _calls(need, worst, 1 - tail, room)
    calls = (low, high)
    usd = (_cost(prices, low, after_calls), _cost(prices, high, after_calls))
    seconds = None
    if calls_per_s:
        seconds = (_per(low, calls_per_s), _per(high, calls_per_s))
    return Forecast(calls, usd, seconds)


def low_hit_rate(estimate: Estimate, min_rate: float) -> bool:
    """``--min-hit-rate``: the whole confidence sequence lies below ``min_rate``.

    On a bucket whose rate is at least ``min_rate`` this fires only where the sequence misses
    the true rate, so in at most ``1 - level`` of sweeps, however long they run.
    """
    return estimate.high < min_rate


def target_unreachable(
    estimate: Estimate,
    hits_so_far: int,
    target: int,
    remaining_calls: int | None,
    *,
    limit: str = "the calls left",
) -> str | None:
    """A one-line reason when even the optimistic end of the estimate cannot reach ``target``
    within ``remaining_calls`` (the scan cap, the budget or the objects left), else ``None``.

    With a known population it first asks whether the bucket can hold enough hits at all (that
    part is time-uniform); then whether, at the sequence's upper rate, ``remaining_calls``
    would find the hits still needed with even a 2.5% chance.
    """
    need = target - hits_so_far
    if need <= 0:
        return None
    (_, best), room = _pool_rates(estimate)
    head = f"target {target:,} is out of reach: {hits_so_far:,} hits so far"
    if room is not None and best * room < need - 1e-9:
        most = round(best * room)
        return (
            f"{head}, and the {room:,} objects not yet seen hold at most {most:,} more "
            f"({estimate.level:.0%} confidence), fewer than the {need:,} needed"
        )
    if remaining_calls is None:
        return None
    if best <= 0:
        return f"{head}, and no hit is plausible in {limit} ({remaining_calls:,})"
    fewest = _nb_quantile(need, best, (1 - estimate.level) / 2)
    if fewest > remaining_calls:
        return (
            f"{head}; even at {best:.2%} (the top of the {estimate.level:.0%} range) "
            f"{need:,} more need at least {fewest:,} calls, more than {limit} "
            f"({remaining_calls:,})"
        )
    return None


def _calls(need: int, rate: float, q: float, room: int | None) -> int | None:
    """The ``q`` quantile of the calls for ``need`` hits at ``rate``, or ``None`` if the
    objects left (``room``) cannot hold that many hits at that rate."""
    if rate <= 0 or (room is not None and rate * room < need - 1e-9):
        return None
    calls = _nb_quantile(need, rate, q)
    # without replacement, ``room`` draws take every hit left: never more than that
    return calls if room is None else min(calls, room)


def _pool_rates(e: Estimate) -> tuple[tuple[float, float], int | None]:
    """The rate range among the objects not yet seen, and how many those are (if known)."""
    if e.population is None:
        return (e.low, e.high), None
    room = e.population - e.n
    if room == 0:
        return (0.0, 0.0), 0
    # the sequence bounds the bucket's hits M; the unseen objects hold M - hits of them
    m_low, m_high = round(e.low * e.population), round(e.high * e.population)
    return ((m_low - e.hits) / room, (m_high - e.hits) / room), room


def _nb_quantile(successes: int, rate: float, q: float) -> int:
    """The smallest ``x`` with ``P(X <= x) >= q``, ``X`` the draws needed for ``successes``
    hits at ``rate``: ``P(X <= x) = P(Binomial(x, rate) >= successes) = I_rate(s, x - s + 1)``."""
    if successes <= 0 or rate >= 1.0:
        return max(successes, 0)
    lo, hi = successes, max(successes, math.ceil(successes / rate))
    while _nb_cdf(successes, rate, hi) < q:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if _nb_cdf(successes, rate, mid) >= q:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _nb_cdf(successes: int, rate: float, draws: int) -> float:
    if draws < successes:
        return 0.0
    return betainc(successes, draws - successes + 1, rate)


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)`` (Lentz's continued fraction, as
    in Numerical Recipes 6.4); relative accuracy about 1e-12."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-13:
            break
    return h


def _cost(prices: PriceTable, calls: int | None, prior: int) -> float | None:
    return None if calls is None else prices.cost(calls, after=prior)


def _per(calls: int | None, rate: float) -> float | None:
    return None if calls is None else calls / rate


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
