"""The HTTP benchmarks. moto and the emulator run in their own processes; the sweep under test
runs in this one. Every comparison is measured side by side in the same run."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioboto3
import anyio
from aiobotocore.config import AioConfig

from asyncfilter import (
    Detection,
    ImageResult,
    Outcome,
    RekognitionDetector,
    S3Object,
    ScanConfig,
    scan,
)
from asyncfilter._clients import make_session, open_rekognition
from asyncfilter.testing import (
    EmulatorProcess,
    FakeCopier,
    FakeLister,
    MotoServer,
    SyntheticS3Server,
    make_image,
    synthetic_s3_server,
)
from asyncfilter.testing._synthetic_s3 import object_storage_class

from .bare import bare_detect_loop
from .baseline import published_loop

QUOTA = 50.0
LATENCY = {"latency_ms": 200.0, "jitter_ms": 50.0}
NO_LOAD: dict[str, Any] = {"latency_ms": 0.0, "jitter_ms": 0.0, "tps": None, "error_rate": 0.0}


@dataclass
class Env:
    moto: MotoServer
    emulator: EmulatorProcess
    source: str
    dest_prefix: str
    keys: list[str]

    def config(self, dest: str, **overrides: Any) -> ScanConfig:
        return bench_config(self.source, dest, self.moto.endpoint_url, self.emulator, overrides)


def bench_config(
    source: str, dest: str, s3_url: str, emulator: EmulatorProcess, overrides: dict[str, Any]
) -> ScanConfig:
    """A sweep for robins from ``source`` into ``dest`` on these servers, with ``overrides``."""
    values: dict[str, Any] = {
        "source": f"s3://{source}",
        "dest": f"s3://{dest}",
        "labels": ("Robin",),
        "s3_endpoint_url": s3_url,
        "rekognition_endpoint_url": emulator.endpoint_url,
    }
    values.update(overrides)
    return ScanConfig(**values)


async def seed(moto: MotoServer, emulator: EmulatorProcess, count: int) -> Env:
    """``count`` JPEGs, every tenth a robin; the emulator answers by key without reading S3."""
    source = "bench-source"
    keys = [f"img/{i:06d}.jpg" for i in range(count)]
    body = make_image(96, 96)
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=moto.endpoint_url) as s3:
        await s3.create_bucket(Bucket=source)
        limit = anyio.Semaphore(16)

        async def put(key: str) -> None:
            async with limit:
                # bytes of its own per key: asyncfilter would answer exact copies once
                await s3.put_object(Bucket=source, Key=key, Body=body + key.encode())

        async with anyio.create_task_group() as tg:
            for key in keys:
                tg.start_soon(put, key)
    await anyio.to_thread.run_sync(label_every_tenth, emulator, source, keys)
    return Env(moto, emulator, source, "bench-dest", keys)


def label_every_tenth(emulator: EmulatorProcess, source: str, keys: Sequence[str]) -> None:
    """Teach the emulator that one key in ten is a robin and the rest trees, and to answer by
    key without reading S3."""
    robin = [{"Name": "Robin", "Confidence": 95.0, "Parents": [{"Name": "Bird"}]}]
    tree = [{"Name": "Tree", "Confidence": 97.0}]
    entries = [
        {"bucket": source, "key": k, "labels": robin if i % 10 == 0 else tree}
        for i, k in enumerate(keys)
    ]
    emulator.add_labels(entries)
    emulator.configure(check_objects=False, **NO_LOAD)


#: S3 answers a ListObjectsV2 page in 50-150 ms; the synthetic source answers this long after
#: a page is asked for.
PAGE_LATENCY_MS = 50.0


@dataclass
class SyntheticEnv:
    """A source of ``keys`` listed by a synthetic S3 (no bodies: the emulator answers by key)
    and empty writable buckets on the same server for the copies, one per run."""

    server: SyntheticS3Server
    emulator: EmulatorProcess
    source: str
    keys: list[str]
    dests: list[str]
    page_latency_ms: float
    used: int = field(default=0)

    def fresh_dest(self) -> str:
        if self.used == len(self.dests):
            raise RuntimeError(f"all {len(self.dests)} destination buckets are used")
        self.used += 1
        return self.dests[self.used - 1]

    def config(self, dest: str, **overrides: Any) -> ScanConfig:
        return bench_config(self.source, dest, self.server.endpoint_url, self.emulator, overrides)


def synthetic_keys(count: int) -> list[str]:
    """``count`` keys named as in :func:`seed`, leaving out those the synthetic S3 reports in
    GLACIER (a sweep skips them without a call, which would flatter the rate)."""
    keys: list[str] = []
    i = 0
    while len(keys) < count:
        key = f"img/{i:06d}.jpg"
        if object_storage_class(key) != "GLACIER":
            keys.append(key)
        i += 1
    return keys


@contextmanager
def synthetic_env(
    emulator: EmulatorProcess,
    images: int,
    *,
    page_latency_ms: float = PAGE_LATENCY_MS,
    runs: int = 32,
) -> Iterator[SyntheticEnv]:
    """A synthetic S3 in its own process listing ``images`` keys, with ``runs`` empty
    destination buckets; the emulator taught their labels (one in ten a robin)."""
    source = "bench-synthetic"
    keys = synthetic_keys(images)
    dests = [f"bench-synthetic-dest-{i}" for i in range(1, runs + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "keys.txt"
        listing.write_text("\n".join(keys) + "\n", encoding="utf-8")
        with synthetic_s3_server(
            {source: f"file:{listing}"}, writable=dests, latency_ms=page_latency_ms
        ) as server:
            label_every_tenth(emulator, source, keys)
            yield SyntheticEnv(server, emulator, source, keys, dests, page_latency_ms)


_dest_counter = 0


async def fresh_dest(env: Env) -> str:
    global _dest_counter
    _dest_counter += 1
    name = f"{env.dest_prefix}-{_dest_counter}"
    async with aioboto3.Session().client("s3", endpoint_url=env.moto.endpoint_url) as s3:
        await s3.create_bucket(Bucket=name)
    return name


#: Every fault off: each scenario states only what it turns on.
CALM: dict[str, Any] = {
    **NO_LOAD,
    "burst": None,
    "reset_rate": 0.0,
    "truncate_rate": 0.0,
    "hang_rate": 0.0,
}


async def configure(env: Env, **settings: Any) -> None:
    """Set the emulator to ``settings`` on top of a calm baseline, and zero its counts."""
    await configure_emulator(env.emulator, **settings)


async def configure_emulator(emulator: EmulatorProcess, **settings: Any) -> None:
    merged = {**CALM, **settings}
    await anyio.to_thread.run_sync(lambda: emulator.configure(**merged))
    await anyio.to_thread.run_sync(emulator.reset)


async def quota_saturation(
    env: Env, quota: float = QUOTA, concurrency: int = 32, *, direct: bool = True
) -> dict[str, Any]:
    """Latency 200 ± 50 ms, a quota of ``quota`` TPS, every seeded image (one in ten a hit,
    copied): achieved rate / quota. At 500 TPS about 125 calls are in flight, so
    ``concurrency`` must be above that. ``direct=False``: DetectLabels through botocore's
    request pipeline (the sweep's client as asyncfilter opens it, without the direct path)."""
    dest = await fresh_dest(env)
    config = env.config(dest, tps=quota, concurrency=concurrency)
    return await saturate(env.emulator, config, len(env.keys), quota, direct=direct)


async def saturate(
    emulator: EmulatorProcess,
    config: ScanConfig,
    images: int,
    quota: float,
    *,
    direct: bool,
    phases: bool = False,
) -> dict[str, Any]:
    """Sweep with ``config`` at 200 ± 50 ms and a quota of ``quota`` at the emulator, and
    report the rate against the quota (the core of both quota scenarios). ``phases``: also
    the seconds from calling ``scan`` to the first DetectLabels the emulator saw, and from the
    last one to ``scan`` returning (the emulator stamps calls with the wall clock)."""
    await configure_emulator(emulator, **LATENCY, tps=quota, burst=quota, error_rate=0.0)
    called = time.time()
    async with AsyncExitStack() as stack:
        rekognition = None
        if not direct:
            rekognition = await open_rekognition(stack, make_session(config), config, direct=False)
        report = await scan(config, rekognition_client=rekognition)
    returned = time.time()
    stats = await anyio.to_thread.run_sync(emulator.stats)
    s = report.stats
    extra: dict[str, float] = {}
    if phases and stats.get("first_call") and stats.get("last_call"):
        extra = {
            "to_first_call_s": round(stats["first_call"] - called, 3),
            "after_last_call_s": round(returned - stats["last_call"], 3),
        }
    return {
        "quota": quota,
        "images": images,
        "images_per_s": round(s.images_per_s, 2),
        "ratio": round(s.images_per_s / quota, 4),
        "throttled_share": round(stats["throttled"] / max(1, stats["calls"]), 4),
        "lost": images - s.decided + s.errors,
        "hits": s.hits,
        "seconds": round(s.elapsed_s, 2),
        # the rate while calls flow (first to last call at the emulator), without the sweep's
        # start and tail, which weigh ~15% on a 6-second run
        "steady_ratio": round(steady_rate(stats) / quota, 4),
        **extra,
    }


async def quota_saturation_long(
    env: SyntheticEnv, quota: float = 500.0, concurrency: int = 192, *, direct: bool = True
) -> dict[str, Any]:
    """:func:`quota_saturation` over a synthetic source of tens of thousands of keys: a sweep
    long enough (20,000 images: 40 s at 500 TPS) that its fixed start and tail weigh ~1%, not
    ~15%. Copies go to a writable bucket on the same server and are counted there."""
    dest = env.fresh_dest()
    config = env.config(dest, tps=quota, concurrency=concurrency)
    before = await anyio.to_thread.run_sync(env.server.stats)
    result = await saturate(env.emulator, config, len(env.keys), quota, direct=direct, phases=True)
    after = await anyio.to_thread.run_sync(env.server.stats)
    result["copies_at_s3"] = after["copy"] - before["copy"]
    result["source"] = "synthetic"
    result["page_latency_ms"] = env.page_latency_ms
    return result


def steady_rate(stats: dict[str, Any]) -> float:
    """Calls per second between the emulator's first and last call."""
    span = (stats.get("last_call") or 0.0) - (stats.get("first_call") or 0.0)
    return float(stats["calls"]) / span if span > 0 else 0.0


def vs_sequential(env: Env, asyncfilter_rate: float, images: int) -> dict[str, Any]:
    """The published loop on the same emulator settings and images (its first ``images``)."""
    env.emulator.configure(**LATENCY, tps=QUOTA, burst=QUOTA, error_rate=0.0)
    dest = anyio.run(fresh_dest, env)
    result = published_loop(
        env.source,
        dest,
        "robin",
        "robin",
        80.0,
        s3_endpoint_url=env.moto.endpoint_url,
        rekognition_endpoint_url=env.emulator.endpoint_url,
        limit=images,
    )
    return {
        "baseline_images": result.images,
        "baseline_images_per_s": round(result.images_per_s, 3),
        "asyncfilter_images_per_s": round(asyncfilter_rate, 2),
        "speedup": round(asyncfilter_rate / result.images_per_s, 2),
    }


async def pipeline_efficiency(env: Env, rounds: int) -> dict[str, Any]:
    """No latency, quota or object checks: the full sweep against a bare loop of the same calls.

    A third variant fakes listing and copying (detection over HTTP only) to separate the
    engine's own cost from the cost of the extra S3 requests the full sweep makes.
    """
    await configure(env, **NO_LOAD)
    sweep_rates, bare_rates, detect_rates = [], [], []
    cpu: dict[str, list[float]] = {"sweep": [], "bare": [], "detection_only": [], "moto": []}
    n = len(env.keys)
    session = aioboto3.Session()
    client_config = AioConfig(max_pool_connections=40, retries={"total_max_attempts": 1})
    for _ in range(rounds):
        dest = await fresh_dest(env)
        mine, moto = own_cpu(), process_cpu(env.moto.pid)
        report = await scan(env.config(dest, tps=None, concurrency=32))
        cpu["sweep"].append((own_cpu() - mine) / n)
        cpu["moto"].append((process_cpu(env.moto.pid) - moto) / n)
        sweep_rates.append(report.stats.images_per_s)
        mine = own_cpu()
        bare_rates.append(
            await bare_detect_loop(
                env.source, env.keys, endpoint_url=env.emulator.endpoint_url, concurrency=32
            )
        )
        cpu["bare"].append((own_cpu() - mine) / n)
        mine = own_cpu()
        async with session.client(
            "rekognition", endpoint_url=env.emulator.endpoint_url, config=client_config
        ) as rek:
            report = await scan(
                env.config(dest, tps=None, concurrency=32),
                lister=FakeLister(S3Object(env.source, k, 1000) for k in env.keys),
                detector=RekognitionDetector(rek),
                copier=FakeCopier(),
            )
        detect_rates.append(report.stats.images_per_s)
        cpu["detection_only"].append((own_cpu() - mine) / n)
    sweep, bare, detect = max(sweep_rates), max(bare_rates), max(detect_rates)
    return {
        "images": len(env.keys),
        "sweep_images_per_s": round(sweep, 1),
        "bare_calls_per_s": round(bare, 1),
        "detection_only_images_per_s": round(detect, 1),
        "ratio": round(sweep / bare, 4),
        "detection_only_ratio": round(detect / bare, 4),
        "rounds": rounds,
        # CPU milliseconds per image: this process on each variant, and moto during the sweep
        "cpu_ms_per_image": {k: round(1000 * min(v), 3) for k, v in cpu.items()},
    }


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by another process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StampingDetector:
    """Wraps a detector and notes when each call starts."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.starts: list[float] = []

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        self.starts.append(time.perf_counter())
        detection: Detection = await self.inner.detect(
            obj, min_confidence=min_confidence, max_labels=max_labels
        )
        return detection


async def concurrency_curve(env: Env, levels: Sequence[int]) -> list[dict[str, Any]]:
    """Throughput against concurrency at 200 ± 50 ms, with and without the 50 TPS quota.

    Listing and copying are in-process fakes here, so the curve shows detection alone."""
    points = []
    session = aioboto3.Session()
    for quota in (None, QUOTA):
        await configure(env, **LATENCY, tps=quota, burst=quota, error_rate=0.0)
        for level in levels:
            images = min(max(20, level * 10), 250 if quota else 1500)
            cfg = AioConfig(max_pool_connections=level + 8, retries={"total_max_attempts": 1})
            async with session.client(
                "rekognition", endpoint_url=env.emulator.endpoint_url, config=cfg
            ) as rek:
                report = await scan(
                    env.config("curve-dest", tps=quota, concurrency=level),
                    lister=FakeLister(S3Object(env.source, k, 1000) for k in env.keys[:images]),
                    detector=RekognitionDetector(rek),
                    copier=FakeCopier(),
                )
            points.append(
                {
                    "concurrency": level,
                    "quota": quota,
                    "images": images,
                    "images_per_s": round(report.stats.images_per_s, 2),
                    "throttled": report.stats.throttled,
                }
            )
    return points


async def stopping(env: Env, target: int = 20) -> dict[str, Any]:
    """Calls started after the hit target is reached, and seconds until ``scan`` returns."""
    await configure(env, **LATENCY, tps=None, error_rate=0.0)
    dest = await fresh_dest(env)
    reached: list[float] = []
    hits = 0

    def on_result(result: ImageResult) -> None:
        nonlocal hits
        if result.outcome is Outcome.HIT:
            hits += 1
            if hits == target:
                reached.append(time.perf_counter())

    cfg = env.config(dest, tps=QUOTA, concurrency=32, target=target)
    async with aioboto3.Session().client(
        "rekognition",
        endpoint_url=env.emulator.endpoint_url,
        config=AioConfig(max_pool_connections=40, retries={"total_max_attempts": 1}),
    ) as rek:
        detector = StampingDetector(RekognitionDetector(rek))
        report = await scan(cfg, on_result=on_result, detector=detector)
    returned = time.perf_counter()
    t = reached[0]
    return {
        "target": target,
        "copied": report.stats.hits,
        "calls_after_target": sum(1 for s in detector.starts if s > t),
        "seconds": round(returned - t, 3),
        "surplus": report.stats.surplus,
    }


async def ledger_at_quota(
    env: Env, without: dict[str, Any], state: str, prefix: str = ""
) -> dict[str, Any]:
    """Quota saturation again, with the ledger on: its cost on throughput at the quota.

    ``prefix`` limits it to part of the images (the quick mode's time budget)."""
    await configure(env, **LATENCY, tps=QUOTA, burst=QUOTA, error_rate=0.0)
    dest = await fresh_dest(env)
    source = f"s3://{env.source}/{prefix}"
    report = await scan(env.config(dest, source=source, tps=QUOTA, concurrency=32, state=state))
    rate = report.stats.images_per_s
    return {
        "images": report.stats.decided,
        "with_ledger_images_per_s": round(rate, 2),
        "without_ledger_images_per_s": without["images_per_s"],
        "throughput_ratio_at_quota": round(rate / without["images_per_s"], 4),
    }


async def resume(env: Env, state: str) -> dict[str, Any]:
    """Interrupt a sweep halfway (graceful stop at half the images), resume it, and count the
    calls the emulator answered against the number of eligible images."""
    from asyncfilter import open_scan

    await configure(env, **NO_LOAD)
    dest = await fresh_dest(env)
    config = env.config(dest, tps=None, concurrency=32, state=state)
    half = len(env.keys) // 2
    async with open_scan(config) as sweep:
        seen = 0
        async for _ in sweep:
            seen += 1
            if seen == half:
                sweep.request_stop()
    first = sweep.report
    second = await scan(config)
    stats = await anyio.to_thread.run_sync(env.emulator.stats)
    return {
        "eligible": len(env.keys),
        "first_run_decided": first.stats.decided,
        "second_run_cached": second.stats.cached,
        "second_run_paid": second.stats.paid_calls,
        "paid_calls_at_emulator": stats["answered"],
        "paid_twice": sum(1 for n in stats["answered_by_object"].values() if n > 1),
        "copies_in_destination": await count_keys(env, dest),
    }


async def count_keys(env: Env, bucket: str) -> int:
    count = 0
    async with aioboto3.Session().client("s3", endpoint_url=env.moto.endpoint_url) as s3:
        async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            count += len(page.get("Contents", ()))
    return count


async def soak(env: Env, images: int) -> dict[str, Any]:
    """``images`` through the emulator with ~10% faults (500s, resets, truncated responses,
    stalls past the read timeout): RSS, open sockets and tasks before and after, and every image
    accounted for. Listing and copying are faked: the faults under test are DetectLabels'."""
    import asyncio

    from .overhead import rss_mb

    await configure(
        env, error_rate=0.05, reset_rate=0.02, truncate_rate=0.02, hang_rate=0.01, hang_ms=1500
    )
    keys = [f"soak/{i:06d}.jpg" for i in range(images)]
    robin = [{"Name": "Robin", "Confidence": 95.0}]
    await anyio.to_thread.run_sync(
        env.emulator.add_labels,
        [{"bucket": env.source, "key": k, "labels": robin if i % 10 == 0 else []}
         for i, k in enumerate(keys)],
    )  # fmt: skip
    marks: dict[int, float] = {}
    decided = 0
    checkpoints = {images // 10, images // 2, images}

    def on_result(result: ImageResult) -> None:
        nonlocal decided
        decided += 1
        if decided in checkpoints:
            marks[decided] = rss_mb()

    fds_before = len(os.listdir("/proc/self/fd"))
    tasks_before = len(asyncio.all_tasks())
    config = env.config(
        "soak-dest", tps=None, concurrency=32, request_timeout_s=1.0, max_attempts=8,
        retry_base_s=0.02, retry_cap_s=0.5,
    )  # fmt: skip
    report = await scan(
        config,
        on_result=on_result,
        lister=FakeLister(S3Object(env.source, k, 1000) for k in keys),
        copier=FakeCopier(),
    )
    stats = await anyio.to_thread.run_sync(env.emulator.stats)
    s = report.stats
    return {
        "images": images,
        "decided": s.decided,
        "lost": images - s.decided,
        "hits": s.hits,
        "misses": s.misses,
        "errors": s.errors,
        "errors_by_code": report.errors_by_code,
        "faults_injected": {
            "500": stats["injected_errors"],
            "reset": stats["injected_resets"],
            "truncated": stats["injected_truncations"],
            "stalled": stats["injected_hangs"],
        },
        "calls": stats["calls"],
        "rss_mb": {str(k): round(v, 1) for k, v in sorted(marks.items())},
        "rss_growth_mb": round(marks[images] - marks[images // 10], 1),
        "open_fds_before_after": [fds_before, len(os.listdir("/proc/self/fd"))],
        "tasks_before_after": [tasks_before, len(asyncio.all_tasks())],
        "seconds": round(s.elapsed_s, 1),
    }
