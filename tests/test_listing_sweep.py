"""The new sources drive a real sweep (moto + the emulator), the engine unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from helpers import jpeg, list_keys, seed, seed_robins

from asyncfilter import ImageResult, Outcome, scan
from asyncfilter._sources import make_lister
from asyncfilter.testing import EmulatorProcess
from asyncfilter.testing._inventory_files import write_inventory


async def test_a_parallel_listing_sweeps_every_image_once(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    keys = [f"{d}/{i:03d}.jpg" for d in ("a", "b", "b-", "c/d") for i in range(15)]
    robins = await seed_robins(s3, emulator, source, keys, every=3)
    config = config_for(list_concurrency=6, page_size=7)
    results: list[ImageResult] = []
    report = await scan(config, on_result=results.append, lister=make_lister(config, s3))
    assert sorted(r.object.key for r in results) == sorted(keys)
    assert report.stats.errors == 0
    assert sorted(await list_keys(s3, dest)) == sorted(f"Robin/{k}" for k in robins)


async def test_a_stale_inventory_records_the_deleted_object_and_goes_on(
    s3: Any,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> None:
    source, dest = buckets
    keys = [f"img/{i:02d}.jpg" for i in range(12)]
    robins = await seed_robins(s3, emulator, source, keys, every=3)
    inventory_bucket = f"{dest}-inv"
    await s3.create_bucket(Bucket=inventory_bucket)
    # an inventory carries each object's real size and ETag (the MD5 of its bytes)
    rows = [(k, len(jpeg(k)), hashlib.md5(jpeg(k)).hexdigest(), "STANDARD") for k in keys]
    manifest = write_inventory(
        tmp_path, source_bucket=source, destination_bucket=inventory_bucket, rows=rows
    )
    root = tmp_path / inventory_bucket
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    await seed(s3, inventory_bucket, files)
    await s3.delete_object(Bucket=source, Key="img/01.jpg")  # deleted since the inventory
    config = config_for(inventory=f"s3://{inventory_bucket}/{manifest}")
    results: list[ImageResult] = []
    report = await scan(config, on_result=results.append, lister=make_lister(config, s3))
    by_key = {r.object.key: r for r in results}
    assert sorted(by_key) == keys
    gone = by_key["img/01.jpg"]
    assert gone.outcome is Outcome.ERROR
    assert gone.error_code == "InvalidS3ObjectException"
    assert report.stats.errors == 1
    assert sorted(await list_keys(s3, dest)) == sorted(f"Robin/{k}" for k in robins)
