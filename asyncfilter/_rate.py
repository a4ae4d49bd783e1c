"""The rate gate in front of DetectLabels: steady, and adaptive when the service pushes back.

A leaky bucket (aiolimiter) a few calls deep (:func:`depth`) sends at ``rate`` calls per second.
The rate starts at the configured ``--tps`` and follows AIMD, as TCP does: a ThrottlingException
halves it (at most once per second, so one burst of throttles counts once), and every success
adds back a little, about ``step`` calls per second each second, never above the configured
ceiling. When the real quota is below ``--tps``, the sending rate settles just under it and the
throttled share falls, instead of every worker retrying into a wall.
"""

from __future__ import annotations

import time

from aiolimiter import AsyncLimiter

#: How late a wake-up the gate absorbs without losing the call it was due to send.
SLACK_S = 0.02


def depth(rate: float) -> int:
    """The bucket's depth: at least 2 calls, and ``SLACK_S`` seconds of calls at ``rate``.

    With a depth of 1, every late wake-up of the event loop is lost and the rate sags ~5%; a
    depth of 2 absorbs one at tens of TPS, but at 500 TPS two calls are 4 ms, less than a busy
    loop's wake-up delay. 20 ms of calls keeps the start a trickle (10 calls at 500 TPS), not
    a burst.
    """
    return max(2, round(rate * SLACK_S))


class AdaptiveRate:
    """A rate limit that halves on throttling and creeps back on success."""

    __slots__ = ("_last_cut", "_limiter", "_step", "ceiling", "floor", "rate")

    def __init__(self, ceiling: float, *, floor: float = 0.5) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.rate = ceiling
        self._limiter = AsyncLimiter(depth(ceiling), depth(ceiling) / ceiling)
        self._step = max(0.5, ceiling * 0.02)
        self._last_cut = float("-inf")

    async def acquire(self) -> None:
        await self._limiter.acquire()

    def throttled(self) -> None:
        """The service said slow down: halve the rate (once per second at most)."""
        now = time.monotonic()
        if now - self._last_cut < 1.0:
            return
        self._last_cut = now
        self._set(max(self.floor, self.rate / 2))

    def succeeded(self) -> None:
        """One call went through: add ``step / rate``, i.e. ``step`` calls/s per second."""
        if self.rate < self.ceiling:
            self._set(min(self.ceiling, self.rate + self._step / self.rate))

    def _set(self, rate: float) -> None:
        self.rate = rate
        limiter = self._limiter
        limiter.time_period = limiter.max_rate / rate
        limiter._rate_per_sec = rate  # aiolimiter derives this once, in __init__


class FixedRate(AdaptiveRate):
    """The same gate with the rate held at its ceiling whatever the service says."""

    __slots__ = ()

    def throttled(self) -> None:
        pass

    def succeeded(self) -> None:
        pass
