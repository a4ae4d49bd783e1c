"""The synthetic S3 answers ListObjectsV2 as moto (and S3) do, for the same keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from botocore.exceptions import ClientError
from helpers import admin, robin, seed, unique
from listing_support import TRICKY_KEYS

from asyncfilter import ScanConfig, scan
from asyncfilter.testing import EmulatorProcess, SyntheticS3Server, synthetic_s3_server
from asyncfilter.testing._keyspaces import DeepKeys, HashKeys, key_space
from asyncfilter.testing._synthetic_s3 import object_etag, object_size, object_storage_class

KEYS = [k for k in TRICKY_KEYS if "\uffef" not in k] + [f"a/{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyntheticS3Server]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys_file.write_text("\n".join(KEYS) + "\n", encoding="utf-8")
    buckets = {"same": f"file:{keys_file}", "sweep-src": "hashes:200"}
    with synthetic_s3_server(buckets, writable=("copies", "sweep-dest")) as server:
        yield server


@pytest.fixture
async def synthetic_s3(synthetic: SyntheticS3Server) -> AsyncIterator[Any]:
    async with aioboto3.Session().client("s3", endpoint_url=synthetic.endpoint_url) as client:
        yield client


def shape(page: dict[str, Any]) -> dict[str, Any]:
    """What must agree: keys, folders, truncation and counts (not sizes or ETags)."""
    return {
        "keys": [c["Key"] for c in page.get("Contents", ())],
        "folders": [p["Prefix"] for p in page.get("CommonPrefixes", ())],
        "truncated": page["IsTruncated"],
        "count": page["KeyCount"],
        "prefix": page.get("Prefix"),
        "delimiter": page.get("Delimiter"),
        "start_after": page.get("StartAfter"),
    }


async def pages(client: Any, bucket: str, **kwargs: Any) -> list[dict[str, Any]]:
    out = []
    while True:
        page = await client.list_objects_v2(Bucket=bucket, **kwargs)
        out.append(shape(page))
        if not page["IsTruncated"]:
            return out
        kwargs.pop("StartAfter", None)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


@pytest.mark.parametrize(
    "request_args",
    [
        {},
        {"MaxKeys": 4},
        {"Delimiter": "/"},
        {"Delimiter": "/", "MaxKeys": 3},
        {"Prefix": "a", "Delimiter": "/", "MaxKeys": 2},
        {"Prefix": "a/", "StartAfter": "a/05", "MaxKeys": 5},
        {"StartAfter": "a-b", "Delimiter": "/", "MaxKeys": 4},
        {"Prefix": "b/", "Delimiter": "/"},
        {"Prefix": "nothing"},
    ],
)
async def test_listing_pages_match_moto_for_the_same_keys(
    s3: Any, synthetic_s3: Any, request_args: dict[str, Any]
) -> None:
    bucket = f"same-{unique()}"
    await s3.create_bucket(Bucket=bucket)
    await seed(s3, bucket, dict.fromkeys(KEYS, b"x"))
    assert await pages(synthetic_s3, "same", **request_args) == await pages(
        s3, bucket, **request_args
    )


async def test_head_bucket_and_a_missing_bucket(synthetic_s3: Any) -> None:
    await synthetic_s3.head_bucket(Bucket="same")
    with pytest.raises(Exception, match="404"):
        await synthetic_s3.head_bucket(Bucket="other")


def test_generated_key_spaces_are_sorted_and_indexable() -> None:
    for spec in ("hashes:5000", "folder:5000", "deep:5000", "unicode:3000"):
        keys = key_space(spec)
        listed = list(keys)
        assert listed == sorted(set(listed)), spec
        assert len(listed) == len(keys)
        assert keys[-1] == listed[-1]
    assert len(HashKeys(10_000_000)) == 10_000_000  # nothing is stored
    assert DeepKeys(10_000_000)[9_999_999] > DeepKeys(10_000_000)[0]


def test_a_bad_key_space_is_refused_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown pattern"):
        key_space("nope:10")
    with pytest.raises(ValueError, match="PATTERN:COUNT"):
        key_space("hashes:many")
    with (
        pytest.raises(RuntimeError, match=r"synthetic S3 server exited.*unknown pattern"),
        synthetic_s3_server({"b": "nope:1"}, timeout=20),
    ):
        pass


async def listed(client: Any, bucket: str, prefix: str = "") -> dict[str, tuple[int, str]]:
    """Every object under ``prefix``: key -> (size, ETag)."""
    out = {}
    async for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 3}
    ):
        out.update({c["Key"]: (c["Size"], c["ETag"]) for c in page.get("Contents", ())})
    return out


async def test_copies_land_in_a_writable_bucket_listed_in_order_with_the_sources_size_and_etag(
    synthetic_s3: Any,
) -> None:
    tag = unique()
    sources = ["a/03", "c+d", "c%2Fd", "c&d<e>", "\u00e9t\u00e9/x", "a ", "a/00"]
    for key in sources:
        answer = await synthetic_s3.copy_object(
            Bucket="copies", Key=f"{tag}/{key}", CopySource={"Bucket": "same", "Key": key}
        )
        assert answer["CopyObjectResult"]["ETag"] == f'"{object_etag(key)}"'
    copies = await listed(synthetic_s3, "copies", f"{tag}/")
    assert list(copies) == sorted(f"{tag}/{key}" for key in sources)
    originals = await listed(synthetic_s3, "same")
    for key in sources:
        assert (
            copies[f"{tag}/{key}"] == originals[key] == (object_size(key), f'"{object_etag(key)}"')
        )
    head = await synthetic_s3.head_object(Bucket="copies", Key=f"{tag}/{sources[0]}")
    assert head["ContentLength"] == object_size(sources[0])


async def test_a_copy_of_a_missing_key_or_bucket_fails_as_s3_says(synthetic_s3: Any) -> None:
    tag = unique()
    cases = [
        ({"Bucket": "same", "Key": "not/there"}, "copies", "NoSuchKey"),
        ({"Bucket": "nowhere", "Key": "a/00"}, "copies", "NoSuchBucket"),
        ({"Bucket": "same", "Key": "a/00"}, "nowhere", "NoSuchBucket"),
        ({"Bucket": "same", "Key": "a/00"}, "same", "AccessDenied"),  # not writable
    ]
    for source, bucket, code in cases:
        with pytest.raises(ClientError) as caught:
            await synthetic_s3.copy_object(Bucket=bucket, Key=f"{tag}/x", CopySource=source)
        assert caught.value.response["Error"]["Code"] == code
    assert await listed(synthetic_s3, "copies", f"{tag}/") == {}


async def test_a_put_object_is_kept_listed_and_read_back(synthetic_s3: Any) -> None:
    key = f"{unique()}/manifest.jsonl"
    body = b'{"source-ref": "s3://same/a/00"}\n'
    await synthetic_s3.put_object(Bucket="copies", Key=key, Body=body)
    got = await synthetic_s3.get_object(Bucket="copies", Key=key)
    assert await got["Body"].read() == body
    assert (await listed(synthetic_s3, "copies", key))[key][0] == len(body)
    await synthetic_s3.put_object(Bucket="copies", Key=key, Body=b"again")  # an overwrite
    assert (await listed(synthetic_s3, "copies", key))[key][0] == len(b"again")
    with pytest.raises(ClientError, match="NoSuchKey"):
        await synthetic_s3.get_object(Bucket="copies", Key=f"{key}.missing")


async def test_the_bucket_location_is_answered_for_known_buckets_only(synthetic_s3: Any) -> None:
    assert (await synthetic_s3.get_bucket_location(Bucket="copies")).get("LocationConstraint") in (
        None,
        "",
    )
    with pytest.raises(ClientError, match="NoSuchBucket"):
        await synthetic_s3.get_bucket_location(Bucket="nowhere")


async def test_a_whole_sweep_copies_every_hit_into_the_writable_bucket_and_loses_nothing(
    synthetic: SyntheticS3Server, synthetic_s3: Any, emulator: EmulatorProcess
) -> None:
    keys = list(key_space("hashes:200"))
    robins = {k for i, k in enumerate(keys) if i % 10 == 0}
    labels = [
        {"bucket": "sweep-src", "key": k, "labels": [robin()] if k in robins else []} for k in keys
    ]
    await admin(emulator.add_labels, labels)
    await admin(emulator.configure, check_objects=False)
    before = synthetic.stats()
    report = await scan(
        ScanConfig(
            source="s3://sweep-src",
            dest="s3://sweep-dest",
            labels=("Robin",),
            s3_endpoint_url=synthetic.endpoint_url,
            rekognition_endpoint_url=emulator.endpoint_url,
        )
    )
    glacier = {k for k in keys if object_storage_class(k) == "GLACIER"}
    s = report.stats
    assert (s.listed, s.errors, s.skipped) == (200, 0, len(glacier))
    assert s.decided == 200  # every key decided: GLACIER ones skipped, the rest detected
    assert s.hits + s.misses == 200 - len(glacier)
    expected = {f"Robin/{k}" for k in robins - glacier}
    assert s.hits == len(expected)
    assert set(await listed(synthetic_s3, "sweep-dest")) == expected
    after = synthetic.stats()
    assert after["copy"] - before["copy"] == len(expected)


def test_a_writable_bucket_that_is_also_a_source_is_refused_with_one_line() -> None:
    with (
        pytest.raises(RuntimeError, match=r"exited.*writable: bucket 'b' is already defined"),
        synthetic_s3_server({"b": "hashes:1"}, writable=("b",), timeout=20),
    ):
        pass


async def test_head_object_reports_the_listed_size_and_a_missing_key_is_a_404(
    synthetic_s3: Any,
) -> None:
    head = await synthetic_s3.head_object(Bucket="same", Key="c&d<e>")
    assert (head["ContentLength"], head["ETag"]) == (
        object_size("c&d<e>"),
        f'"{object_etag("c&d<e>")}"',
    )
    for bucket in ("same", "copies"):
        with pytest.raises(ClientError, match="404"):
            await synthetic_s3.head_object(Bucket=bucket, Key="not/there")


async def test_a_pages_latency_includes_the_time_spent_writing_it() -> None:
    """``latency_ms`` is the page's whole round trip in the server: writing the page counts
    against it, as S3's own work is part of its 50-150 ms. Before, the server waited the full
    latency and then wrote the page, so a loaded server stretched every page past it."""
    from aiohttp.test_utils import make_mocked_request

    from asyncfilter.testing._synthetic_s3 import SyntheticS3

    server = SyntheticS3({"big": HashKeys(5000)}, latency_ms=100)
    now = [10.0]
    waits: list[float] = []
    write, writing_s = server._page, [0.03]

    def slow_write(*args: Any) -> bytes:
        now[0] += writing_s[0]  # writing the page takes this long on the server's clock
        return write(*args)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    server._clock, server._sleep = (lambda: now[0]), sleep
    server._page = slow_write  # type: ignore[method-assign,assignment]
    request = make_mocked_request(
        "GET", "/big?list-type=2&max-keys=1000", match_info={"bucket": "big"}
    )
    response = await server._list(request)
    assert response.status == 200
    assert isinstance(response.body, bytes)
    assert response.body.count(b"<Contents>") == 1000
    assert waits == [pytest.approx(0.07)]
    assert now[0] == pytest.approx(10.1)  # answered 100 ms after it was asked for

    waits.clear()
    writing_s[0] = 0.25
    await server._list(request)
    assert waits == [0.0]  # a page slower to write than the latency is not held back further
