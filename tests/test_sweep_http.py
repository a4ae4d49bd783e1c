"""End to end through real HTTP: moto's S3 server, the Rekognition emulator, real aioboto3."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aioboto3
import anyio
import pytest
from helpers import admin, jpeg, labels_entries, list_keys, robin, seed, seed_robins

from asyncfilter import (
    CredentialsError,
    DestinationError,
    ImageResult,
    Outcome,
    SourceError,
    StopReason,
    open_scan,
    scan,
)
from asyncfilter.testing import EmulatorProcess, S3FaultProxy, make_image


def img_keys(count: int) -> list[str]:
    return [f"img/{i:05d}.jpg" for i in range(count)]


async def run(cfg: Any, **kw: Any) -> tuple[Any, list[ImageResult]]:
    results: list[ImageResult] = []
    report = await scan(cfg, on_result=results.append, **kw)
    return report, results


async def test_target_is_exact_and_hits_land_under_name(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    robins = await seed_robins(s3, emulator, source, img_keys(120), every=3)
    report, _results = await run(config_for(target=10, concurrency=16, name="robins"))
    copied = await list_keys(s3, dest)
    assert len(copied) == 10
    assert report.stats.hits == 10
    assert all(k.startswith("robins/") and k.removeprefix("robins/") in robins for k in copied)
    assert report.stop_reason is StopReason.TARGET


async def test_scan_cap_holds_at_concurrency_32_counted_at_the_emulator(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(150), every=50)
    await admin(emulator.configure, latency_ms=30, jitter_ms=10)
    report, _ = await run(config_for(max_scan=40, concurrency=32))
    stats = await admin(emulator.stats)
    assert stats["calls"] == 40 == report.stats.calls_started
    assert report.stop_reason is StopReason.MAX_SCAN
    assert stats["max_in_flight"] > 1  # the cap held with calls really running concurrently


async def test_miss_cutoff_stops_a_sweep_of_the_wrong_data(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(80), every=1000)  # one robin, first key
    report, _ = await run(config_for(miss_cutoff=12, concurrency=1))
    assert report.stop_reason is StopReason.MISS_CUTOFF
    assert report.stats.misses == 12
    assert report.stats.hits == 1
    assert (await admin(emulator.stats))["calls"] == 13


async def test_parent_and_alias_matching_over_the_wire(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    await seed(
        s3,
        source,
        {
            "songbird.jpg": jpeg("songbird.jpg"),
            "person.jpg": jpeg("person.jpg"),
            "fire.jpg": jpeg("fire.jpg"),
        },
    )
    await admin(
        emulator.add_labels,
        labels_entries(
            source,
            {
                "songbird.jpg": [
                    {"Name": "Songbird", "Confidence": 91, "Parents": [{"Name": "Bird"}]}
                ],
                "person.jpg": [
                    {"Name": "Person", "Confidence": 99, "Aliases": [{"Name": "Human"}]}
                ],
                "fire.jpg": [{"Name": "Bonfire", "Confidence": 99, "Parents": [{"Name": "Fire"}]}],
            },
        ),
    )
    _report, results = await run(config_for(labels=("bird", "HUMAN"), name="picked"))
    matches = {r.object.key: r.match for r in results if r.match}
    assert matches["songbird.jpg"] is not None
    assert matches["songbird.jpg"].via == "parent"
    assert matches["person.jpg"] is not None
    assert matches["person.jpg"].via == "alias"
    assert "fire.jpg" not in matches
    assert sorted(await list_keys(s3, dest)) == ["picked/person.jpg", "picked/songbird.jpg"]


async def test_threshold_is_sent_as_min_confidence(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed(s3, buckets[0], {"a.jpg": jpeg("a.jpg"), "b.jpg": jpeg("b.jpg")})
    await admin(
        emulator.add_labels,
        labels_entries(buckets[0], {"a.jpg": [robin(79.0)], "b.jpg": [robin(92.0)]}),
    )
    _report, results = await run(config_for(threshold=80))
    assert {r.object.key: r.outcome for r in results} == {
        "a.jpg": Outcome.MISS,
        "b.jpg": Outcome.HIT,
    }


async def test_ineligible_objects_are_skipped_with_zero_calls(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed(
        s3,
        buckets[0],
        {
            "notes.txt": b"hello",
            "folder/": b"",
            "empty.jpg": b"",
            "anim.gif": make_image(96, 96, fmt="GIF"),
            "huge.png": b"\x89PNG\r\n\x1a\n" + b"\0" * (15 * 1024 * 1024),
        },
    )
    report, results = await run(config_for())
    reasons = {r.object.key: r.skip_reason.value for r in results if r.skip_reason}
    assert reasons == {
        "notes.txt": "unsupported_type",
        "folder/": "folder",
        "empty.jpg": "empty",
        "anim.gif": "unsupported_type",
        "huge.png": "too_large",
    }
    assert (await admin(emulator.stats))["calls"] == 0
    assert report.stats.paid_calls == 0
    assert report.stop_reason is StopReason.COMPLETED


async def test_per_image_service_errors_are_recorded_and_the_sweep_goes_on(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source = buckets[0]
    await seed(
        s3,
        source,
        {
            "html.jpg": b"<html>not an image</html>",
            "tiny.jpg": make_image(40, 40),
            "denied.jpg": jpeg("denied.jpg"),
            "good.jpg": jpeg("good.jpg"),
        },
    )
    await admin(
        emulator.add_labels,
        [
            {"bucket": source, "key": "denied.jpg", "error": "AccessDeniedException"},
            {"bucket": source, "key": "good.jpg", "labels": [robin()]},
        ],
    )

    class GhostLister:
        """Lists one object that is gone by the time Rekognition looks for it."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def pages(self, bucket: str, prefix: str) -> Any:
            from asyncfilter import S3Object

            yield [S3Object(bucket, "deleted.jpg", 1234)]
            async for page in self.inner.pages(bucket, prefix):
                yield page

    from asyncfilter import S3Lister

    report, results = await run(config_for(), lister=GhostLister(S3Lister(s3)))
    codes = {r.object.key: r.error_code for r in results if r.outcome is Outcome.ERROR}
    assert codes == {
        "html.jpg": "InvalidImageFormatException",
        "tiny.jpg": "InvalidParameterException",
        "denied.jpg": "AccessDeniedException",
        "deleted.jpg": "InvalidS3ObjectException",
    }
    assert report.stats.hits == 1
    assert report.stop_reason is StopReason.COMPLETED


async def test_throttling_is_retried_and_nothing_is_lost(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    robins = await seed_robins(s3, emulator, buckets[0], img_keys(40), every=4)
    # the quota is half the rate we send at, and one call in ten fails with a 500
    await admin(emulator.configure, tps=15, burst=1, error_rate=0.1)
    report, results = await run(
        config_for(concurrency=16, tps=60, max_attempts=30, retry_base_s=0.05, retry_cap_s=1.0)
    )
    stats = await admin(emulator.stats)
    assert stats["throttled"] > 0
    assert stats["injected_errors"] > 0
    assert report.stats.errors == 0
    assert len(results) == 40
    assert report.stats.hits == len(robins)
    assert report.stats.throttled == stats["throttled"]


AWKWARD_KEYS = [
    "with space.jpg",
    "plus+sign.jpg",
    "amp&ersand.jpg",
    "per%25cent%.jpg",
    "ünïcødé/日本語.jpg",
    "emoji 🐦.png",
    "quote'and\"double.jpg",
    "question?hash#.jpg",
    "a/b//c/deep.jpg",
    "tilde~star*.jpg",
]


async def test_awkward_keys_round_trip_byte_identical(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    bodies = {
        key: make_image(96, 96 + i, fmt="PNG" if key.endswith(".png") else "JPEG")
        for i, key in enumerate(AWKWARD_KEYS)
    }
    await seed(s3, source, bodies)
    await admin(emulator.add_labels, labels_entries(source, {k: [robin()] for k in AWKWARD_KEYS}))
    report, _ = await run(config_for())
    assert report.stats.hits == len(AWKWARD_KEYS)
    copied = await list_keys(s3, dest)
    assert sorted(copied) == sorted(f"Robin/{k}" for k in AWKWARD_KEYS)
    for key in AWKWARD_KEYS:
        obj = await s3.get_object(Bucket=dest, Key=f"Robin/{key}")
        async with obj["Body"] as body:
            assert await body.read() == bodies[key]


async def test_source_prefix_limits_the_sweep(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    await seed(s3, source, {"robin/a.jpg": jpeg("robin/a.jpg"), "other/b.jpg": jpeg("other/b.jpg")})
    await admin(
        emulator.add_labels,
        labels_entries(source, {"robin/a.jpg": [robin()], "other/b.jpg": [robin()]}),
    )
    report, _ = await run(config_for(source=f"s3://{source}/robin/", dest=f"s3://{dest}/train"))
    assert await list_keys(s3, dest) == ["train/Robin/robin/a.jpg"]
    assert report.stats.listed == 1


async def test_missing_source_bucket_stops_before_paying(
    emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    with pytest.raises(SourceError, match="source bucket 'no-such-bucket-here' does not exist"):
        await scan(config_for(source="s3://no-such-bucket-here"))
    assert (await admin(emulator.stats))["calls"] == 0


async def test_missing_destination_stops_before_paying(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(5), every=1)
    with pytest.raises(
        DestinationError, match="destination bucket 'gone-dest-bucket' does not exist"
    ):
        await scan(config_for(dest="s3://gone-dest-bucket"))
    assert (await admin(emulator.stats))["calls"] == 0


async def test_destination_lost_mid_sweep_aborts_at_first_copy(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(30), every=1)
    with pytest.raises(DestinationError) as caught:
        await scan(config_for(preflight=False, dest="s3://gone-dest-bucket", concurrency=2))
    assert caught.value.report is not None
    assert caught.value.report.stats.hits == 0
    assert caught.value.report.stats.calls_started <= 4


async def test_rejected_credentials_abort_with_one_clear_error(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(30), every=2)
    await admin(emulator.configure, reject_access_keys=["testing"])
    with pytest.raises(CredentialsError, match="Rekognition rejected the credentials"):
        await scan(config_for(concurrency=4))
    assert await list_keys(s3, buckets[1]) == []


async def test_shared_session_and_streaming_results(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    robins = await seed_robins(s3, emulator, buckets[0], img_keys(30), every=3)
    session = aioboto3.Session()
    outcomes: Counter[Outcome] = Counter()
    async with open_scan(config_for(), session=session, s3_client=s3) as sweep:
        async for result in sweep:
            outcomes[result.outcome] += 1
    assert outcomes[Outcome.HIT] == len(robins)
    assert sum(outcomes.values()) == 30
    # the caller's client is still usable: the sweep did not close what it did not open
    assert len(await list_keys(s3, buckets[1])) == len(robins)


async def test_caller_cancellation_stops_calls(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(200), every=5)
    await admin(emulator.configure, latency_ms=100)
    with anyio.move_on_after(0.8) as scope:
        await scan(config_for(concurrency=4))
    assert scope.cancelled_caught
    calls = (await admin(emulator.stats))["calls"]
    await anyio.sleep(0.3)
    assert (await admin(emulator.stats))["calls"] == calls < 200


async def test_expected_bucket_owner_is_sent_on_every_s3_call(
    moto: Any, s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    """Checked where S3 receives them: the direct listing sends its pages itself."""
    await seed_robins(s3, emulator, buckets[0], img_keys(12), every=3)
    proxy = S3FaultProxy(moto.endpoint_url)
    async with proxy.serve() as url:
        report = await scan(config_for(expected_bucket_owner="123456789012", s3_endpoint_url=url))
    assert report.stats.hits == 4
    kinds = {kind for kind, _ in proxy.received}
    assert {"head-bucket", "list", "copy"} <= kinds
    assert {owner for _, owner in proxy.received} == {"123456789012"}


async def test_throttling_storm_adapts_the_rate_and_loses_nothing(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    """A quota of 4/s against --tps 100: the adaptive rate falls (a fixed one does not), and
    nothing is lost either way. The quota is far below what any machine sends, so throttling
    is certain however busy the machine; how much less AIMD is throttled than a fixed rate is
    a number, measured side by side in the benchmarks."""
    await seed_robins(s3, emulator, buckets[0], img_keys(16), every=4)
    for adaptive in (False, True):
        await admin(emulator.reset)
        await admin(emulator.configure, tps=4, burst=1)
        report = await scan(
            config_for(
                tps=100.0, adaptive=adaptive, concurrency=8, max_attempts=100,
                retry_base_s=0.05, retry_cap_s=0.5, name=f"adaptive-{adaptive}".lower(),
            )
        )  # fmt: skip
        stats = await admin(emulator.stats)
        assert report.stats.throttled > 0
        # (a call left over from an earlier test may be throttled here too, never fewer)
        assert report.stats.throttled <= stats["throttled"]
        assert report.stats.errors == 0
        assert report.stats.decided == 16  # nothing lost either way
        assert report.stats.rate is not None
        if adaptive:
            assert report.stats.rate < 100.0  # it backed off
        else:
            assert report.stats.rate == 100.0


async def test_resets_truncations_and_timeouts_are_retried(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    robins = await seed_robins(s3, emulator, buckets[0], img_keys(40), every=4)
    # seeded, and each fault at 1 call in 5: all three happen in the ~80 calls made (at 1 in 10,
    # from wherever an earlier test left the generator, a run with no hang came up about once
    # in a hundred)
    await admin(
        emulator.configure, reset_rate=0.2, truncate_rate=0.2, hang_rate=0.2, hang_ms=3000, seed=5
    )
    report, results = await run(
        config_for(concurrency=8, request_timeout_s=0.5, max_attempts=20, retry_base_s=0.02)
    )
    stats = await admin(emulator.stats)
    assert stats["injected_resets"] > 0
    assert stats["injected_truncations"] > 0
    assert stats["injected_hangs"] > 0
    assert report.stats.errors == 0
    assert len(results) == 40
    assert report.stats.hits == len(robins)


async def test_exhausted_retries_record_the_cause(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], img_keys(6), every=2)
    await admin(emulator.configure, hang_rate=1.0, hang_ms=2000)
    report, results = await run(config_for(request_timeout_s=0.3, max_attempts=2))
    assert report.stats.errors == 6
    assert len(results) == 6
    # the cause is kept: the read timed out (or the stalled connection was closed under it)
    assert {r.error_code for r in results} <= {"ReadTimeoutError", "ConnectionClosedError"}
    assert all("gave up after 2 attempts" in (r.error_message or "") for r in results)


async def test_junk_in_the_bucket_each_ends_in_a_recorded_outcome(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source = buckets[0]
    long_key = "k/" + "x" * 1018 + ".jpg"  # 1,024 bytes: the longest key S3 allows
    await seed(
        s3,
        source,
        {
            "scan.tif": make_image(96, 96, fmt="TIFF"),
            "webp-in-disguise.jpg": make_image(96, 96, fmt="WEBP"),
            "gif-in-disguise.png": make_image(96, 96, fmt="GIF"),
            long_key: jpeg(long_key),
        },
    )
    await s3.put_object(
        Bucket=source, Key="cold.jpg", Body=jpeg("cold.jpg"), StorageClass="GLACIER"
    )
    await admin(
        emulator.add_labels, labels_entries(source, {long_key: [robin()], "cold.jpg": [robin()]})
    )
    report, results = await run(config_for())
    by_key = {r.object.key: r for r in results}
    assert len(by_key) == 5
    assert by_key["scan.tif"].skip_reason is not None
    assert by_key["scan.tif"].skip_reason.value == "unsupported_type"
    assert by_key["cold.jpg"].skip_reason is not None
    assert by_key["cold.jpg"].skip_reason.value == "archived"
    assert by_key["webp-in-disguise.jpg"].error_code == "InvalidImageFormatException"
    assert by_key["gif-in-disguise.png"].error_code == "InvalidImageFormatException"
    # a hit could never be copied (Robin/ + 1,024 bytes passes S3's key limit): not paid for
    assert by_key[long_key].skip_reason is not None
    assert by_key[long_key].skip_reason.value == "dest_key_too_long"
    calls = {
        name: n
        for name, n in (await admin(emulator.stats))["calls_by_object"].items()
        if name.startswith(f"{source}/")
    }
    assert calls == {f"{source}/webp-in-disguise.jpg": 1, f"{source}/gif-in-disguise.png": 1}
    assert report.stop_reason is StopReason.COMPLETED


async def test_s3_slowdown_on_listing_and_copies_is_retried(
    s3: Any, moto: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    from asyncfilter.testing import S3FaultProxy, S3FaultSettings

    source, dest = buckets
    robins = await seed_robins(s3, emulator, source, img_keys(30), every=2)
    proxy = S3FaultProxy(
        moto.endpoint_url,
        S3FaultSettings(list_slowdown_rate=0.5, copy_slowdown_rate=0.3, seed=3),
    )
    async with proxy.serve() as url:
        report, results = await run(config_for(s3_endpoint_url=url, preflight=False))
    assert proxy.injected["list"] > 0
    assert proxy.injected["copy"] > 0
    assert report.stats.errors == 0
    assert len(results) == 30
    assert sorted(await list_keys(s3, dest)) == sorted(f"Robin/{k}" for k in robins)
