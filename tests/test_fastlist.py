"""The fast ListObjectsV2 reader gives exactly what botocore's parser gives, errors included."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from helpers import seed, unique
from listing_support import TRICKY_KEYS

from asyncfilter._clients import session_for
from asyncfilter._fastlist import install_fast_listing, read_contents
from asyncfilter.testing import SyntheticS3Server, synthetic_s3_server


@pytest.fixture(scope="module")
def synthetic() -> Iterator[SyntheticS3Server]:
    with synthetic_s3_server({"unicode": "unicode:3000", "folder": "folder:3000"}) as server:
        yield server


async def clients(endpoint_url: str) -> AsyncIterator[tuple[Any, Any]]:
    session = session_for(profile=None, region="us-east-1")
    async with (
        session.client("s3", endpoint_url=endpoint_url) as plain,
        session.client("s3", endpoint_url=endpoint_url) as fast,
    ):
        install_fast_listing(fast)
        yield plain, fast


@pytest.fixture
async def synthetic_pair(synthetic: SyntheticS3Server) -> AsyncIterator[tuple[Any, Any]]:
    async for pair in clients(synthetic.endpoint_url):
        yield pair


@pytest.fixture
async def moto_pair(moto: Any) -> AsyncIterator[tuple[Any, Any]]:
    async for pair in clients(moto.endpoint_url):
        yield pair


def without_metadata(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "ResponseMetadata"}


@pytest.mark.parametrize(
    "request_args",
    [
        {"Bucket": "unicode"},
        {"Bucket": "unicode", "Delimiter": "/", "MaxKeys": 50},
        {"Bucket": "folder", "Prefix": "big", "StartAfter": "big/8"},
        {"Bucket": "folder", "Delimiter": "/"},
    ],
)
async def test_pages_read_fast_equal_botocore_pages_from_the_synthetic_server(
    synthetic_pair: tuple[Any, Any], request_args: dict[str, Any]
) -> None:
    plain, fast = synthetic_pair
    expected = without_metadata(await plain.list_objects_v2(**request_args))
    got = without_metadata(await fast.list_objects_v2(**request_args))
    assert got == expected


async def test_pages_read_fast_equal_botocore_pages_from_moto(
    s3: Any, moto_pair: tuple[Any, Any]
) -> None:
    bucket = f"fast-{unique()}"
    await s3.create_bucket(Bucket=bucket)
    await seed(
        s3, bucket, {key: b"x" * i for i, key in enumerate(TRICKY_KEYS) if "\uffef" not in key}
    )
    plain, fast = moto_pair
    for args in ({}, {"MaxKeys": 5}, {"Delimiter": "/"}):
        expected = without_metadata(await plain.list_objects_v2(Bucket=bucket, **args))
        got = without_metadata(await fast.list_objects_v2(Bucket=bucket, **args))
        assert got == expected
        assert got.get("Contents")


def test_records_with_nested_fields_are_left_to_botocore() -> None:
    owner = b"<Contents><Key>a</Key><Owner><ID>1</ID></Owner><Size>1</Size></Contents>"
    assert read_contents(owner) is None
    unknown = b"<Contents><Key>a</Key><Mystery>x</Mystery></Contents>"
    assert read_contents(unknown) is None


def test_records_in_another_order_are_read_field_by_field() -> None:
    body = (
        b"<Contents><Size>7</Size><Key>a&amp;b</Key><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
        b"<ChecksumAlgorithm>SHA1</ChecksumAlgorithm><ETag>&quot;e&quot;</ETag></Contents>"
    )
    assert read_contents(body) == [
        {"Size": 7, "Key": "a&b", "ChecksumAlgorithm": ["CRC32", "SHA1"], "ETag": '"e"'}
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code></Error>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Contents><Key>a</Key>'
        b"<LastModified>x</LastModified><ETag>&quot;e&quot;</ETag><Size>1</Size>"
        b"<StorageClass>STANDARD</StorageClass></Contents><Contents><Key>b</Ke",
    ],
)
async def test_an_error_or_a_cut_body_in_a_200_is_still_turned_into_a_retry(
    synthetic_pair: tuple[Any, Any], body: bytes
) -> None:
    _, fast = synthetic_pair
    response = {"status_code": 200, "body": body, "headers": {}}
    await fast.meta.events.emit(
        "before-parse.s3.ListObjectsV2",
        operation_model=fast.meta.service_model.operation_model("ListObjectsV2"),
        response_dict=response,
        customized_response_dict={},
    )
    assert response["status_code"] == 500


def _record(key: str, extra: bytes = b"") -> bytes:
    return (
        f"<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
        f"<ETag>&quot;e&quot;</ETag>".encode()
        + extra
        + b"<Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
    )


@pytest.mark.parametrize(
    "between",
    [
        b"",  # side by side: cut in one slice
        b"\n  ",  # whitespace between records: still one slice
        b"<Marker>m</Marker>",  # something else between them: removed record by record
        b"<Contents><Key>x</Key><Owner><ID>1</ID></Owner></Contents>",  # botocore's own
    ],
)
def test_what_is_left_for_botocore_is_the_page_without_the_records_read(between: bytes) -> None:
    from asyncfilter._fastlist import _CONTENTS, _read

    checksum = b"<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL</ChecksumType>"
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>b</Name>'
        + _record("a")
        + between
        + _record("b&amp;c", checksum)
        + b"<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"
        + b"<IsTruncated>false</IsTruncated></ListBucketResult>"
    )
    items, rest = _read(body)
    if items is None:  # a record botocore must read: the page is left whole
        assert rest == body
        return
    assert [item["Key"] for item in items] == ["a", "b&c"]
    # the same elements (whitespace between records may go with them)
    assert re.sub(rb">\s+<", b"><", rest) == re.sub(rb">\s+<", b"><", _CONTENTS.sub(b"", body))
    assert b"<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>" in rest
