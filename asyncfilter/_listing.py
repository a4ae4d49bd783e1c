"""Listing: where the sweep's objects come from.

A :class:`Lister` yields whole pages rather than single objects, so that the producer pays its
per-item bookkeeping once per thousand keys, not once per key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from ._aws import listing_error
from ._models import S3Object


class Lister(Protocol):
    """Where objects come from. Implement it to sweep something other than ListObjectsV2."""

    def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        """Yield the objects under ``prefix``, a page at a time, each key exactly once.

        Each page is in key order; a lister that lists parts of the bucket at once (or reads
        an inventory) may interleave its parts' pages.

        Raise :class:`~asyncfilter.SourceError` or :class:`~asyncfilter.CredentialsError` when
        the listing cannot go on.
        """
        ...


class S3Lister:
    """Pages ListObjectsV2 with an aiobotocore S3 client."""

    def __init__(
        self, client: Any, *, page_size: int = 1000, expected_owner: str | None = None
    ) -> None:
        self._client = client
        self._page_size = page_size
        self._expected_owner = expected_owner

    async def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if self._expected_owner:
            kwargs["ExpectedBucketOwner"] = self._expected_owner
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(**kwargs, PaginationConfig={"PageSize": self._page_size})
        iterator = pages.__aiter__()
        while True:
            try:
                page = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except Exception as exc:
                raise listing_error(exc, bucket) from exc
            yield [s3_object(bucket, item) for item in page.get("Contents", ())]


def s3_object(bucket: str, item: Mapping[str, Any]) -> S3Object:
    """One element of ListObjectsV2's ``Contents`` as an :class:`S3Object`."""
    return S3Object(
        bucket,
        item["Key"],
        int(item.get("Size", 0)),
        str(item.get("ETag", "")).strip('"'),
        str(item.get("StorageClass") or "STANDARD"),
    )
