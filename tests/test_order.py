"""Random sweep order: a listing spilled to disk and replayed in a keyed-hash order."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from asyncfilter import (
    Estimate,
    Label,
    Outcome,
    S3Object,
    ScanConfig,
    SourceError,
    StopReason,
    scan,
)
from asyncfilter._estimate import HitRateTracker
from asyncfilter._order import (
    LIST_USD_PER_1000_REQUESTS,
    RandomOrderLister,
    sweep_rank,
    sweep_ranks,
)
from asyncfilter.testing import FakeCopier, FakeDetector, FakeLister


async def keys_of(lister: RandomOrderLister, *, pages: int | None = None) -> list[str]:
    """The keys the lister yields; with ``pages``, stop after that many (a killed sweep)."""
    out: list[str] = []
    iterator = lister.pages("source", "")
    try:
        async for page in iterator:
            out.extend(o.key for o in page)
            if pages is not None:
                pages -= 1
                if pages == 0:
                    break
    finally:
        await iterator.aclose()  # type: ignore[attr-defined]
    return out


async def test_the_same_seed_gives_the_same_order_across_a_kill_and_resume(
    tmp_path: Path,
) -> None:
    def make(seed: int) -> RandomOrderLister:
        return RandomOrderLister(
            FakeLister(
                (S3Object("source", f"img-{i:08d}.jpg", 9) for i in range(5000)), page_size=700
            ),
            seed=seed,
            spill_dir=tmp_path,
        )

    full = await keys_of(make(42))
    killed = await keys_of(make(42), pages=3)
    resumed = await keys_of(make(42))
    assert killed == full[: len(killed)]
    assert len(killed) == 3000  # the lister's own pages: 1,000 keys each
    assert resumed == full
    assert sorted(full) == [f"img-{i:08d}.jpg" for i in range(5000)]
    other = await keys_of(make(43))
    assert other != full
    assert sorted(other) == sorted(full)
    assert os.listdir(tmp_path) == []  # every spill file removed, the killed one too


async def test_the_order_is_the_keyed_hash_order_ties_broken_by_key() -> None:
    keys = [f"p{i % 7}/k{i}" for i in range(2000)]
    objects = [S3Object("source", k, 10) for k in keys]
    got = await keys_of(RandomOrderLister(FakeLister(objects), seed=-5))
    assert got == sorted(keys, key=lambda k: (sweep_rank(-5, k), k))
    assert sweep_ranks(-5, keys[:10]) == [sweep_rank(-5, k) for k in keys[:10]]
    assert all(-(2**63) <= r < 2**63 for r in sweep_ranks(-5, keys))


async def test_every_prefix_of_the_sweep_samples_every_prefix_of_the_bucket() -> None:
    # the bucket's first tenth are all hits (a clustered prefix), listing order would put them
    # all first; in random order the sweep's first tenth holds about a tenth of them
    objects = [S3Object("source", f"{i // 1000:02d}/img-{i:05d}.jpg", 10) for i in range(10_000)]
    got = await keys_of(RandomOrderLister(FakeLister(objects), seed=1))
    first_tenth = got[:1000]
    assert 60 <= sum(k.startswith("00/") for k in first_tenth) <= 140
    assert {k[:2] for k in first_tenth} == {f"{p:02d}" for p in range(10)}


async def test_objects_keep_every_field_and_the_prefix_reaches_the_inner_lister() -> None:
    objects = [
        S3Object("source", "a/1.jpg", 11, "e1", "STANDARD"),
        S3Object("source", "a/2.jpg", 22, "e2", "GLACIER"),
        S3Object("source", "b/3.jpg", 33, "e3", "STANDARD_IA"),
    ]
    lister = RandomOrderLister(FakeLister(objects), seed=0, page_size=2)
    pages: list[Sequence[S3Object]] = [p async for p in lister.pages("source", "a/")]
    assert [len(p) for p in pages] == [2]
    assert sorted((o for p in pages for o in p), key=lambda o: o.key) == objects[:2]


async def test_the_listing_is_counted_timed_and_priced() -> None:
    ticks = iter([100.0, 112.5])
    lister = RandomOrderLister(FakeLister.numbered(2500), seed=3, clock=lambda: next(ticks))
    assert lister.listing_seconds is None
    await keys_of(lister)
    assert (lister.listed_keys, lister.listed_pages) == (2500, 3)
    assert lister.listing_seconds == 12.5
    assert lister.listing_cost_usd == pytest.approx(3 * LIST_USD_PER_1000_REQUESTS / 1000)


async def test_eligible_objects_are_counted_before_the_first_page_is_yielded() -> None:
    objects = [S3Object("source", f"k{i}.{'jpg' if i % 4 else 'txt'}", 10) for i in range(400)]
    lister = RandomOrderLister(
        FakeLister(objects), seed=2, eligible=lambda o: o.key.endswith(".jpg")
    )
    assert lister.eligible_keys is None
    iterator = lister.pages("source", "")
    async for _ in iterator:
        assert lister.eligible_keys == 300
        assert lister.listed_keys == 400
        break
    await iterator.aclose()  # type: ignore[attr-defined]
    assert RandomOrderLister(FakeLister(objects), seed=2).eligible_keys is None


class BrokenLister:
    """Lists two pages, then fails as a listing does when the bucket goes away."""

    async def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        for page in range(2):
            yield [S3Object(bucket, f"p{page}/k{i}", 1) for i in range(10)]
        raise SourceError(f"source bucket {bucket!r} does not exist")


async def test_a_failed_listing_raises_its_error_and_leaves_no_spill_file(tmp_path: Path) -> None:
    lister = RandomOrderLister(BrokenLister(), seed=1, spill_dir=tmp_path)
    with pytest.raises(SourceError, match="does not exist"):
        await keys_of(lister)
    assert os.listdir(tmp_path) == []
    assert lister.listing_seconds is None  # never finished


async def test_memory_stays_flat_as_the_listing_grows(tmp_path: Path) -> None:
    async def peak(count: int) -> int:
        lister = RandomOrderLister(FakeLister.numbered(count), seed=9, spill_dir=tmp_path)
        tracemalloc.start()
        try:
            seen = 0
            async for page in lister.pages("source", ""):
                seen += len(page)
            assert seen == count
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = await peak(3_000), await peak(24_000)
    assert large < small * 1.5  # eight times the keys, not eight times the memory


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": "7"}, "seed"),
        ({"seed": 2**130}, "seed"),
        ({"seed": 1, "page_size": 0}, "page_size"),
        ({"seed": 1, "spill_dir": Path("/nonexistent/dir")}, "spill_dir"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RandomOrderLister(FakeLister([]), **kwargs)


async def test_a_sweep_through_the_random_order_decides_every_object_once() -> None:
    config = ScanConfig(
        source="s3://source", dest="s3://dest/out", labels=("Robin",), tps=None, concurrency=8
    )
    robin = [Label("Robin", 95.0)]
    lister = RandomOrderLister(FakeLister.numbered(900, bucket="source"), seed=11)
    decided: list[str] = []
    report = await scan(
        config,
        on_result=lambda r: decided.append(r.object.key),
        lister=lister,
        detector=FakeDetector(lambda o: robin if o.key.endswith("0.jpg") else []),
        copier=FakeCopier(),
    )
    assert report.stop_reason is StopReason.COMPLETED
    assert sorted(decided) == [f"img-{i:08d}.jpg" for i in range(900)]
    assert report.stats.hits == 90


async def test_a_capped_sweep_of_a_clustered_bucket_estimates_it_in_random_order_only() -> None:
    # 10% robins, all in the bucket's last prefix: the first 300 keys listed hold none
    objects = [S3Object("source", f"{i // 500:02d}/img-{i:05d}.jpg", 10) for i in range(5000)]
    robins = {o.key: [Label("Robin", 95.0)] for o in objects[-500:]}
    config = ScanConfig(
        source="s3://source",
        dest="s3://dest/out",
        labels=("Robin",),
        tps=None,
        concurrency=8,
        max_scan=300,
    )

    async def estimate(lister: Any) -> Estimate:
        tracker = HitRateTracker(population=len(objects))
        report = await scan(
            config,
            on_result=lambda r: tracker.add(r.outcome is Outcome.HIT),
            lister=lister,
            detector=FakeDetector.from_mapping(robins),
            copier=FakeCopier(),
        )
        assert report.stop_reason is StopReason.MAX_SCAN
        result = tracker.estimate()
        assert result is not None
        assert result.n == 300
        return result

    listing = await estimate(FakeLister(objects))
    assert listing.hits == 0
    assert listing.high < 0.10  # confidently wrong: the first prefixes are not the bucket
    random_order = await estimate(RandomOrderLister(FakeLister(objects), seed=4))
    assert random_order.low <= 0.10 <= random_order.high
    assert 0.05 < random_order.estimate < 0.15
