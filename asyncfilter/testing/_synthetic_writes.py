"""The writable buckets of the synthetic S3: where a sweep's copies land.

A :class:`WrittenKeys` is a sorted, growing :class:`~collections.abc.Sequence` of keys (so the
server lists it with the same bisects as a generated key space), with what S3 reports for each
object: its size and ETag, copied from the source on CopyObject, computed from the body on
PutObject. Copies keep no body (the synthetic sources have none); a put keeps its bytes, as it is
small (the review manifest).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

from ._keyspaces import KeySpace


@dataclass(frozen=True)
class Written:
    """One object in a writable bucket: what listing and HeadObject report, and a put's body."""

    size: int
    etag: str  # without quotes
    last_modified: str  # ISO 8601, as in ListObjectsV2
    body: bytes | None = None


class WrittenKeys(KeySpace):
    """The keys of a writable bucket, kept sorted as they arrive (``bisect.insort``)."""

    def __init__(self) -> None:
        super().__init__(0)
        self._keys: list[str] = []
        self.objects: dict[str, Written] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, index: int) -> str:
        return self._keys[index]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._keys[index]  # a list's own indexing: the server bisects this per page

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self.objects

    def write(self, key: str, written: Written) -> None:
        """Add ``key`` or replace its object (S3 overwrites without a trace)."""
        if key not in self.objects:
            bisect.insort(self._keys, key)
        self.objects[key] = written


def put_object(body: bytes, last_modified: str) -> Written:
    """What S3 keeps of a PutObject: its size and the body's MD5 as ETag."""
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    return Written(len(body), etag, last_modified, body)
