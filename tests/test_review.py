"""The review band and the boxes kept with every hit and review image, over real HTTP."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from helpers import jpeg, labels_entries, list_keys, seed

from asyncfilter import ConfigError, ImageResult, Outcome, ScanConfig, scan
from asyncfilter.testing import EmulatorProcess

BOX = {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4}


def robin_at(confidence: float, boxes: int = 1) -> dict[str, Any]:
    return {
        "Name": "Robin",
        "Confidence": confidence,
        "Parents": [{"Name": "Bird"}],
        "Instances": [{"BoundingBox": BOX, "Confidence": confidence - 1}] * boxes,
    }


async def seed_band(s3: Any, emulator: EmulatorProcess, bucket: str) -> dict[str, str]:
    """Keys by what they should become at threshold 80 with a review band from 60."""
    plan = {f"sure-{i}.jpg": 95.0 for i in range(6)}
    plan |= {f"maybe-{i}.jpg": 70.0 for i in range(5)}
    plan |= {f"faint-{i}.jpg": 40.0 for i in range(3)}
    await seed(s3, bucket, {k: jpeg(k) for k in plan})
    entries = labels_entries(bucket, {k: [robin_at(c)] for k, c in plan.items()})
    await anyio.to_thread.run_sync(emulator.add_labels, entries)
    return {k: "hit" if c >= 80 else "review" if c >= 60 else "miss" for k, c in plan.items()}


async def test_review_band_is_copied_apart_and_never_counts_toward_the_target(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> None:
    source, dest = buckets
    expected = await seed_band(s3, emulator, source)
    results: list[ImageResult] = []
    ledger = tmp_path / "ledger.sqlite"
    report = await scan(
        config_for(review_threshold=60, concurrency=1, state=str(ledger)),
        on_result=results.append,
    )
    by_key = {r.object.key: r for r in results}
    assert {k: r.outcome.value for k, r in by_key.items()} == expected
    copied = sorted(await list_keys(s3, dest))
    assert copied == sorted(
        [f"Robin/{k}" for k, v in expected.items() if v == "hit"]
        + [f"_review/Robin/{k}" for k, v in expected.items() if v == "review"]
        + ["_review/Robin.manifest"]
    )
    assert report.stats.review == 5
    assert report.stats.hits == 6
    assert report.review_manifest == f"s3://{dest}/_review/Robin.manifest"
    review = await read_manifest(s3, dest, "_review/Robin.manifest")
    assert sorted(line["source"] for line in review) == sorted(
        f"s3://{source}/{k}" for k, v in expected.items() if v == "review"
    )
    assert all(line["source-ref"].startswith(f"s3://{dest}/_review/Robin/") for line in review)
    assert all(0.6 <= line["confidence"] < 0.8 for line in review)
    assert all(line["instances"][0]["BoundingBox"] == BOX for line in review)
    # every hit and review image carries the matching label's boxes, in results and ledger
    for r in results:
        if r.outcome in (Outcome.HIT, Outcome.REVIEW):
            assert r.match is not None
            assert [
                (i.box.left, i.box.top, i.box.width, i.box.height) for i in r.match.instances
            ] == [(0.1, 0.2, 0.3, 0.4)]
            assert r.to_dict()["match"]["instances"][0]["BoundingBox"] == BOX
    with sqlite3.connect(ledger) as db:
        rows = dict(db.execute("SELECT key, match_instances FROM objects WHERE copied = 1"))
    assert len(rows) == 11
    assert all('"Left": 0.1' in boxes for boxes in rows.values())

    # resumed: the same outcomes from the ledger, nothing paid or copied again
    await anyio.to_thread.run_sync(emulator.reset)
    again = await scan(config_for(review_threshold=60, concurrency=1, state=str(ledger)))
    assert (again.stats.hits, again.stats.review, again.stats.paid_calls) == (6, 5, 0)
    assert (await anyio.to_thread.run_sync(emulator.stats))["calls"] == 0
    assert len(await read_manifest(s3, dest, "_review/Robin.manifest")) == 5


async def read_manifest(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    response = await s3.get_object(Bucket=bucket, Key=key)
    async with response["Body"] as body:
        return [orjson.loads(line) for line in (await body.read()).splitlines()]


async def test_review_manifest_without_a_ledger_lists_this_runs_band(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    expected = await seed_band(s3, emulator, source)
    report = await scan(config_for(review_threshold=60))
    assert report.review_manifest == f"s3://{dest}/_review/Robin.manifest"
    review = await read_manifest(s3, dest, "_review/Robin.manifest")
    assert sorted(line["source-ref"] for line in review) == sorted(
        f"s3://{dest}/_review/Robin/{k}" for k, v in expected.items() if v == "review"
    )


async def test_target_counts_only_hits_with_a_review_band(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    await seed_band(s3, emulator, source)
    report = await scan(config_for(review_threshold=60, target=6, concurrency=4))
    assert report.stats.hits == 6
    assert report.stop_reason.value in ("target", "completed")
    assert len(await list_keys(s3, dest, "Robin/")) == 6
    # a review image never reaches the hit folder, whatever the order
    assert all("maybe" not in k for k in await list_keys(s3, dest, "Robin/"))


async def test_review_band_needs_min_confidence_sent_low(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    """Without a band the 70s are misses: the service does not even return those labels."""
    source, _ = buckets
    expected = await seed_band(s3, emulator, source)
    results: list[ImageResult] = []
    await scan(config_for(), on_result=results.append)
    outcomes = {r.object.key: r.outcome.value for r in results}
    assert outcomes == {k: "hit" if v == "hit" else "miss" for k, v in expected.items()}


async def test_review_location_can_be_another_bucket(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    review_bucket = f"rev-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(Bucket=review_bucket)
    expected = await seed_band(s3, emulator, source)
    await scan(config_for(review_threshold=60, review=f"s3://{review_bucket}/queue"))
    assert sorted(await list_keys(s3, review_bucket)) == sorted(
        [f"queue/Robin/{k}" for k, v in expected.items() if v == "review"]
        + ["queue/Robin.manifest"]
    )
    assert all(k.startswith("Robin/") for k in await list_keys(s3, dest))


def test_review_config_is_validated() -> None:
    base = {"source": "s3://a-bucket", "dest": "s3://b-bucket", "labels": ("Robin",)}
    with pytest.raises(ConfigError, match="below the threshold"):
        ScanConfig(**base, threshold=80, review_threshold=80)
    with pytest.raises(ConfigError, match="needs a review threshold"):
        ScanConfig(**base, review="s3://c-bucket")
    with pytest.raises(ConfigError, match="review location s3://a-bucket/in/_review"):
        ScanConfig(
            source="s3://a-bucket/in/",
            dest="s3://a-bucket/out/",
            name="x",
            labels=("Robin",),
            review_threshold=50,
            review="s3://a-bucket/in/_review",
        )
    cfg = ScanConfig(**base, threshold=80, review_threshold=60)
    assert cfg.min_confidence == 60
    assert cfg.review_key("k.jpg") == "_review/Robin/k.jpg"


async def test_answers_stored_without_the_band_are_not_reused_for_it(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> None:
    """Stored at MinConfidence 80, an answer cannot show the 60-80 band: asking for the band
    plans and pays again; asking again with it then pays nothing."""
    from asyncfilter._plan import plan

    source, dest = buckets
    expected = await seed_band(s3, emulator, source)
    state = str(tmp_path / "ledger.sqlite")
    await scan(config_for(state=state))
    with_band = config_for(state=state, review_threshold=60)
    assert (await plan(with_band)).would_send == len(expected)
    report = await scan(with_band)
    assert (report.stats.paid_calls, report.stats.review) == (len(expected), 5)
    assert (await plan(with_band)).would_send == 0
    again = await scan(with_band)
    assert (again.stats.paid_calls, again.stats.review) == (0, 5)
    assert len(await list_keys(s3, dest, "_review/Robin/")) == 5
