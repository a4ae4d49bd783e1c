from __future__ import annotations

import pytest

from asyncfilter._rate import AdaptiveRate, FixedRate


async def test_aimd_halves_once_per_second_and_creeps_back_to_the_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("asyncfilter._rate.time.monotonic", lambda: now[0])
    rate = AdaptiveRate(40.0)
    rate.throttled()
    rate.throttled()  # the same burst of throttles: one cut
    assert rate.rate == 20.0
    now[0] += 1.5
    rate.throttled()
    assert rate.rate == 10.0
    for _ in range(200):
        rate.succeeded()
    assert 10.0 < rate.rate < 40.0
    for _ in range(5000):
        rate.succeeded()
    assert rate.rate == 40.0
    # the limiter underneath follows the rate
    assert rate._limiter._rate_per_sec == 40.0


async def test_floor_and_fixed_rate() -> None:
    rate = AdaptiveRate(1.0, floor=0.5)
    rate.throttled()
    assert rate.rate == 0.5
    fixed = FixedRate(25.0)
    fixed.throttled()
    fixed.succeeded()
    assert fixed.rate == 25.0
