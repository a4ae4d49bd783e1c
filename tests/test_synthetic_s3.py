"""The synthetic S3 answers ListObjectsV2 as moto (and S3) do, for the same keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from helpers import seed, unique
from listing_support import TRICKY_KEYS

from asyncfilter.testing import SyntheticS3Server, synthetic_s3_server
from asyncfilter.testing._keyspaces import DeepKeys, HashKeys, key_space

KEYS = [k for k in TRICKY_KEYS if "\uffef" not in k] + [f"a/{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyntheticS3Server]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    keys_file.write_text("\n".join(KEYS) + "\n", encoding="utf-8")
    with synthetic_s3_server({"same": f"file:{keys_file}"}) as server:
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
