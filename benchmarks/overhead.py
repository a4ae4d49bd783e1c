"""Engine overhead and memory, through the in-process fakes (no HTTP): run in its own process.

    python -m benchmarks.overhead speed --images 200000
    python -m benchmarks.overhead memory --keys 1000000

Each prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from typing import Any

import anyio

from asyncfilter import ImageResult, Label, S3Object, ScanConfig, scan
from asyncfilter.testing import FakeDetector, FakeLister

ROBIN = [Label("Robin", 95.0, parents=("Bird",))]
TREE = [Label("Tree", 97.0)]


class NullCopier:
    """Counts copies without keeping them, so memory measures the engine alone."""

    def __init__(self) -> None:
        self.count = 0

    async def copy(self, obj: S3Object, dest_bucket: str, dest_key: str) -> None:
        self.count += 1


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def config(concurrency: int, state: str | None = None) -> ScanConfig:
    return ScanConfig(
        source="s3://source",
        dest="s3://dest",
        labels=("Robin",),
        tps=None,
        concurrency=concurrency,
        state=state,
    )


async def speed(images: int, concurrency: int, state: str | None = None) -> dict[str, Any]:
    copier = NullCopier()
    started = time.perf_counter()
    report = await scan(
        config(concurrency, state),
        lister=FakeLister.numbered(images),
        detector=FakeDetector.every(10, hit=ROBIN, miss=TREE),
        copier=copier,
    )
    seconds = time.perf_counter() - started
    assert report.stats.decided == images
    assert copier.count == images // 10
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds}


async def memory(keys: int, concurrency: int) -> dict[str, Any]:
    marks: dict[int, float] = {}
    checkpoints = {10_000, 100_000, keys // 2, keys}
    decided = 0

    def on_result(result: ImageResult) -> None:
        nonlocal decided
        decided += 1
        if decided in checkpoints:
            marks[decided] = rss_mb()

    started = time.perf_counter()
    report = await scan(
        config(concurrency),
        on_result=on_result,
        lister=FakeLister.numbered(keys),
        detector=FakeDetector.every(10, hit=ROBIN, miss=TREE),
        copier=NullCopier(),
    )
    assert report.stats.decided == keys
    return {
        "keys": keys,
        "seconds": time.perf_counter() - started,
        "rss_mb": {str(k): round(v, 1) for k, v in sorted(marks.items())},
        "peak_mb": round(peak_mb(), 1),
        "growth_mb": round(marks[keys] - marks[100_000], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["speed", "memory"])
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--state", help="run with a ledger at this path")
    args = parser.parse_args()
    if args.what == "speed":
        result = anyio.run(speed, args.images, args.concurrency, args.state)
    else:
        result = anyio.run(memory, args.keys, args.concurrency)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
