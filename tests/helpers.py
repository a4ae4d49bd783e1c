"""Helpers shared by the tests that talk to the local servers."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from asyncfilter.testing import make_image

JPEG = make_image(96, 96)


def jpeg(key: str) -> bytes:
    """A valid JPEG whose bytes are this key's own (after the image's end marker, where
    decoders stop reading), so that no two keys are copies of each other: asyncfilter answers
    exact copies once, and tests that label keys differently need distinct images."""
    return JPEG + key.encode()


async def seed(s3: Any, bucket: str, objects: Mapping[str, bytes]) -> None:
    """Upload objects concurrently (moto serves a few hundred requests a second)."""
    limit = anyio.Semaphore(16)

    async def put(key: str, body: bytes) -> None:
        async with limit:
            await s3.put_object(Bucket=bucket, Key=key, Body=body)

    async with anyio.create_task_group() as tg:
        for key, body in objects.items():
            tg.start_soon(put, key, body)


async def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", ()))
    return keys


def robin(confidence: float = 95.0) -> dict[str, Any]:
    return {
        "Name": "Robin",
        "Confidence": confidence,
        "Parents": [{"Name": "Bird"}, {"Name": "Animal"}],
    }


def labels_entries(bucket: str, labels: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"bucket": bucket, "key": key, "labels": lbs} for key, lbs in labels.items()]


def unique() -> str:
    return uuid.uuid4().hex[:8]


async def admin(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a blocking emulator admin method off the event loop."""
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


async def seed_robins(
    s3: Any,
    emulator: Any,
    bucket: str,
    keys: int | Sequence[str],
    *,
    every: int = 2,
    others: Sequence[Mapping[str, Any]] = (),
) -> set[str]:
    """Upload distinct JPEGs under ``keys`` (or ``0000.jpg`` ... for a count) and teach the
    emulator that every ``every``-th is a robin and the rest show ``others``. Returns the
    robins' keys."""
    names = [f"{i:04d}.jpg" for i in range(keys)] if isinstance(keys, int) else list(keys)
    robins = {k for i, k in enumerate(names) if i % every == 0}
    await seed(s3, bucket, {k: jpeg(k) for k in names})
    labels = {k: [robin()] if k in robins else [dict(lb) for lb in others] for k in names}
    await admin(emulator.add_labels, labels_entries(bucket, labels))
    return robins


def sign_as_botocore(auth: Any, request: Any, when: datetime.datetime) -> None:
    """Sign ``request`` with botocore's ``auth`` at ``when`` (what the direct transports'
    signatures are checked against)."""
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
