from __future__ import annotations

import asyncio

import pytest

from asyncfilter._rate import AdaptiveRate, FixedRate, depth


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


async def test_a_late_wake_up_at_a_raised_quota_loses_no_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # at 500 TPS a call is due every 2 ms; a loop that wakes 15 ms late owes 7 calls, and the
    # gate must let them go at once rather than lose them (a depth of 2 kept only 2)
    now = [1000.0]
    monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: now[0])
    rate = FixedRate(500.0)
    limiter = rate._limiter
    sent = 0
    while limiter.has_capacity():
        await rate.acquire()
        sent += 1
    assert sent == depth(500.0) == 10  # the start: 20 ms of calls, a trickle, not a burst
    now[0] += 0.015
    owed = 0
    while limiter.has_capacity():
        await rate.acquire()
        owed += 1
    assert owed == 7


def test_the_gate_stays_two_calls_deep_at_tens_of_tps() -> None:
    assert depth(50.0) == 2
    assert depth(1.0) == 2
