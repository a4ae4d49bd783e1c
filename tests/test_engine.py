"""The engine and controller through the in-process fakes: every rule, no HTTP."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from asyncfilter import (
    DestinationError,
    Detection,
    ErrorRateExceeded,
    ImageResult,
    Label,
    Outcome,
    S3Object,
    ScanConfig,
    SourceError,
    StopReason,
    SweepAborted,
    Throttled,
    TransientError,
    open_scan,
    scan,
)
from asyncfilter.testing import FakeCopier, FakeDetector, FakeLister

ROBIN = [Label("Robin", 95.0, parents=("Bird",))]
TREE = [Label("Tree", 99.0)]


def config(**overrides: Any) -> ScanConfig:
    values: dict[str, Any] = {
        "source": "s3://source",
        "dest": "s3://dest/out",
        "labels": ("Robin",),
        "tps": None,
        "concurrency": 16,
        "retry_base_s": 0.001,
        "retry_cap_s": 0.002,
    }
    values.update(overrides)
    return ScanConfig(**values)


class SlowDetector:
    """Answers after ``delay`` seconds; counts calls started and calls finished."""

    def __init__(self, delay: float, labels: list[Label] | None = None) -> None:
        self.delay = delay
        self.labels = labels if labels is not None else TREE
        self.started = 0
        self.finished = 0

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        self.started += 1
        await anyio.sleep(self.delay)
        self.finished += 1
        return Detection(self.labels)


async def run(cfg: ScanConfig, **services: Any) -> tuple[Any, list[ImageResult]]:
    results: list[ImageResult] = []
    report = await scan(cfg, on_result=results.append, **services)
    return report, results


async def test_every_listed_object_ends_in_exactly_one_outcome() -> None:
    objects = [S3Object("source", f"k{i}.jpg", 10) for i in range(300)]
    objects += [S3Object("source", "notes.txt", 5), S3Object("source", "dir/", 0)]
    detector = FakeDetector.every(3, hit=ROBIN, miss=TREE)
    copier = FakeCopier()
    report, results = await run(
        config(), lister=FakeLister(objects), detector=detector, copier=copier
    )
    assert sorted(r.object.key for r in results) == sorted(o.key for o in objects)
    assert report.stop_reason is StopReason.COMPLETED
    assert report.stats.hits == 100
    assert report.stats.misses == 200
    assert report.stats.skipped == 2
    assert detector.calls == 300 == report.stats.calls_started
    assert len(copier.copies) == 100
    assert all(dest == "dest" and key == f"out/Robin/{src}" for src, dest, key in copier.copies)


@pytest.mark.parametrize("concurrency", [1, 7, 64])
async def test_hit_target_is_exact_at_any_concurrency(concurrency: int) -> None:
    copier = FakeCopier()
    report, results = await run(
        config(target=25, concurrency=concurrency),
        lister=FakeLister.numbered(2_000),
        detector=FakeDetector.every(2, hit=ROBIN, miss=TREE),
        copier=copier,
    )
    assert len(copier.copies) == 25
    assert report.stats.hits == 25
    assert report.stop_reason is StopReason.TARGET
    assert Counter(r.outcome for r in results)[Outcome.HIT] == 25


async def test_target_with_fewer_hits_copies_all_and_completes() -> None:
    copier = FakeCopier()
    report, _ = await run(
        config(target=50),
        lister=FakeLister.numbered(40),
        detector=FakeDetector.every(4, hit=ROBIN, miss=TREE),
        copier=copier,
    )
    assert len(copier.copies) == 10
    assert report.stop_reason is StopReason.COMPLETED


async def test_surplus_hits_in_flight_after_target_are_not_copied() -> None:
    detector = SlowDetector(0.01, ROBIN)
    copier = FakeCopier()
    report, results = await run(
        config(target=3, concurrency=10),
        lister=FakeLister.numbered(100),
        detector=detector,
        copier=copier,
    )
    assert len(copier.copies) == 3
    outcomes = Counter(r.outcome for r in results)
    assert outcomes[Outcome.HIT] == 3
    # the calls already in flight were paid for, so their answers are recorded, not dropped
    assert outcomes[Outcome.SURPLUS] == detector.started - 3 == detector.finished - 3
    assert report.stop_reason is StopReason.TARGET


@pytest.mark.parametrize("concurrency", [1, 32, 128])
async def test_scan_cap_is_never_exceeded(concurrency: int) -> None:
    detector = SlowDetector(0.001)
    report, results = await run(
        config(max_scan=57, concurrency=concurrency),
        lister=FakeLister.numbered(1_000),
        detector=detector,
        copier=FakeCopier(),
    )
    assert detector.started == 57
    assert report.stats.calls_started == 57
    assert len(results) == 57
    assert report.stop_reason is StopReason.MAX_SCAN


async def test_miss_cutoff_counts_consecutive_misses() -> None:
    answers = {f"img-{i:08d}.jpg": ROBIN for i in (0, 5)}
    detector = FakeDetector.from_mapping(answers)
    report, _results = await run(
        config(miss_cutoff=8, concurrency=1),
        lister=FakeLister.numbered(100),
        detector=detector,
        copier=FakeCopier(),
    )
    # hit, 4 misses, hit (streak reset), then 8 misses in a row
    assert detector.calls == 14
    assert report.stop_reason is StopReason.MISS_CUTOFF
    assert report.stats.hits == 2
    assert report.stats.misses == 12


async def test_per_image_errors_are_recorded_and_the_sweep_goes_on() -> None:
    detector = FakeDetector.from_mapping(
        {"img-00000003.jpg": ROBIN}, errors={"img-00000001.jpg": "InvalidImageFormatException"}
    )
    copier = FakeCopier(fail={"img-00000003.jpg": "InvalidObjectState"})
    report, results = await run(
        config(target=1), lister=FakeLister.numbered(6), detector=detector, copier=copier
    )
    by_key = {r.object.key: r for r in results}
    assert by_key["img-00000001.jpg"].error_code == "InvalidImageFormatException"
    failed_copy = by_key["img-00000003.jpg"]
    assert failed_copy.outcome is Outcome.ERROR
    assert failed_copy.error_code == "InvalidObjectState"
    assert failed_copy.match is not None  # what was detected is kept
    assert len(results) == 6
    assert report.stats.errors == 2
    # the failed copy gave its place in the target back, so the sweep did not stop early
    assert report.stop_reason is StopReason.COMPLETED


class FlakyDetector:
    """Fails each image ``failures`` times (throttled, then 5xx alternately), then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: Counter[str] = Counter()

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        self.seen[obj.key] += 1
        await anyio.lowlevel.checkpoint()
        n = self.seen[obj.key]
        if n <= self.failures:
            if n % 2:
                raise Throttled("ThrottlingException", "Rate exceeded")
            raise TransientError("InternalServerError", "boom")
        return Detection(ROBIN)


async def test_throttling_and_5xx_are_retried_without_losing_images() -> None:
    detector = FlakyDetector(failures=3)
    report, results = await run(
        config(max_attempts=4),
        lister=FakeLister.numbered(20),
        detector=detector,
        copier=FakeCopier(),
    )
    assert report.stats.hits == 20
    assert report.stats.errors == 0
    assert all(r.attempts == 4 for r in results)
    assert report.stats.throttled == 40
    assert report.stats.calls_started == 20  # retries do not count against the scan cap


async def test_exhausted_retries_become_an_error_outcome() -> None:
    report, results = await run(
        config(max_attempts=3),
        lister=FakeLister.numbered(5),
        detector=FlakyDetector(10),
        copier=FakeCopier(),
    )
    assert report.stats.errors == 5
    assert all("gave up after 3 attempts" in (r.error_message or "") for r in results)


async def test_destination_error_aborts_with_a_report() -> None:
    class BrokenCopier:
        async def copy(self, obj: S3Object, dest_bucket: str, dest_key: str) -> None:
            raise DestinationError("destination bucket 'dest' does not exist")

    with pytest.raises(DestinationError, match="does not exist") as caught:
        await scan(
            config(),
            lister=FakeLister.numbered(50),
            detector=FakeDetector.every(1, hit=ROBIN),
            copier=BrokenCopier(),
        )
    assert caught.value.report is not None
    assert caught.value.report.stop_reason is StopReason.ABORTED


async def test_source_error_aborts() -> None:
    class MissingBucket:
        async def pages(self, bucket: str, prefix: str) -> Any:
            raise SourceError(f"source bucket {bucket!r} does not exist")
            yield []  # pragma: no cover

    with pytest.raises(SweepAborted, match="source bucket 'source' does not exist"):
        await scan(
            config(),
            lister=MissingBucket(),
            detector=FakeDetector.every(1, hit=ROBIN),
            copier=FakeCopier(),
        )


async def test_open_scan_streams_every_result_and_reports() -> None:
    seen = 0
    async with open_scan(
        config(),
        lister=FakeLister.numbered(250),
        detector=FakeDetector.every(5, hit=ROBIN),
        copier=FakeCopier(),
    ) as sweep:
        async for _ in sweep:
            seen += 1
    assert seen == 250 == sweep.report.stats.decided
    assert sweep.report.stats.hits == 50


async def test_leaving_the_stream_early_stops_gracefully() -> None:
    detector = SlowDetector(0.005)
    async with open_scan(
        config(concurrency=4),
        lister=FakeLister.numbered(10_000),
        detector=detector,
        copier=FakeCopier(),
    ) as sweep:
        async for _ in sweep:
            break
    assert sweep.report.stop_reason is StopReason.INTERRUPTED
    assert detector.started == detector.finished < 100


async def test_request_stop_finishes_calls_in_flight() -> None:
    detector = SlowDetector(0.02)
    results: list[ImageResult] = []
    async with open_scan(
        config(concurrency=8),
        lister=FakeLister.numbered(10_000),
        detector=detector,
        copier=FakeCopier(),
    ) as sweep:
        async for result in sweep:
            results.append(result)
            if len(results) == 5:
                sweep.request_stop()
    assert sweep.report.stop_reason is StopReason.INTERRUPTED
    assert detector.started == detector.finished == len(results)


async def test_caller_cancellation_leaves_no_tasks_behind() -> None:
    detector = SlowDetector(0.05)
    before = len(asyncio.all_tasks())
    with anyio.move_on_after(0.2) as scope:
        await scan(
            config(concurrency=16),
            lister=FakeLister.numbered(100_000),
            detector=detector,
            copier=FakeCopier(),
        )
    assert scope.cancelled_caught
    assert len(asyncio.all_tasks()) == before
    started = detector.started
    await anyio.sleep(0.1)
    assert detector.started == started  # nothing runs on after the caller cancelled


async def test_copy_in_flight_finishes_when_the_caller_cancels() -> None:
    class SlowCopier(FakeCopier):
        async def copy(self, obj: S3Object, dest_bucket: str, dest_key: str) -> None:
            await anyio.sleep(0.2)
            await super().copy(obj, dest_bucket, dest_key)

    copier = SlowCopier()
    with anyio.move_on_after(0.05):
        await scan(
            config(concurrency=2),
            lister=FakeLister.numbered(10),
            detector=FakeDetector.every(1, hit=ROBIN),
            copier=copier,
        )
    assert len(copier.copies) == 2  # both copies that had started completed under the shield


class HangingDetector:
    """Never answers: a call the service has taken and not answered. ``started`` is set once
    ``expect`` calls have started."""

    def __init__(self, expect: int = 1) -> None:
        self.calls = 0
        self.expect = expect
        self.started = anyio.Event()

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        self.calls += 1
        if self.calls >= self.expect:
            self.started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_call_slower_than_the_grace_is_not_cut_while_the_sweep_runs() -> None:
    # the grace bounds a call only once the sweep is ending: a slow answer in a healthy sweep
    # is waited for, not abandoned and paid for a second time
    detector = SlowDetector(0.3, labels=ROBIN)
    report, results = await run(
        config(concurrency=2, call_grace_s=0.05),
        lister=FakeLister.numbered(2),
        detector=detector,
        copier=FakeCopier(),
    )
    assert [r.outcome for r in results] == [Outcome.HIT, Outcome.HIT]
    assert [r.attempts for r in results] == [1, 1]
    assert detector.started == 2
    assert report.stats.paid_calls == 2


async def test_a_call_in_flight_gets_its_grace_from_the_cancellation(tmp_path: Path) -> None:
    detector = HangingDetector(expect=3)
    state = tmp_path / "ledger.sqlite"
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:

            async def sweep() -> None:
                await scan(
                    config(concurrency=3, call_grace_s=0.2, state=str(state)),
                    lister=FakeLister.numbered(3),
                    detector=detector,
                    copier=FakeCopier(),
                )

            tg.start_soon(sweep)
            await detector.started.wait()
            tg.cancel_scope.cancel()
    # each call was waited for up to its grace, then recorded: none lost, none left running
    assert detector.calls == 3
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT outcome, retryable, error_message FROM objects").fetchall()
    assert len(rows) == 3
    assert all(row[:2] == ("error", 1) and "CallTimeout" in row[2] for row in rows)


async def test_a_stop_rule_starts_the_grace_of_calls_in_flight() -> None:
    class OneAnswer:
        """The first call answers once the second has started; the second never answers."""

        def __init__(self) -> None:
            self.started = 0
            self.second = anyio.Event()

        async def detect(
            self, obj: S3Object, *, min_confidence: float, max_labels: int | None
        ) -> Detection:
            self.started += 1
            if self.started == 1:
                await self.second.wait()
                return Detection(ROBIN)
            self.second.set()
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

    with anyio.fail_after(5):
        report, results = await run(
            config(concurrency=2, target=1, call_grace_s=0.1),
            lister=FakeLister.numbered(2),
            detector=OneAnswer(),
            copier=FakeCopier(),
        )
    # the target stops the sweep; the hanging call is given up after its grace, and recorded
    assert report.stop_reason is StopReason.TARGET
    assert sorted(r.outcome for r in results) == [Outcome.ERROR, Outcome.HIT]
    assert [r.retryable for r in results if r.outcome is Outcome.ERROR] == [True]


async def test_rate_limit_spaces_calls_without_a_burst() -> None:
    stamps: list[float] = []

    class Stamping(FakeDetector):
        async def detect(
            self, obj: S3Object, *, min_confidence: float, max_labels: int | None
        ) -> Detection:
            stamps.append(anyio.current_time())
            return Detection(TREE)

    await scan(
        config(tps=100.0, concurrency=32),
        lister=FakeLister.numbered(20),
        detector=Stamping(lambda o: TREE),
        copier=FakeCopier(),
    )
    # 20 calls at 100/s with no burst cannot all start in the first 100 ms
    assert stamps[-1] - stamps[0] >= 0.15


async def test_circuit_breaker_stops_a_sweep_that_mostly_fails() -> None:
    failing = {f"img-{i:08d}.jpg": "InvalidImageFormatException" for i in range(1000) if i % 5}
    detector = FakeDetector.from_mapping({}, errors=failing)
    with pytest.raises(ErrorRateExceeded, match=r"of the last 20 images failed \(mostly Invalid"):
        await scan(
            config(max_error_rate=0.5, error_window=20, concurrency=4),
            lister=FakeLister.numbered(1000),
            detector=detector,
            copier=FakeCopier(),
        )
    assert detector.calls < 40


async def test_circuit_breaker_tolerates_errors_below_the_rate() -> None:
    failing = {f"img-{i:08d}.jpg": "InvalidImageFormatException" for i in range(300) if i % 4 == 0}
    report = await scan(
        config(max_error_rate=0.5, error_window=20),
        lister=FakeLister.numbered(300),
        detector=FakeDetector.from_mapping({}, errors=failing),
        copier=FakeCopier(),
    )
    assert report.stop_reason is StopReason.COMPLETED
    assert report.stats.errors == 75
