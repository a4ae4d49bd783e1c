"""Near-copies among the copied images: resized, re-encoded, lightly cropped or mirrored
versions of one photo, found by perceptual hash (see :mod:`asyncfilter._phash`).

:func:`find_near_duplicates` reads each copy not yet hashed once (a GET of the copy in the
destination or review location), stores its hashes in the ledger so that it is never read
again, groups every selected copy (:mod:`asyncfilter._near_groups`), and stores each copy's
group id for exports and splits. It says beforehand how many images and bytes it will read.

A group id is the ledger row id of the group's first-hashed member: unique across the ledger,
and unchanged when later runs add members to a group.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Collection
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ._aws import classify, credentials_error
from ._clients import open_plain_s3, session_for
from ._errors import ConfigError
from ._ledger import Ledger
from ._near_groups import (
    DEFAULT_DISTANCE,
    check_distance,
    group_hashes,
    keep_order,
    split_keeping_groups,
)
from ._phash import (
    ImageHash,
    UnreadableImage,
    from_signed,
    hash_image,
    require_imagehash,
    to_signed,
)
from ._results import Outcome

_SAVE_EVERY = 256
_EXAMPLES = 5

__all__ = [
    "DEFAULT_DISTANCE",
    "NearDuplicateGroup",
    "NearDuplicatesReport",
    "ReadEstimate",
    "find_near_duplicates",
    "split_keeping_groups",
]


@dataclass(frozen=True, slots=True)
class ReadEstimate:
    """What a run must read from S3 before it can group: images not hashed yet."""

    images: int
    bytes: int


@dataclass(frozen=True, slots=True)
class NearDuplicateGroup:
    """Copies that are near-copies of each other."""

    id: int
    images: tuple[str, ...]
    """``s3://`` URLs of the copies, the one an export keeps first (highest confidence)."""


@dataclass(frozen=True, slots=True)
class NearDuplicatesReport:
    """What a run found: the groups of two or more, largest first."""

    images: int
    """Copies considered (the outcomes and classes asked for)."""
    distance: int
    to_read: ReadEstimate
    hashed: int
    """Copies read and hashed by this run (the others were hashed before)."""
    groups: tuple[NearDuplicateGroup, ...]
    unreadable: dict[str, str] = field(default_factory=dict)
    """``s3://`` URL to why it could not be read or decoded (it is left out of every group)."""
    declined: bool = False
    """The caller declined to read: nothing was read or grouped."""

    @property
    def grouped_images(self) -> int:
        """Copies that have at least one near-copy."""
        return sum(len(g.images) for g in self.groups)

    @property
    def redundant_images(self) -> int:
        """Copies an export with one image per group leaves out."""
        return self.grouped_images - len(self.groups)

    def to_dict(self, examples: int | None = _EXAMPLES) -> dict[str, Any]:
        return {
            "images": self.images,
            "distance": self.distance,
            "to_read": {"images": self.to_read.images, "bytes": self.to_read.bytes},
            "hashed": self.hashed,
            "declined": self.declined,
            "groups": len(self.groups),
            "grouped_images": self.grouped_images,
            "redundant_images": self.redundant_images,
            "largest": len(self.groups[0].images) if self.groups else 0,
            "examples": [{"group": g.id, "images": list(g.images)} for g in self.groups[:examples]],
            "unreadable": self.unreadable,
        }


Confirm = Callable[[ReadEstimate], bool | Awaitable[bool]]


async def find_near_duplicates(
    state: str | Path,
    *,
    outcomes: Collection[Outcome | str] = (Outcome.HIT, Outcome.REVIEW),
    names: Collection[str] | None = None,
    distance: int = DEFAULT_DISTANCE,
    confirm: Confirm | None = None,
    s3_client: Any | None = None,
    session: Any | None = None,
    region: str | None = None,
    profile: str | None = None,
    s3_endpoint_url: str | None = None,
    expected_bucket_owner: str | None = None,
    concurrency: int = 16,
) -> NearDuplicatesReport:
    """Group the ledger's copies (of ``outcomes``, in the classes ``names``) into near-copies.

    Copies whose hash is not in the ledger yet are read once each; ``confirm`` is called with
    what that will cost before the first read, and returning false reads nothing (the report
    says ``declined``). ``distance`` is the largest Hamming distance between two 64-bit pHashes
    that makes them near-copies. Rekognition is never called.
    """
    require_imagehash()
    check_distance(distance)
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency!r}")
    try:
        chosen = [Outcome(o).value for o in outcomes]
    except ValueError as exc:
        raise ConfigError(f"unknown outcome: {exc}") from None
    if not chosen:
        raise ConfigError("outcomes must name at least one outcome (hit, review)")
    async with AsyncExitStack() as stack:
        ledger = await Ledger.open(state)
        stack.push_async_callback(ledger.aclose)
        rows = await ledger.copies_for_hashing(chosen, names)
        stored = await ledger.image_hashes()
        todo = [
            r
            for r in rows
            if (r["dest_bucket"], r["dest_key"]) not in stored
            or stored[r["dest_bucket"], r["dest_key"]][1] != r["etag"]
        ]
        estimate = ReadEstimate(len(todo), sum(int(r["size"]) for r in todo))
        if todo and confirm is not None:
            answer = confirm(estimate)
            if inspect.isawaitable(answer):
                answer = await answer
            if not answer:
                return NearDuplicatesReport(len(rows), distance, estimate, 0, (), declined=True)
        unreadable: dict[str, str] = {}
        hashed = 0
        if todo:
            if s3_client is None:
                session = session or session_for(profile=profile, region=region)
                s3_client = await open_plain_s3(
                    stack, session, endpoint_url=s3_endpoint_url, pool=concurrency + 4
                )
            unreadable = await _hash_copies(
                ledger, s3_client, todo, concurrency, expected_bucket_owner
            )
            hashed = len(todo) - len(unreadable)
            stored = await ledger.image_hashes()
        return await _group(ledger, rows, stored, distance, estimate, hashed, unreadable)


async def _hash_copies(
    ledger: Ledger,
    s3: Any,
    todo: list[dict[str, Any]],
    concurrency: int,
    expected_owner: str | None,
) -> dict[str, str]:
    """Read and hash ``todo`` (a fixed pool of readers; decoding in worker threads, one per
    core), saving hashes as they come so that an interrupted run keeps what it has read."""
    extra = {"ExpectedBucketOwner": expected_owner} if expected_owner else {}
    cpu = anyio.CapacityLimiter(os.cpu_count() or 1)
    pending: list[tuple[str, str, str, int, int]] = []
    unreadable: dict[str, str] = {}
    rows = iter(todo)

    async def save() -> None:
        batch, pending[:] = list(pending), []
        if batch:
            await ledger.save_image_hashes(batch)

    async def reader() -> None:
        for row in rows:
            bucket, key = row["dest_bucket"], row["dest_key"]
            try:
                response = await s3.get_object(Bucket=bucket, Key=key, **extra)
                async with response["Body"] as body:
                    data: bytes = await body.read()
                found = await anyio.to_thread.run_sync(hash_image, data, limiter=cpu)
            except UnreadableImage as exc:
                unreadable[f"s3://{bucket}/{key}"] = str(exc)
                continue
            except Exception as exc:
                denied = credentials_error(exc)
                if denied is not None:
                    raise denied from exc
                failure = classify(exc)
                if failure is None:
                    raise
                unreadable[f"s3://{bucket}/{key}"] = f"{failure.code}: {failure.message}"
                continue
            pending.append(
                (bucket, key, row["etag"], to_signed(found.phash), to_signed(found.mirror))
            )
            if len(pending) >= _SAVE_EVERY:
                await save()

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(reader)
    finally:
        with anyio.CancelScope(shield=True):
            await save()
    return unreadable


async def _group(
    ledger: Ledger,
    rows: list[dict[str, Any]],
    stored: dict[tuple[str, str], tuple[int, str, int, int, int | None]],
    distance: int,
    estimate: ReadEstimate,
    hashed: int,
    unreadable: dict[str, str],
) -> NearDuplicatesReport:
    by_copy = {(r["dest_bucket"], r["dest_key"]): r for r in rows}
    # only hashes of the version the ledger knows (a copy that could not be re-read keeps none)
    current = {
        where: stored[where]
        for where, r in by_copy.items()
        if where in stored and stored[where][1] == r["etag"]
    }
    hashes = {
        where: ImageHash(from_signed(s[2]), from_signed(s[3])) for where, s in current.items()
    }
    # (CPU-bound: seconds for 100,000 images, so off the event loop)
    found, _ = await anyio.to_thread.run_sync(group_hashes, hashes, distance)
    # a copy whose stored hash is of another version keeps no group it no longer belongs to
    assignments: list[tuple[str, str, int | None]] = [
        (*where, None) for where in by_copy if where in stored and where not in current
    ]
    groups: list[NearDuplicateGroup] = []
    for members in found:
        group_id = min(current[m][0] for m in members)
        assignments += [(b, k, group_id) for b, k in members]
        if len(members) > 1:
            kept_first = sorted(
                members,
                key=lambda m: keep_order(by_copy[m]["outcome"], by_copy[m]["match_confidence"], *m),
            )
            groups.append(
                NearDuplicateGroup(group_id, tuple(f"s3://{b}/{k}" for b, k in kept_first))
            )
    await ledger.save_image_groups(assignments)
    groups.sort(key=lambda g: (-len(g.images), g.images[0]))
    return NearDuplicatesReport(len(rows), distance, estimate, hashed, tuple(groups), unreadable)
