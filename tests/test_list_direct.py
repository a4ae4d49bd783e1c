"""The direct ListObjectsV2: the same objects as botocore, signed as botocore signs, and botocore's
path for everything it does not fully understand."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from helpers import seed, sign_as_botocore, unique
from listing_support import TRICKY_KEYS, ListingClient, expected, flatten

from asyncfilter import SourceError
from asyncfilter._clients import session_for
from asyncfilter._list_direct import ListPage, direct_listing, last_key, read_page
from asyncfilter._listing_parallel import ParallelS3Lister
from asyncfilter._sigv4 import S3GetSigner, query_string
from asyncfilter.testing import (
    S3FaultProxy,
    S3FaultSettings,
    SyntheticS3Server,
    synthetic_s3_server,
)
from asyncfilter.testing._keyspaces import key_space

UNICODE = "unicode:3000"


@pytest.fixture(scope="module")
def synthetic() -> Iterator[SyntheticS3Server]:
    with synthetic_s3_server({"unicode": UNICODE, "folder": "folder:3000"}) as server:
        yield server


async def client_for(endpoint_url: str, **config: Any) -> AsyncIterator[Any]:
    session = session_for(profile=None, region="us-east-1")
    async with session.client(
        "s3", endpoint_url=endpoint_url, config=AioConfig(**config) if config else None
    ) as client:
        yield client


@pytest.fixture
async def synthetic_client(synthetic: SyntheticS3Server) -> AsyncIterator[Any]:
    async for client in client_for(synthetic.endpoint_url):
        yield client


@pytest.fixture
async def moto_client(moto: Any) -> AsyncIterator[Any]:
    async for client in client_for(moto.endpoint_url):
        yield client


def botocore_calls(client: Any) -> list[str]:
    """The URL of every ListObjectsV2 botocore sends from now on."""
    calls: list[str] = []
    client.meta.events.register(
        "before-send.s3.ListObjectsV2", lambda request, **_: calls.append(request.url)
    )
    return calls


async def both(client: Any, bucket: str, **where: Any) -> tuple[ListPage | None, ListPage]:
    """The same page read directly and through botocore."""
    direct = direct_listing(client, user_agent="test")
    assert direct is not None
    prefix = where.pop("prefix", "")
    max_keys = where.pop("max_keys", 1000)
    body = await direct.fetch(bucket, prefix, max_keys=max_keys, **where)
    got = None if body is None else read_page(bucket, body)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
    if "start_after" in where:
        kwargs["StartAfter"] = where["start_after"]
    if "token" in where:
        kwargs["ContinuationToken"] = where["token"]
    return got, ListPage.from_botocore(bucket, await client.list_objects_v2(**kwargs))


@pytest.mark.parametrize(
    "where",
    [
        {},
        {"max_keys": 7},
        {"prefix": "big", "start_after": "big/8"},
        {"start_after": "\u00e9"},
        {"prefix": "no such prefix"},
    ],
)
async def test_pages_read_directly_equal_botocores_from_the_synthetic_server(
    synthetic_client: Any, where: dict[str, Any]
) -> None:
    for bucket in ("unicode", "folder"):
        got, want = await both(synthetic_client, bucket, **dict(where))
        assert got == want


async def test_pages_read_directly_equal_botocores_from_moto(s3: Any, moto_client: Any) -> None:
    bucket = f"direct-{unique()}"
    await s3.create_bucket(Bucket=bucket)
    keys = [k for k in TRICKY_KEYS if "\uffef" not in k]
    await seed(s3, bucket, {key: b"x" * i for i, key in enumerate(keys)})
    got, want = await both(moto_client, bucket)
    assert got == want
    assert got is not None
    assert sorted(o.key for o in got.objects) == sorted(keys)  # "c+d", "c%2Fd", "c&d<e>"...
    got, want = await both(moto_client, bucket, max_keys=5)
    assert got == want
    assert got is not None
    assert got.truncated
    assert got.next_token
    got, want = await both(moto_client, bucket, max_keys=5, token=got.next_token)
    assert got == want
    assert got is not None
    assert len(got.objects) == 5


async def test_a_parallel_listing_reads_its_pages_directly(synthetic_client: Any) -> None:
    calls = botocore_calls(synthetic_client)
    pages = [
        p async for p in ParallelS3Lister(synthetic_client, concurrency=8).pages("unicode", "")
    ]
    assert sorted(flatten(pages)) == expected("unicode", key_space(UNICODE))
    assert len(calls) == 1
    assert "delimiter=%2F" in calls[0]  # only the first page, for its folders


async def test_a_slowdown_is_asked_again_through_botocore_and_the_listing_is_exact(
    moto: Any, s3: Any
) -> None:
    bucket = f"slow-{unique()}"
    await s3.create_bucket(Bucket=bucket)
    keys = [f"k/{i:04d}" for i in range(300)]
    await seed(s3, bucket, dict.fromkeys(keys, b"x"))
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(list_slowdown_rate=0.3, seed=3))
    async with proxy.serve() as url:
        async for client in client_for(url, retries={"mode": "standard", "max_attempts": 10}):
            calls = botocore_calls(client)
            lister = ParallelS3Lister(client, concurrency=4, page_size=20)
            got = flatten([p async for p in lister.pages(bucket, "")])
    assert sorted(o.key for o in got) == keys
    assert proxy.injected["list"] > 0
    assert len(calls) > 1  # the pages that met a SlowDown were taken by botocore


async def test_a_refusal_hands_the_bucket_to_botocore_and_stops_with_its_error(
    moto: Any, s3: Any
) -> None:
    bucket = f"denied-{unique()}"
    await s3.create_bucket(Bucket=bucket)
    await seed(s3, bucket, {"a": b"x"})
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(deny_list_buckets=frozenset({bucket})))
    async with proxy.serve() as url:
        async for client in client_for(url):
            direct = direct_listing(client, user_agent="test")
            assert direct is not None
            assert await direct.fetch(bucket, "", max_keys=10) is None
            assert direct._buckets[bucket] is None  # botocore's from now on
            with pytest.raises(SourceError, match="no permission to list") as caught:
                [p async for p in ParallelS3Lister(client, concurrency=2).pages(bucket, "")]
    assert "\n" not in str(caught.value)


def page(records: str, *, encoded: bool = True, tail: str = "</ListBucketResult>") -> bytes:
    encoding = "<EncodingType>url</EncodingType>" if encoded else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>b</Name>'
        f"{encoding}<IsTruncated>false</IsTruncated>{records}{tail}"
    ).encode()


def record(key: str, extra: str = "", etag: str = "&quot;e&quot;") -> str:
    return (
        f"<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>{etag}</ETag>{extra}<Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
    )


def test_records_are_read_spaced_out_and_with_checksums() -> None:
    spaced = record("a").replace("><", ">\n  <")
    checksums = record(
        "b", "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
    )
    quoted = record("c", etag="&#34;e&#34;")
    got = read_page("b", page(spaced + checksums + quoted))
    assert got is not None
    assert [(o.key, o.etag, o.size) for o in got.objects] == [
        ("a", "e", 1),
        ("b", "e", 1),
        ("c", "e", 1),
    ]


def test_keys_are_decoded_as_the_page_says_they_are_encoded() -> None:
    encoded = read_page("b", page(record("a%2Bb+c%26d")))
    plain = read_page("b", page(record("a+b&amp;c%2B"), encoded=False))
    assert encoded is not None
    assert plain is not None
    assert encoded.objects[0].key == "a+b c&d"
    assert plain.objects[0].key == "a+b&c%2B"


def test_a_page_is_read_only_up_to_the_key_asked_for() -> None:
    body = page(record("a") + record("b+c") + record("b%2Bc") + record("d"))  # a, "b c", "b+c"
    cut = read_page("b", body, up_to="b+c")
    assert cut is not None
    assert [o.key for o in cut.objects] == ["a", "b c", "b+c"]
    assert cut.beyond
    whole = read_page("b", body, up_to="d")
    assert whole is not None
    assert len(whole.objects) == 4
    assert not whole.beyond
    plain = read_page("b", page(record("a&amp;b") + record("c"), encoded=False), up_to="a&b")
    assert plain is not None
    assert [o.key for o in plain.objects] == ["a&b"]


def test_the_last_key_is_read_without_reading_the_page() -> None:
    assert last_key(page(record("a") + record("b%2Bc+d"))) == "b+c d"
    assert last_key(page(record("x&amp;y"), encoded=False)) == "x&y"
    assert last_key(page("")) is None


@pytest.mark.parametrize(
    "body",
    [
        page(record("a", "<Owner><ID>1</ID></Owner>")),  # a nested field
        page(record("a") + "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"),
        page(record("a"), tail="<Contents><Key>b</Ke"),  # cut short
        page(record("a")).replace(b"<IsTruncated>false</IsTruncated>", b""),
        page(record("a")).replace(b"false", b"true"),  # truncated, without a token
        b"\xff" + page(record("a")),  # not UTF-8
    ],
)
def test_pages_the_reader_does_not_fully_understand_are_left_to_botocore(body: bytes) -> None:
    assert read_page("b", body) is None


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://127.0.0.1:9000/my-bucket", "/my-bucket"),
        ("https://my-bucket.s3.eu-west-1.amazonaws.com/", "/"),
    ],
)
def test_signatures_are_botocores(token: str | None, url: str, path: str) -> None:
    params = {
        "list-type": "2",
        "encoding-type": "url",
        "max-keys": "1000",
        "prefix": "photos/été 2024+",
        "start-after": "photos/été 2024+/a~b*c",
    }
    query = query_string(params)
    headers = {"User-Agent": "test", "x-amz-expected-bucket-owner": "111122223333"}
    when = datetime.datetime(2026, 11, 28, 23, 59, 59, tzinfo=datetime.UTC)
    signer = S3GetSigner(url=url, region="eu-west-1", service="s3")
    ours = signer.sign(
        path, query, headers, access_key="AKID", secret_key="SECRET", token=token, now=when
    )

    request = AWSRequest(method="GET", url=f"{url}?{query}", headers=dict(headers))
    auth = S3SigV4Auth(ReadOnlyCredentials("AKID", "SECRET", token), "s3", "eu-west-1")
    sign_as_botocore(auth, request, when)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Content-SHA256"] == request.headers["X-Amz-Content-SHA256"]


async def test_clients_it_cannot_reproduce_keep_botocores_path() -> None:
    proxied = AioConfig(proxies={"http": "http://127.0.0.1:9", "https": "http://127.0.0.1:9"})
    session = session_for(profile=None, region="us-east-1")
    async with (
        session.client("s3", endpoint_url="http://127.0.0.1:9", config=proxied) as behind_proxy,
        session.client("rekognition", endpoint_url="http://127.0.0.1:9") as rekognition,
    ):
        assert direct_listing(behind_proxy, user_agent="test") is None
        assert direct_listing(rekognition, user_agent="test") is None
    assert direct_listing(ListingClient(["a"]), user_agent="test") is None
