"""Know before paying, over real HTTP: the random order, the estimate, the stop rules that
reason, plan --sample and the typo hint."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
from helpers import jpeg, labels_entries, list_keys, robin, seed

from asyncfilter import StopReason, plan, scan
from asyncfilter.testing import EmulatorProcess, MotoServer

TREE = [{"Name": "Tree", "Confidence": 99.0, "Parents": [{"Name": "Plant"}]}]


async def admin(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


async def clustered(s3: Any, emulator: EmulatorProcess, source: str) -> set[str]:
    """120 images: the 30 under a/ are all robins, the 90 under b/ and c/ are trees (25%)."""
    robins = {f"a/{i:03d}.jpg" for i in range(30)}
    others = {f"{p}/{i:03d}.jpg" for p in "bc" for i in range(45)}
    await seed(s3, source, {k: jpeg(k) for k in robins | others})
    await admin(emulator.add_labels, labels_entries(
        source, {k: [robin()] if k in robins else TREE for k in robins | others}
    ))  # fmt: skip
    return robins


async def test_random_order_estimates_a_clustered_bucket_that_listing_order_misjudges(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await clustered(s3, emulator, buckets[0])
    # one paginator: key order, so the a/ prefix comes first, as S3 lists it
    listing = await scan(
        config_for(order="listing", list_concurrency=1, max_scan=30, name="listing")
    )
    assert listing.stats.hit_rate is not None
    assert not listing.stats.random_order
    assert listing.stats.hit_rate.low > 0.25  # the first prefix is all robins: misleading

    fair = await scan(config_for(state=str(tmp_path / "l.sqlite"), max_scan=40, name="fair"))
    estimate = fair.stats.hit_rate
    assert estimate is not None
    assert fair.stats.random_order
    assert fair.stats.eligible == 120
    assert estimate.n == 40
    assert estimate.low <= 0.25 <= estimate.high
    summary = fair.to_dict()
    assert summary["order"] == "random"
    assert set(summary["hit_rate"]) == {"estimate", "low", "high", "level", "n"}
    assert summary["listing"]["keys"] == 120


async def test_plan_sample_pays_for_k_answers_that_the_sweep_then_reuses(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    robins = await clustered(s3, emulator, buckets[0])
    # a target the bucket holds with room to spare (all 30 robins would need the whole bucket)
    cfg = config_for(state=str(tmp_path / "l.sqlite"), target=15, tps=50.0)
    forecast = await plan(cfg, sample=30)
    assert (await admin(emulator.stats))["calls"] == 30
    assert forecast.sampled == 30
    assert forecast.hit_rate is not None
    assert forecast.hit_rate.n == 30
    assert forecast.forecast is not None
    low, _ = forecast.forecast.calls
    assert low is not None
    assert low > 0
    assert list(await list_keys(s3, buckets[1])) == []  # a sample copies nothing

    report = await scan(cfg)
    assert report.stop_reason is StopReason.TARGET
    assert report.stats.hits == 15
    answered = (await admin(emulator.stats))["answered_by_object"]
    assert max(answered.values()) == 1  # every sampled answer reused, none paid twice
    # the sample is the sweep's own first objects: all of them are answered from the ledger
    assert report.stats.cached >= min(30, report.stats.decided)
    copied = await list_keys(s3, buckets[1])
    assert len(copied) == 15
    assert {k.removeprefix("Robin/") for k in copied} <= robins


async def test_min_hit_rate_stops_a_poor_bucket_early(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source = buckets[0]
    keys = [f"{i:03d}.jpg" for i in range(150)]
    await seed(s3, source, {k: jpeg(k) for k in keys})
    await admin(emulator.add_labels, labels_entries(source, dict.fromkeys(keys, TREE)))
    report = await scan(config_for(state=str(tmp_path / "l.sqlite"), min_hit_rate=0.2))
    assert report.stop_reason is StopReason.LOW_HIT_RATE
    assert report.stats.decided < 150
    assert report.stop_detail is not None
    assert "below 20.00% with 95% confidence" in report.stop_detail


async def test_a_mistyped_label_gets_a_hint_in_the_summary(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    keys = [f"{i:03d}.jpg" for i in range(60)]
    await seed(s3, source, {k: jpeg(k) for k in keys})
    labels = {k: [robin()] if i % 3 else TREE for i, k in enumerate(keys)}
    await admin(emulator.add_labels, labels_entries(source, labels))
    env = {"AWS_ENDPOINT_URL_S3": moto.endpoint_url,
           "AWS_ENDPOINT_URL_REKOGNITION": emulator.endpoint_url}  # fmt: skip
    argv = [sys.executable, "-m", "asyncfilter", "scan", f"s3://{source}", "--dest",
            f"s3://{dest}", "--label", "Robbin", "--no-state"]  # fmt: skip
    proc = await anyio.run_process(argv, env=os.environ | env, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert '"Robbin" never appeared; closest seen: "Robin" (in 67% of images)' in out
    as_json = await anyio.run_process([*argv, "--json"], env=os.environ | env, check=False)
    summary = orjson.loads(as_json.stdout)
    assert summary["hits"] == 0
    assert summary["stop_detail"].startswith('"Robbin" never appeared')
