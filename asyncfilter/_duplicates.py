"""Exact copies cost nothing: objects with the same size and ETag hold the same bytes, so one
answer serves them all.

Why equal (size, ETag) proves equal bytes, barring a deliberate MD5 collision:

- a single-part upload's ETag is the MD5 of its bytes (for objects not encrypted with SSE-KMS or
  SSE-C);
- a multipart upload's ETag (``…-N``) is the MD5 of its parts' MD5s: equal ETags mean equal
  parts in the same layout, hence equal bytes. The same bytes uploaded with another part size
  get another ETag, so they are simply not recognised (each is paid), never wrongly merged;
- an SSE-KMS or SSE-C object's ETag is not a digest of its plaintext. ListObjectsV2 does not say
  which objects are encrypted so; their ETags differ between uploads of the same bytes (no
  saving, nothing wrong), and two equal ones would need equal ciphertexts.

Within a run, a call in flight for one copy is waited for by the others (they never pay while
it might answer); answered copies are remembered in a bounded table, and, with a ledger, every
answer ever stored is found by (size, ETag) across runs and prefixes of the same source.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from ._models import S3Object

Digest = tuple[int, str]


def digest(obj: S3Object) -> Digest | None:
    """What identifies ``obj``'s bytes, or ``None`` when the listing does not say."""
    etag = obj.etag.strip('"').lower()
    if not etag or obj.size <= 0:
        return None
    return obj.size, etag


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer one object got, to stand for its copies."""

    key: str
    """The object that was asked about."""
    response: Mapping[str, Any]
    model_version: str | None


@dataclass(slots=True)
class _InFlight:
    done: anyio.Event
    answer: Answer | None = None


class Duplicates:
    """Same bytes, one call. ``claim`` before paying; ``settle`` when the call has ended."""

    def __init__(self, *, remember: int = 50_000) -> None:
        self._in_flight: dict[Digest, _InFlight] = {}
        self._answered: OrderedDict[Digest, Answer] = OrderedDict()
        self._remember = remember

    async def claim(self, obj: S3Object) -> Answer | None:
        """An answer for ``obj``'s bytes (waiting for a call in flight on a copy), or ``None``:
        the caller makes the call and must :meth:`settle` it."""
        while True:
            try:
                return self.claim_nowait(obj)
            except anyio.WouldBlock:
                key = digest(obj)
                assert key is not None
                slot = self._in_flight[key]
            await slot.done.wait()
            if slot.answer is not None:
                return slot.answer
            # that call failed: the next waiter to run makes its own

    def claim_nowait(self, obj: S3Object) -> Answer | None:
        """:meth:`claim` without waiting: raises :class:`anyio.WouldBlock` (having changed
        nothing) while a call for the same bytes is in flight."""
        key = digest(obj)
        if key is None:
            return None
        known = self._answered.get(key)
        if known is not None:
            self._answered.move_to_end(key)
            return known
        if key in self._in_flight:
            raise anyio.WouldBlock
        self._in_flight[key] = _InFlight(anyio.Event())
        return None

    def settle(self, obj: S3Object, answer: Answer | None) -> None:
        """The call claimed for ``obj`` ended, with an answer or without one."""
        key = digest(obj)
        if key is None:
            return
        slot = self._in_flight.pop(key, None)
        if answer is not None:
            self.learn(obj, answer)
        if slot is not None:
            slot.answer = answer
            slot.done.set()

    def learn(self, obj: S3Object, answer: Answer) -> None:
        """Remember an answer for ``obj``'s bytes (the oldest is forgotten past the bound)."""
        key = digest(obj)
        if key is None:
            return
        self._answered[key] = answer
        self._answered.move_to_end(key)
        if len(self._answered) > self._remember:
            self._answered.popitem(last=False)
