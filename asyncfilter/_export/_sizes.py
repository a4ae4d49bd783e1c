"""Pixel sizes from image headers, read with ranged GETs rather than whole downloads.

Pillow parses the header (JPEG markers up to the frame header, PNG's IHDR) from the first bytes
of the object; only when the header is longer (large EXIF thumbnails) is a bigger range read.
Rekognition corrects a JPEG's EXIF orientation before it detects, and its boxes are fractions
of the corrected image: for orientations 5-8 (rotated a quarter turn) width and height swap.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import anyio

from .._aws import classify
from ._records import CopiedImage, ImageSize

FIRST_RANGE = 64 * 1024
MAX_RANGE = 16 * 1024 * 1024  # DetectLabels reads S3 objects of up to 15 MB
_ORIENTATION_TAG = 0x0112
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


def size_from_header(data: bytes) -> ImageSize | None:
    """The image's size in Rekognition's frame, or ``None`` when ``data`` holds no complete
    header (read more, or it is not an image Pillow knows)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            depth = len(image.getbands())
            orientation = image.getexif().get(_ORIENTATION_TAG, 1) if image.format == "JPEG" else 1
    except (OSError, SyntaxError, ValueError, EOFError):
        return None
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return ImageSize(width, height, depth)


async def read_size(s3: Any, bucket: str, key: str, expected_owner: str | None) -> ImageSize:
    """Read ``s3://bucket/key``'s header with as few ranged GETs as it takes.

    Raises ``ValueError`` with a reason when the object is not a readable image.
    """
    extra = {"ExpectedBucketOwner": expected_owner} if expected_owner else {}
    length = FIRST_RANGE
    while True:
        response = await s3.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}", **extra
        )
        async with response["Body"] as body:
            data: bytes = await body.read()
        size = size_from_header(data)
        if size is not None:
            return size
        if len(data) < length or length >= MAX_RANGE:
            raise ValueError("not an image whose header could be read")
        length *= 4


async def read_sizes(
    s3: Any,
    records: Sequence[CopiedImage],
    *,
    concurrency: int = 16,
    expected_owner: str | None = None,
) -> tuple[dict[tuple[str, str], ImageSize], dict[tuple[str, str], str]]:
    """Sizes for ``records`` without one, read concurrently; and why any could not be read."""
    sizes: dict[tuple[str, str], ImageSize] = {}
    failed: dict[tuple[str, str], str] = {}
    # a fixed pool pulling from one iterator: a million images are a million reads, not a
    # million tasks waiting at once
    todo = iter([r for r in records if r.size is None])

    async def worker() -> None:
        for record in todo:
            where = (record.bucket, record.key)
            try:
                sizes[where] = await read_size(s3, record.bucket, record.key, expected_owner)
            except ValueError as exc:
                failed[where] = str(exc)
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                failed[where] = f"{failure.code}: {failure.message}"

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return sizes, failed
