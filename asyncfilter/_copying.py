"""Copying: putting a hit where Custom Labels will train from it.

CopyObject runs inside S3, so a hit costs one request and no bandwidth through this process.
The copier also writes the one small object a sweep makes itself, the review manifest, so that
everything a sweep writes goes through one injectable seam.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._aws import copy_error
from ._errors import DestinationError, ImageFailed
from ._models import S3Object


class Copier(Protocol):
    """Copies a hit to the destination.

    Raise :class:`~asyncfilter.DestinationError` when no copy can succeed,
    :class:`~asyncfilter.ImageFailed` when only this object cannot be copied.
    """

    async def copy(self, obj: S3Object, dest_bucket: str, dest_key: str) -> None: ...

    async def put(self, bucket: str, key: str, body: bytes) -> None:
        """Write a small object the sweep made (the review manifest)."""
        ...


class S3Copier:
    """Server-side CopyObject with an aiobotocore S3 client (botocore retries SlowDown/5xx)."""

    def __init__(self, client: Any, *, expected_owner: str | None = None) -> None:
        self._client = client
        self._expected_owner = expected_owner

    async def copy(self, obj: S3Object, dest_bucket: str, dest_key: str) -> None:
        kwargs: dict[str, Any] = {
            "Bucket": dest_bucket,
            "Key": dest_key,
            # The dict form lets botocore quote the key, so '+', '%', spaces and unicode survive.
            "CopySource": {"Bucket": obj.bucket, "Key": obj.key},
        }
        if self._expected_owner:
            kwargs["ExpectedBucketOwner"] = self._expected_owner
            kwargs["ExpectedSourceBucketOwner"] = self._expected_owner
        try:
            await self._client.copy_object(**kwargs)
        except Exception as exc:
            raise copy_error(exc, dest_bucket) from exc

    async def put(self, bucket: str, key: str, body: bytes) -> None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if self._expected_owner:
            kwargs["ExpectedBucketOwner"] = self._expected_owner
        try:
            await self._client.put_object(**kwargs)
        except Exception as exc:
            error = copy_error(exc, bucket)
            if isinstance(error, ImageFailed):  # nothing per-image about it: the bucket failed
                error = DestinationError(f"cannot write s3://{bucket}/{key}: {error.message}")
            raise error from exc
