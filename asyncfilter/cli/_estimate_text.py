"""The hit-rate estimate and the forecast in words, for the progress line, the summary and
``plan --sample``::

    hit rate 4.8% (95%: 2.9-7.6%) over 600 of 12,000 eligible
    500 hits need 6,600-17,300 more calls, $6.60-$17.30, 2.2-5.8 min at 50/s
"""

from __future__ import annotations

import math

from .._estimate import Estimate
from .._forecast import Forecast

DASH = "\u2013"
"""An en dash, between the ends of a range."""


def estimate_text(
    e: Estimate, *, random_order: bool = True, what: str = "hit rate", brief: bool = False
) -> str:
    """``hit rate 4.8% (95%: 2.9-7.6%) over 600 of 12,000 eligible``.

    In listing order the objects seen so far are not a random sample of the bucket, so the
    text says the figure describes the listed part only (``brief``: in two words, for the
    progress line).
    """
    low, high = _percents(e.low, e.high)
    over = f"over {e.n:,} of {e.population:,} eligible" if e.population else f"over {e.n:,}"
    text = f"{what} {_percent(e.estimate)} ({e.level:.0%}: {low}{DASH}{high}%) {over}"
    if random_order:
        return text
    return (
        f"{text} (listed part only)"
        if brief
        else (f"{text} (listing order: describes the listed part only)")
    )


def forecast_text(f: Forecast, *, target: int, calls_per_s: float | None = None) -> str:
    """``500 hits need 6,600-17,300 more calls, $6.60-$17.30, 2.2-5.8 min at 50/s``."""
    low, high = f.calls
    if low is None:
        return f"{target:,} hits look out of reach: even the best case finds too few"
    if high is None:
        more = f"at least {_round_calls(low, up=False):,} more calls (${f.usd[0]:,.2f})"
        return f"{target:,} hits need {more}, and the bucket may not hold that many"
    calls = f"{_round_calls(low, up=False):,}{DASH}{_round_calls(high, up=True):,}"
    text = f"{target:,} hits need {calls} more calls, ${f.usd[0]:,.2f}{DASH}${f.usd[1]:,.2f}"
    if f.seconds is not None and calls_per_s:
        s_low, s_high = f.seconds
        assert s_low is not None
        assert s_high is not None
        text += f", {_duration(s_low, s_high)} at {calls_per_s:g}/s"
    return text


def sample_text(
    e: Estimate,
    label: str,
    f: Forecast | None,
    *,
    target: int | None,
    calls_per_s: float | None = None,
) -> str:
    """``plan --sample``: ``~4.8% Robin (95%: 2.9-7.6%); 500 hits need ...``."""
    low, high = _percents(e.low, e.high)
    text = f"~{_percent(e.estimate)} {label} ({e.level:.0%}: {low}{DASH}{high}%) in {e.n:,} sampled"
    if f is not None and target is not None:
        text += "; " + forecast_text(f, target=target, calls_per_s=calls_per_s)
    return text


def _digits(rate: float) -> int:
    """Decimals that keep two significant figures of a percentage (at least one)."""
    pct = rate * 100
    if pct <= 0 or pct >= 10:
        return 1 if 0 < pct < 100 else 0
    return max(1, 1 - math.floor(math.log10(pct)))


def _percent(rate: float) -> str:
    return f"{rate * 100:.{_digits(rate)}f}%"


def _percents(low: float, high: float) -> tuple[str, str]:
    """Both ends with the decimals the smaller non-zero one needs."""
    digits = max(_digits(low), _digits(high)) if low > 0 else _digits(high)
    return f"{low * 100:.{digits}f}", f"{high * 100:.{digits}f}"


def _round_calls(calls: int, *, up: bool) -> int:
    """Three significant figures, rounded outward so the range only widens."""
    if calls < 1000:
        return calls
    step: int = 10 ** (len(str(calls)) - 3)
    return (-(-calls // step) if up else calls // step) * step


def _duration(low: float, high: float) -> str:
    if high < 120:
        return f"{low:.0f}{DASH}{high:.0f} s"
    if high < 2 * 3600:
        return f"{low / 60:.1f}{DASH}{high / 60:.1f} min"
    return f"{low / 3600:.1f}{DASH}{high / 3600:.1f} h"
