"""Stop rules compared: ``--min-hit-rate`` (the confidence sequence) against ``--miss-cutoff``.

    python -m benchmarks.estimates            # 200 sweeps per case
    python -m benchmarks.estimates --runs 50  # quicker

Buckets of 20,000 objects in 20 prefixes of 1,000. A *poor* bucket holds 1% robins, a *good*
one 5%, both clustered the way real buckets are: the robins fill whole runs of keys within one
prefix. Each is swept in random order (the keyed hash of ``RandomOrderLister``, one seed per
sweep) and, once, in listing order. For each sweep and rule: the calls spent before the rule
gives its verdict ("this bucket is poor"), or that it never does.

- On the poor bucket a verdict is right; fewer calls is better.
- On the good bucket any verdict is wrong: ``--min-hit-rate 0.05`` should fire in at most 5% of
  sweeps, however long they run.

And the unreachable-target rule on the good bucket with ``--target 100`` and a scan cap that
leaves room for it (2,000 calls are needed on average): how often it stops a sweep that would
in fact have reached the target within the cap (checked every 25 answers, as the controller
would).

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import time
from typing import Any

from asyncfilter._estimate import HitRateTracker, hit_rate
from asyncfilter._forecast import target_unreachable
from asyncfilter._order import sweep_ranks

N = 20_000
PREFIX = 1_000
FLOOR = 0.05
CUTOFF = 20


def bucket(rate: float, *, seed: str) -> tuple[list[str], set[str]]:
    """Keys in listing order and the hits among them: runs of 50 consecutive keys inside one
    prefix (a photo session), the prefix chosen at random."""
    keys = [f"{i // PREFIX:02d}/img-{i:05d}.jpg" for i in range(N)]
    rng = random.Random(seed)
    hits = round(rate * N)
    prefix = rng.randrange(N // PREFIX)
    runs = rng.sample(range(PREFIX // 50), -(-hits // 50))
    slots = sorted(prefix * PREFIX + r * 50 + j for r in runs for j in range(50))[:hits]
    return keys, {keys[i] for i in slots}


def verdicts(order: list[str], hits: set[str]) -> tuple[int | None, int | None]:
    """Calls until each rule fires (``None``: it never did): ``--min-hit-rate FLOOR`` with the
    population known, then ``--miss-cutoff CUTOFF``."""
    tracker = HitRateTracker(population=len(order))
    floor_at: int | None = None
    cutoff_at: int | None = None
    streak = 0
    for calls, key in enumerate(order, start=1):
        hit = key in hits
        tracker.add(hit)
        streak = 0 if hit else streak + 1
        if cutoff_at is None and streak >= CUTOFF:
            cutoff_at = calls
        if floor_at is None and tracker.below(FLOOR):
            floor_at = calls
        if floor_at is not None and cutoff_at is not None:
            break
    return floor_at, cutoff_at


def unreachable(order: list[str], hits: set[str], target: int, cap: int) -> tuple[bool, bool]:
    """Whether the unreachable-target rule fired, and whether the target was in fact reached
    within ``cap`` calls (so a firing was wrong)."""
    found = 0
    fired = False
    for calls, key in enumerate(order[:cap], start=1):
        found += key in hits
        if found >= target:
            return fired, True
        if not fired and calls % 25 == 0 and _unreachable(calls, found, target, cap, len(order)):
            fired = True
    return fired, False


@functools.cache
def _unreachable(n: int, found: int, target: int, cap: int, population: int) -> bool:
    estimate = hit_rate(n, found, population=population)
    return target_unreachable(estimate, found, target, cap - n, limit="the scan cap") is not None


def _order(seed: int, keys: list[str]) -> list[str]:
    return [k for _, k in sorted(zip(sweep_ranks(seed, keys), keys, strict=True))]


def summarise(calls: list[int | None]) -> dict[str, Any]:
    fired = sorted(c for c in calls if c is not None)
    out: dict[str, Any] = {"fired_share": round(len(fired) / len(calls), 4)}
    if fired:
        out["median_calls"] = statistics.median(fired)
        out["p90_calls"] = fired[min(len(fired) - 1, int(0.9 * len(fired)))]
    return out


def run(runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {
        "bucket_size": N,
        "runs": runs,
        "min_hit_rate": FLOOR,
        "miss_cutoff": CUTOFF,
    }
    for name, rate in (("poor_1pct", 0.01), ("good_5pct_clustered", 0.05)):
        keys, hits = bucket(rate, seed=name)
        floor_calls: list[int | None] = []
        cutoff_calls: list[int | None] = []
        for seed in range(runs):
            f, c = verdicts(_order(seed, keys), hits)
            floor_calls.append(f)
            cutoff_calls.append(c)
        listing_floor, listing_cutoff = verdicts(keys, hits)
        if rate == 0.05:
            for cap in (2_400, 3_000):
                outcomes = [unreachable(_order(seed, keys), hits, 100, cap) for seed in range(runs)]
                result[f"target_unreachable_cap_{cap}"] = {
                    "target": 100,
                    "reached_share": round(sum(r for _, r in outcomes) / runs, 4),
                    "fired_share": round(sum(f for f, _ in outcomes) / runs, 4),
                    "wrong_share": round(sum(f and r for f, r in outcomes) / runs, 4),
                }
        result[name] = {
            "random_order": {
                "min_hit_rate": summarise(floor_calls),
                "miss_cutoff": summarise(cutoff_calls),
            },
            "listing_order": {"min_hit_rate": listing_floor, "miss_cutoff": listing_cutoff},
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.runs), indent=2))


if __name__ == "__main__":
    main()
