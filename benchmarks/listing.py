"""Listing at scale: one paginator, parallel listing and an S3 Inventory, against the synthetic S3.

    python -m benchmarks.listing --quick        # 1 M keys
    python -m benchmarks.listing                # 10 M keys, and parallel listing of 1 M

Prints one JSON object: ``listing`` and ``inventory``. The synthetic S3 runs in its own process
and answers each page ``--latency-ms`` after it was asked for, the time it spends writing the
page included (S3 takes 50-150 ms); the client runs here, on one core.

- ``parse_ceiling_keys_per_s``: keys listed (the first million) per second of this process's
  CPU time, with no latency, by one range of the parallel lister (the direct reader,
  :mod:`asyncfilter._list_direct`): what one core can take in, however many ranges run.
- ``one_paginator_keys_per_s``: botocore's ListObjectsV2 paginator (as the AWS CLI and boto3
  list, and asyncfilter with ``--list-concurrency 1``) at the page latency. At 100 ms a page,
  10 M keys would take ~20 minutes, so it is measured on the first ``--one-pages`` pages (the
  rate of a paginator does not depend on the bucket's size) and the figure is keys/s.
- ``one_direct_paginator_keys_per_s``: the same with one range of the parallel lister, to tell
  what parallelism gives from what the direct reader gives (``speedup_vs_one_direct``).
- ``parallel_keys_per_s``: :class:`ParallelS3Lister` over the whole bucket, same latency.
- ``smaller_bucket``: parallel listing of a 1 M-key bucket (full runs), against the same
  paginator and ceiling: the ranges' start (splitting the key space) and end weigh more there.
- ``growth_mb``: resident memory at the end of the parallel listing minus after its first
  100,000 keys (the consumer counts keys and drops pages, as the engine's bounded queue does).
- ``inventory``: keys/s read from a gzip CSV inventory of the same size, generated into a
  temporary directory and served by the synthetic S3.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import aclosing
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from aiobotocore.config import AioConfig

from asyncfilter._clients import session_for
from asyncfilter._fastlist import install_fast_listing
from asyncfilter._inventory import InventoryLister
from asyncfilter._listing import S3Lister
from asyncfilter._listing_parallel import ParallelS3Lister
from asyncfilter.testing import TEST_CREDENTIALS, synthetic_s3_server
from asyncfilter.testing._inventory_files import write_inventory
from asyncfilter.testing._keyspaces import HashKeys
from asyncfilter.testing._synthetic_s3 import object_etag, object_size, object_storage_class

BUCKET = "big"


def cpu_s(pid: int) -> float:
    """CPU seconds a process has used (to see whether the server or the client is the limit)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _client(url: str, pool: int) -> Any:
    session = session_for(profile=None, region="us-east-1")
    return session.client("s3", endpoint_url=url, config=AioConfig(max_pool_connections=pool))


async def parse_ceiling(url: str, keys: int) -> dict[str, float]:
    async with await _client(url, 8) as client:
        install_fast_listing(client)
        listed = 0
        cpu, wall = time.process_time(), time.perf_counter()
        pages = ParallelS3Lister(client, concurrency=1).pages(BUCKET, "")
        async with aclosing(pages):  # stopped early: closed in this task, as the engine does
            async for page in pages:
                listed += len(page)
                if listed >= keys:
                    break
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"keys": listed, "cpu_s": cpu, "wall_s": wall, "keys_per_cpu_s": listed / cpu}


async def one_paginator(url: str, pages: int, *, direct: bool = False) -> dict[str, float]:
    async with await _client(url, 8) as client:
        install_fast_listing(client)
        listed = 0
        wall = time.perf_counter()
        lister = ParallelS3Lister(client, concurrency=1) if direct else S3Lister(client)
        iterator = lister.pages(BUCKET, "")
        async with aclosing(iterator):
            async for page in iterator:
                listed += len(page)
                pages -= 1
                if pages == 0:
                    break
        wall = time.perf_counter() - wall
    return {"keys": listed, "seconds": wall, "keys_per_s": listed / wall}


async def parallel(url: str, concurrency: int) -> dict[str, Any]:
    async with await _client(url, concurrency * 3) as client:
        install_fast_listing(client)
        lister = ParallelS3Lister(client, concurrency=concurrency)
        listed, base = 0, None
        cpu, wall = time.process_time(), time.perf_counter()
        async for page in lister.pages(BUCKET, ""):
            listed += len(page)
            if base is None and listed >= 100_000:
                base = rss_mb()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        end = rss_mb()
    stats = lister.last_stats
    assert stats is not None
    return {
        "keys": listed,
        "seconds": wall,
        "cpu_s": cpu,
        "keys_per_s": listed / wall,
        "growth_mb": round(end - (base or end), 1),
        "rss_mb": round(end, 1),
        "requests": stats.requests,
        "probes": stats.probes,
        "ranges": stats.ranges,
        "largest_range_share": round(stats.largest_range_keys / max(listed, 1), 4),
    }


def parallel_on(keys: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    """:func:`parallel` over a bucket of ``keys`` keys of its own."""
    with synthetic_s3_server({BUCKET: f"hashes:{keys}"}, latency_ms=latency_ms) as slow:
        server_cpu = cpu_s(slow.pid)
        many = anyio.run(parallel, slow.endpoint_url, concurrency)
        many["server_cpu_s"] = round(cpu_s(slow.pid) - server_cpu, 1)
    many["client_cpu_share"] = round(many["cpu_s"] / many["seconds"], 3)
    many["keys_per_client_cpu_s"] = round(keys / many["cpu_s"])
    assert many["keys"] == keys, many
    return many


def run_listing(
    keys: int, latency_ms: float, one_pages: int, concurrency: int, *, also: int | None = None
) -> dict[str, Any]:
    spec = {BUCKET: f"hashes:{keys}"}
    with synthetic_s3_server(spec) as fast:
        ceiling = anyio.run(parse_ceiling, fast.endpoint_url, min(keys, 1_000_000))
    with synthetic_s3_server(spec, latency_ms=latency_ms) as slow:
        one = anyio.run(one_paginator, slow.endpoint_url, one_pages)
        one_direct = anyio.run(partial(one_paginator, direct=True), slow.endpoint_url, one_pages)
    # on a fresh server of the same bucket: the paginators' pages leave nothing behind that
    # the parallel listing would find (a page costs the same whatever was asked before)
    many = parallel_on(keys, latency_ms, concurrency)
    smaller: dict[str, Any] = {}
    if also is not None:  # a smaller bucket, where the start and the end weigh more
        other = parallel_on(also, latency_ms, concurrency)
        smaller["smaller_bucket"] = {
            "keys": also,
            "parallel_keys_per_s": round(other["keys_per_s"]),
            "speedup": round(other["keys_per_s"] / one["keys_per_s"], 2),
            "ceiling_ratio": round(other["keys_per_s"] / ceiling["keys_per_cpu_s"], 3),
            "seconds": round(other["seconds"], 2),
            "probes": other["probes"],
        }
    return {
        "keys": keys,
        "latency_ms": latency_ms,
        "list_concurrency": concurrency,
        "one_paginator_keys_per_s": round(one["keys_per_s"]),
        "one_paginator_measured_keys": one["keys"],
        "parallel_keys_per_s": round(many["keys_per_s"]),
        "speedup": round(many["keys_per_s"] / one["keys_per_s"], 2),
        "one_direct_paginator_keys_per_s": round(one_direct["keys_per_s"]),
        "speedup_vs_one_direct": round(many["keys_per_s"] / one_direct["keys_per_s"], 2),
        "parse_ceiling_keys_per_s": round(ceiling["keys_per_cpu_s"]),
        "ceiling_ratio": round(many["keys_per_s"] / ceiling["keys_per_cpu_s"], 3),
        "growth_mb": many["growth_mb"],
        "parallel": many,
        "ceiling": ceiling,
        **smaller,
    }


def _rows(keys: int) -> Any:
    for key in HashKeys(keys):
        yield key, object_size(key), object_etag(key), object_storage_class(key)


async def read_inventory(url: str, manifest_key: str) -> dict[str, Any]:
    async with await _client(url, 8) as client:
        lister = InventoryLister(client, f"s3://inventory/{manifest_key}")
        listed, base = 0, None
        wall = time.perf_counter()
        async for page in lister.pages("big", ""):
            listed += len(page)
            if base is None and listed >= 100_000:
                base = rss_mb()
        wall = time.perf_counter() - wall
    return {
        "keys": listed,
        "seconds": round(wall, 2),
        "keys_per_s": round(listed / wall),
        "growth_mb": round(rss_mb() - (base or 0.0), 1),
    }


def run_inventory(keys: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        manifest = write_inventory(
            tmp, source_bucket=BUCKET, destination_bucket="inventory", rows=_rows(keys)
        )
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.csv.gz"))
        with synthetic_s3_server({}, files={"inventory": f"{tmp}/inventory"}) as server:
            result = anyio.run(read_inventory, server.endpoint_url, manifest)
    assert result["keys"] == keys, result
    return result | {"gzip_mb": round(size / 2**20, 1), "generated_s": round(written, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 M keys instead of 10 M")
    parser.add_argument("--keys", type=int)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--one-pages", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=64)  # the default
    parser.add_argument(
        "--also-keys", type=int, help="parallel listing of a smaller bucket too (full: 1 M)"
    )
    parser.add_argument("--inventory-keys", type=int, help="lines in the inventory (default: keys)")
    parser.add_argument("--skip-inventory", action="store_true")
    args = parser.parse_args()
    os.environ.update(TEST_CREDENTIALS)
    keys = args.keys or (1_000_000 if args.quick else 10_000_000)
    also = args.also_keys or (None if args.quick or args.keys else 1_000_000)
    result: dict[str, Any] = {
        "listing": run_listing(keys, args.latency_ms, args.one_pages, args.concurrency, also=also)
    }
    if not args.skip_inventory:
        result["inventory"] = run_inventory(args.inventory_keys or keys)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
