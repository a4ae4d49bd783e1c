"""Parallel listing: every key exactly once, whatever the layout, over real HTTP and in-process."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aioboto3
import anyio
import pytest
from aiobotocore.config import AioConfig
from helpers import seed, unique
from listing_support import TRICKY_KEYS, ListingClient, expected, flatten

from asyncfilter import SourceError
from asyncfilter._clients import session_for
from asyncfilter._fastlist import install_fast_listing
from asyncfilter._keysplit import Alphabet, probe_points
from asyncfilter._listing import S3Lister
from asyncfilter._listing_parallel import ParallelS3Lister
from asyncfilter.testing import (
    S3FaultProxy,
    S3FaultSettings,
    SyntheticS3Server,
    synthetic_s3_server,
)
from asyncfilter.testing._keyspaces import key_space

LAYOUTS = {
    "hashes": "hashes:100000",
    "folder": "folder:30000",
    "deep": "deep:30000",
    "unicode": "unicode:12000",
}


async def collect(lister: Any, bucket: str, prefix: str = "") -> list[Any]:
    return [page async for page in lister.pages(bucket, prefix)]


def by_key(objects: list[Any]) -> list[Any]:
    return sorted(objects, key=lambda o: o.key)


# --- in process: the lister's own logic -------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 3, 1000])
async def test_tricky_keys_are_listed_once_at_every_seam(page_size: int) -> None:
    client = ListingClient(TRICKY_KEYS)
    lister = ParallelS3Lister(client, concurrency=8, page_size=page_size)
    got = flatten(await collect(lister, "b"))
    assert by_key(got) == expected("b", TRICKY_KEYS)


async def test_random_unicode_layouts_are_listed_exactly() -> None:
    rng = random.Random(7)
    alphabet = "ab/-.!~ \u00e9\u4e2d\U0001f600"
    for trial in range(30):
        keys = {
            "".join(rng.choices(alphabet, k=rng.randint(1, 8))) for _ in range(rng.randint(0, 400))
        }
        prefix = rng.choice(["", "a", "a/", "\u00e9"])
        client = ListingClient(keys)
        lister = ParallelS3Lister(
            client, concurrency=rng.randint(1, 12), page_size=rng.randint(1, 9)
        )
        got = flatten(await collect(lister, "b", prefix))
        assert by_key(got) == expected("b", keys, prefix), f"trial {trial}"


async def test_a_large_part_keeps_being_split() -> None:
    # one huge folder between small ones: no range may end up with most of the bucket
    keys = list(key_space("folder:20000"))
    client = ListingClient(keys)
    lister = ParallelS3Lister(client, concurrency=8, page_size=100)
    got = flatten(await collect(lister, "b"))
    assert len(got) == len(keys)
    stats = lister.last_stats
    assert stats is not None
    assert stats.ranges >= 8
    assert stats.largest_range_keys < len(keys) / 4


class SlowPagesClient(ListingClient):
    """Pages take a while, probes none: the idle workers have time to split (as over HTTP)."""

    async def list_objects_v2(self, **kw: Any) -> dict[str, Any]:
        if kw.get("MaxKeys", 1000) > 1:
            await anyio.sleep(0.05)
        return await super().list_objects_v2(**kw)


async def test_a_small_bucket_is_not_probed_much_more_than_it_is_listed() -> None:
    # 3,000 keys in one folder, 16 workers: splitting cannot pay for many probes here
    keys = [f"img/{i:06d}.jpg" for i in range(3000)]
    client = SlowPagesClient(keys)
    lister = ParallelS3Lister(client, concurrency=16, page_size=1000)
    got = flatten(await collect(lister, "b"))
    assert sorted(o.key for o in got) == keys
    stats = lister.last_stats
    assert stats is not None
    pages = stats.requests - stats.probes
    # one probe a page, the allowance, and the first split (a coarse wave, then fine ones)
    assert stats.probes <= pages + 8 + 8 + 2 * 32


async def test_listing_runs_no_further_ahead_than_its_buffer() -> None:
    client = ListingClient(key_space("hashes:50000"))
    lister = ParallelS3Lister(client, concurrency=4, page_size=100)
    pages = lister.pages("b", "")
    try:
        await pages.__anext__()
        await anyio.wait_all_tasks_blocked()
        calls, pages_listed = client.calls, client.pages
        await anyio.wait_all_tasks_blocked()
        assert client.calls == calls  # blocked on the full stream, not listing on
        # one page taken, at most 2 in the stream's buffer, one held by each of the 4 workers
        # and the next one each asked for ahead, the seed
        assert pages_listed <= 1 + 2 + 4 * 2 + 1
    finally:
        await pages.aclose()  # type: ignore[attr-defined]


async def test_a_range_that_reaches_its_end_asks_for_no_page_after_it() -> None:
    """Pages are asked for ahead of reading, but not past the range's last key: at most one
    page a range more than its keys fill (where its first page starts mid-way), and the seed."""
    keys = [f"{folder}/{i:04d}" for folder in "abcdef" for i in range(250)]
    client = ListingClient(keys)
    lister = ParallelS3Lister(client, concurrency=6, page_size=100)
    assert len(flatten(await collect(lister, "b"))) == len(keys)
    stats = lister.last_stats
    assert stats is not None
    assert client.pages <= 1 + stats.ranges + len(keys) // 100


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="list_concurrency"):
        ParallelS3Lister(object(), concurrency=0)
    with pytest.raises(ValueError, match="page_size"):
        ParallelS3Lister(object(), page_size=1001)


# --- over HTTP: the synthetic server ----------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> Iterator[SyntheticS3Server]:
    with synthetic_s3_server(LAYOUTS) as server:
        yield server


@pytest.fixture
async def synthetic_s3(synthetic: SyntheticS3Server) -> AsyncIterator[Any]:
    config = AioConfig(max_pool_connections=64)
    session = session_for(profile=None, region="us-east-1")  # as a sweep's: timestamps as text
    async with session.client("s3", endpoint_url=synthetic.endpoint_url, config=config) as client:
        install_fast_listing(client)
        yield client


@pytest.mark.parametrize("layout", list(LAYOUTS))
async def test_every_layout_lists_exactly_what_the_bucket_holds(
    synthetic_s3: Any, layout: str
) -> None:
    lister = ParallelS3Lister(synthetic_s3, concurrency=16)
    got = flatten(await collect(lister, layout))
    assert len(got) == len({o.key for o in got})
    assert by_key(got) == expected(layout, key_space(LAYOUTS[layout]))


@pytest.mark.parametrize(
    ("layout", "prefix"),
    [("folder", "big/"), ("folder", "big"), ("hashes", "img/a"), ("deep", "03/"), ("hashes", "no")],
)
async def test_a_prefix_lists_the_same_keys_as_one_paginator(
    synthetic_s3: Any, layout: str, prefix: str
) -> None:
    one = flatten(await collect(S3Lister(synthetic_s3), layout, prefix))
    many = flatten(await collect(ParallelS3Lister(synthetic_s3, concurrency=8), layout, prefix))
    assert by_key(many) == one
    assert one == expected(layout, key_space(LAYOUTS[layout]), prefix)


async def test_a_missing_bucket_is_one_source_error(synthetic_s3: Any) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        await collect(ParallelS3Lister(synthetic_s3), "nope")


async def test_stopping_early_leaves_nothing_running(synthetic_s3: Any) -> None:
    pages = ParallelS3Lister(synthetic_s3, concurrency=8).pages("hashes", "")
    first = await pages.__anext__()
    await pages.aclose()  # type: ignore[attr-defined]
    assert len(first) > 0


# --- over HTTP: moto, and S3's SlowDown -------------------------------------------------------


MOTO_KEYS = [k for k in TRICKY_KEYS if "\uffef" not in k] + [
    *(f"photos/{i:03d}.jpg" for i in range(150)),
    *(f"deep/{i % 3}/{i % 5}/{i:03d}.png" for i in range(90)),
    *(f"{i:08x}" for i in range(0, 2**32, 2**32 // 60)),
]


@pytest.fixture
async def moto_bucket(s3: Any) -> str:
    bucket = f"list-{unique()}"
    await s3.create_bucket(Bucket=bucket)
    await seed(s3, bucket, dict.fromkeys(MOTO_KEYS, b"x"))
    return bucket


def fields(objects: list[Any]) -> list[tuple[str, int, str]]:
    return sorted((o.key, o.size, o.etag) for o in objects)


async def test_moto_bucket_of_mixed_layouts_is_listed_exactly(s3: Any, moto_bucket: str) -> None:
    one = flatten(await collect(S3Lister(s3), moto_bucket))
    assert len(one) == len(MOTO_KEYS)
    for page_size in (7, 1000):
        lister = ParallelS3Lister(s3, concurrency=6, page_size=page_size)
        assert fields(flatten(await collect(lister, moto_bucket))) == fields(one)


async def test_slowdown_is_retried_and_the_listing_is_still_exact(
    moto: Any, s3: Any, moto_bucket: str
) -> None:
    one = flatten(await collect(S3Lister(s3), moto_bucket))
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(list_slowdown_rate=0.3, seed=5))
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 10})
    async with (
        proxy.serve() as url,
        aioboto3.Session().client("s3", endpoint_url=url, config=config) as client,
    ):
        lister = ParallelS3Lister(client, concurrency=6, page_size=20)
        got = flatten(await collect(lister, moto_bucket))
    assert proxy.injected["list"] > 0
    assert fields(got) == fields(one)


async def test_a_page_that_fails_for_good_stops_the_listing_with_one_line(
    moto: Any, moto_bucket: str
) -> None:
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(list_fail_after=4))
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 2})
    async with (
        proxy.serve() as url,
        aioboto3.Session().client("s3", endpoint_url=url, config=config) as client,
    ):
        with pytest.raises(SourceError, match="SlowDown") as caught:
            await collect(ParallelS3Lister(client, concurrency=4, page_size=20), moto_bucket)
    assert "\n" not in str(caught.value)


def test_probe_points_lie_strictly_between_their_ends_in_key_order() -> None:
    rng = random.Random(3)
    alphabet = Alphabet()
    chars = "ab/-.!~ 09\u00e9\u4e2d\U0001f600"
    alphabet.learn(chars)
    for _ in range(500):
        lo, hi = sorted("".join(rng.choices(chars, k=rng.randint(1, 6))) for _ in range(2))
        for geometric in (False, True):
            points = probe_points(lo, hi, "", alphabet.chars, 8, geometric=geometric)
            assert points == sorted(set(points))
            assert all(lo < p < hi for p in points)
    assert probe_points(None, None, "img/", alphabet.chars, 4)[0].startswith("img/")


@pytest.mark.parametrize("order", ["listing", "random"])
async def test_a_sweep_that_stops_while_the_parallel_listing_runs_ends_cleanly(order: str) -> None:
    """The parallel lister holds a task group across its pages: a stop rule firing while it
    lists (the hit target here) must close it cleanly, not tear its cancel scopes."""
    from asyncfilter import Label, ScanConfig, StopReason, scan
    from asyncfilter.testing import FakeCopier, FakeDetector

    client = ListingClient(f"{d}/{i:05d}.jpg" for d in "abcdefgh" for i in range(5000))
    config = ScanConfig(source="s3://bucket", dest="s3://dest", labels=("Robin",), tps=None,
                        target=5, concurrency=8, order=order)  # fmt: skip
    lister = ParallelS3Lister(client, concurrency=8, page_size=100)
    detector = FakeDetector.every(1, hit=[Label("Robin", 99.0)])
    with anyio.fail_after(60):
        report = await scan(config, lister=lister, detector=detector, copier=FakeCopier())
    assert report.stop_reason is StopReason.TARGET
    assert report.stats.hits == 5
