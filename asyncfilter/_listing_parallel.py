"""Parallel listing: split the key space and page the parts concurrently.

One ListObjectsV2 paginator gets 1,000 keys per round trip; at 100 ms a page a 10 M-key bucket
takes 17 minutes. This lister splits the bucket into ranges of keys and lists up to
``concurrency`` of them at once, merged into one bounded stream of pages.

A range is ``(lo, hi]``: listed with ``StartAfter=lo`` (exclusive), ending at the first key
above ``hi`` (inclusive). Ranges are cut at boundary strings, and every key lies in exactly one
of ``(None, b1], (b1, b2], ..., (bn, None]`` whatever the strings are, so no key is lost or
listed twice at a seam; Python's ``str`` order is S3's UTF-8 byte order, so the comparison
against ``hi`` agrees with S3's. The boundaries only decide balance:

- first, one delimiter page: the folders under the prefix, if there are several, are natural
  boundaries;
- then, whenever a worker runs out of ranges, it splits the running range that has listed the
  most pages: it probes S3 for the first key after evenly spaced points between that range's
  last listed key and its end (see :mod:`._keysplit`), narrows in where the keys are, and cuts
  at real keys found. The range keeps its first part (its end is lowered, between pages, above
  anything it has already listed); the rest become new ranges. So a part that turns out large
  keeps being split, and no paginator ends up holding most of the bucket.

Pages arrive in no particular order across ranges; within a range, in key order.

Each range asks for its next page as soon as the current one's continuation token is known,
before reading its records (:func:`._list_direct.peek`), and pages are read straight into
``S3Object`` records where the direct path can take them (:mod:`._list_direct`), botocore where not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import anyio
from anyio.abc import ObjectSendStream, TaskGroup

from ._aws import listing_error
from ._errors import ConfigError
from ._keysplit import Alphabet, probe_points, spread
from ._list_direct import ListPage, direct_listing, last_key, peek, read_page
from ._models import S3Object
from ._user_agent import direct_user_agent

#: parsed pages waiting for the consumer, at most (see ``_list``): with no latency, 64 ranges
#: read 188,000 keys/s with 8 (the garbage collector promoting the pages waiting) and 234,000 with 2
_READ_AHEAD_PAGES = 2
_USER_AGENT = direct_user_agent("direct-list-objects-v2")
_MAX_WAVES = 8  # rounds of probes per split: each narrows the search C+1-fold
_MAX_SEEDS_PER_WORKER = 4  # folders from the delimiter page kept as boundaries
_COARSE_PROBES = 8  # a coarse wave spans 16**8: the keys' scale, whatever it is
_RETRY_AFTER_PAGES = 2  # a range where probes found no keys ahead is near its end
# Probes a listing may make beyond one per page listed: the first split always runs, later
# ones once the pages listed pay for them, so a small bucket (a few pages) is not probed far
# more often than it is listed (16 workers on a 3-page bucket in moto made ~330 probes without
# it), while a large one, listing a hundred pages a second, is not held back
_PROBE_ALLOWANCE = 8


@dataclass(eq=False)
class _Range:
    lo: str | None  # exclusive; None: from the first key
    hi: str | None  # inclusive; None: to the last key
    cursor: str | None = None  # the last key listed (or lo)
    pages: int = 0
    keys: int = 0
    done: bool = False
    splitting: bool = False
    retry_at: int = 0  # pages listed before a split may be tried again (one found nothing)

    def __post_init__(self) -> None:
        self.cursor = self.lo


def _reaches(fetched: bytes | ListPage, hi: str | None) -> bool:
    """Whether a page holds its range's last key: then no page after it is asked for (a split
    may still lower ``hi`` later, and the page after it is then cancelled)."""
    if hi is None:
        return False
    if isinstance(fetched, ListPage):
        last = fetched.objects[-1].key if fetched.objects else None
    else:
        last = last_key(fetched)
    return last is not None and last >= hi


class _Ahead:
    """A page asked for in the background; :meth:`result` waits for it."""

    def __init__(
        self,
        tg: TaskGroup,
        fetch: Callable[[int, dict[str, str]], Awaitable[bytes | ListPage]],
        size: int,
        where: dict[str, str],
    ) -> None:
        self._done = anyio.Event()
        self._scope = anyio.CancelScope()
        self._value: bytes | ListPage | None = None
        tg.start_soon(self._run, fetch, size, where)

    async def _run(
        self,
        fetch: Callable[[int, dict[str, str]], Awaitable[bytes | ListPage]],
        size: int,
        where: dict[str, str],
    ) -> None:
        with self._scope:
            self._value = await fetch(size, where)
            self._done.set()

    async def result(self) -> bytes | ListPage:
        await self._done.wait()
        assert self._value is not None
        return self._value

    def cancel(self) -> None:
        self._scope.cancel()


@dataclass(frozen=True, slots=True)
class ListingStats:
    """How a parallel listing went: to check its balance and count its requests."""

    requests: int
    """ListObjectsV2 requests, probes included."""
    probes: int
    ranges: int
    """Ranges listed (the seeds plus those split off)."""
    largest_range_keys: int
    """Keys listed by the range that listed the most: small against the total when balanced."""


class ParallelS3Lister:
    """Lists a bucket with up to ``concurrency`` ListObjectsV2 paginators at once."""

    def __init__(
        self,
        client: Any,
        *,
        concurrency: int = 64,
        page_size: int = 1000,
        expected_owner: str | None = None,
        delimiter: str = "/",
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(
                f"list_concurrency must be a positive whole number, got {concurrency!r}"
            )
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= 1000
        ):
            raise ConfigError(f"page_size must be between 1 and 1000, got {page_size!r}")
        self._client = client
        self._concurrency = concurrency
        self._page_size = page_size
        self._expected_owner = expected_owner
        self._delimiter = delimiter
        self.last_stats: ListingStats | None = None
        """How the last listing that ended went."""

    async def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        buffer = min(self._concurrency, _READ_AHEAD_PAGES)
        listing = _Listing(self, bucket, prefix, buffer)
        send, receive = anyio.create_memory_object_stream[Sequence[S3Object]](buffer)
        closed = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(listing.run, send)
            try:
                async with receive:
                    async for page in receive:
                        listing.slots.release()  # taken: another page may be read
                        try:
                            yield page
                        except GeneratorExit:
                            # closed early by the consumer (in its own task, as the engine
                            # does): stop the workers and end, rather than let the task group
                            # wrap GeneratorExit in an exception group
                            closed = True
                            break
            finally:
                tg.cancel_scope.cancel()
                self.last_stats = listing.stats()
        if listing.error is not None and not closed:
            raise listing.error


class _Listing:
    """One listing's ranges, workers and probes."""

    def __init__(self, lister: ParallelS3Lister, bucket: str, prefix: str, buffer: int) -> None:
        self.lister = lister
        self.direct = direct_listing(lister._client, user_agent=_USER_AGENT)
        self.bucket = bucket
        self.prefix = prefix
        self.error: Exception | None = None
        self.alphabet = Alphabet()
        self.pending: deque[_Range] = deque()
        self.running: set[_Range] = set()
        self.waiting = 0
        self.requests = 0
        self.probes = 0
        self.ranges = 0
        self.largest = 0
        self._changed = anyio.Event()
        self.slots = anyio.Semaphore(buffer)  # parsed pages that may wait for the consumer

    def stats(self) -> ListingStats:
        largest = max([self.largest, *(r.keys for r in self.running)])
        return ListingStats(self.requests, self.probes, self.ranges, largest)

    async def run(self, send: ObjectSendStream[Sequence[S3Object]]) -> None:
        async with send, anyio.create_task_group() as tg:
            try:
                await self._seed()
            except Exception as exc:
                self.error = exc
                return
            for _ in range(self.lister._concurrency):
                tg.start_soon(self._worker, send, tg)

    async def _call(self, **kwargs: Any) -> dict[str, Any]:
        kwargs = {"Bucket": self.bucket, "Prefix": self.prefix, **kwargs}
        if self.lister._expected_owner:
            kwargs["ExpectedBucketOwner"] = self.lister._expected_owner
        self.requests += 1
        try:
            page: dict[str, Any] = await self.lister._client.list_objects_v2(**kwargs)
        except Exception as exc:
            raise listing_error(exc, self.bucket) from exc
        return page

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    # --- seeding ---------------------------------------------------------------------------

    async def _seed(self) -> None:
        """One delimiter page: its folders are the first boundaries."""
        page = await self._call(Delimiter=self.lister._delimiter, MaxKeys=1000)
        folders = [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        self.alphabet.learn(folders)
        self.alphabet.learn(item["Key"] for item in page.get("Contents", ()))
        bounds = spread(folders, _MAX_SEEDS_PER_WORKER * self.lister._concurrency)
        if len(bounds) < 2:
            bounds = []
        edges: list[str | None] = [None, *bounds, None]
        self.pending.extend(_Range(lo, hi) for lo, hi in pairwise(edges))

    # --- workers ---------------------------------------------------------------------------

    async def _worker(self, send: ObjectSendStream[Sequence[S3Object]], tg: TaskGroup) -> None:
        try:
            while (part := await self._take()) is not None:
                self.running.add(part)
                self.ranges += 1
                try:
                    await self._list(part, send)
                finally:
                    part.done = True
                    self.running.discard(part)
                    self.largest = max(self.largest, part.keys)
                    self._notify()
        except Exception as exc:
            while isinstance(exc, ExceptionGroup):  # from the probes' task group
                exc = exc.exceptions[0]
            if self.error is None:
                self.error = exc
            tg.cancel_scope.cancel()

    async def _take(self) -> _Range | None:
        """The next range to list, splitting a running one when none is waiting."""
        self.waiting += 1
        try:
            while True:
                if self.pending:
                    return self.pending.popleft()
                if not self.running:
                    return None
                victim = self._victim() if self._may_probe() else None
                if victim is None:
                    await self._changed.wait()
                    continue
                victim.splitting = True
                try:
                    await self._split(victim)
                finally:
                    victim.splitting = False
                    self._notify()
        finally:
            self.waiting -= 1

    def _may_probe(self) -> bool:
        """Splitting costs probes: allow about as many as pages listed, plus a start-up
        allowance, so that probing never costs much more than the listing itself."""
        return self.probes < (self.requests - self.probes) + _PROBE_ALLOWANCE

    def _victim(self) -> _Range | None:
        best: _Range | None = None
        for part in self.running:
            if part.done or part.splitting or part.pages < max(1, part.retry_at):
                continue
            if best is None or part.pages > best.pages:
                best = part
        return best

    async def _fetch(self, max_keys: int, where: dict[str, str]) -> bytes | ListPage:
        """One page of the range starting ``where`` (``start_after`` or ``token``): its body
        as S3 sent it, to be read by :meth:`_read`, or the page as botocore read it when the
        direct path cannot take it (:mod:`._list_direct`)."""
        if self.direct is not None:
            self.requests += 1
            body = await self.direct.fetch(
                self.bucket, self.prefix, max_keys=max_keys,
                expected_owner=self.lister._expected_owner, **where,
            )  # fmt: skip
            if body is not None:
                return body
        return await self._botocore_page(max_keys, where)

    async def _botocore_page(self, max_keys: int, where: dict[str, str]) -> ListPage:
        kwargs: dict[str, Any] = {"MaxKeys": max_keys}
        if "token" in where:
            kwargs["ContinuationToken"] = where["token"]
        elif "start_after" in where:
            kwargs["StartAfter"] = where["start_after"]
        return ListPage.from_botocore(self.bucket, await self._call(**kwargs))

    async def _read(
        self,
        fetched: bytes | ListPage,
        max_keys: int,
        where: dict[str, str],
        up_to: str | None = None,
    ) -> ListPage:
        if isinstance(fetched, ListPage):
            return fetched
        page = read_page(self.bucket, fetched, up_to)
        return page if page is not None else await self._botocore_page(max_keys, where)

    async def _page(self, max_keys: int, **where: str) -> ListPage:
        return await self._read(await self._fetch(max_keys, where), max_keys, where)

    async def _list(self, part: _Range, send: ObjectSendStream[Sequence[S3Object]]) -> None:
        """List ``part``, asking for each page as soon as the previous one's token is known,
        before its records are read: reading a page then overlaps the next one's round trip,
        rather than every range waiting its turn on the event loop between pages."""
        size = self.lister._page_size
        where: dict[str, str] = {} if part.lo is None else {"start_after": part.lo}
        async with anyio.create_task_group() as tg:
            ahead = _Ahead(tg, self._fetch, size, where)
            while True:
                fetched = await ahead.result()
                following = (
                    peek(fetched)
                    if isinstance(fetched, bytes)
                    else (fetched.truncated, fetched.next_token)
                )
                after: _Ahead | None = None
                if (
                    following is not None
                    and following[0]
                    and following[1] is not None
                    and not _reaches(fetched, part.hi)
                ):
                    after = _Ahead(tg, self._fetch, size, {"token": following[1]})
                # a page is read only once there is room for it downstream: ranges waiting
                # for the consumer hold their pages as bytes, which the garbage collector
                # never visits, rather than as a thousand objects each (at 64 ranges the
                # collector's passes over waiting pages took a quarter of the client's CPU)
                await self.slots.acquire()
                sent = False
                try:
                    page = await self._read(fetched, size, where, part.hi)
                    sent = await self._hand_on(part, page, send)
                finally:
                    if not sent:
                        self.slots.release()
                token = page.next_token
                del page, fetched  # not held while the next page is awaited (see above)
                if part.done:
                    tg.cancel_scope.cancel()  # the page asked for ahead is not needed
                    return
                if token is None:  # truncated without a token: S3 never answers so
                    raise ValueError("a truncated ListObjectsV2 page without a continuation token")
                where = {"token": token}
                if after is None or following != (True, token):
                    if after is not None:
                        after.cancel()  # asked for with a token botocore's reading disagrees with
                    after = _Ahead(tg, self._fetch, size, where)
                ahead = after

    async def _hand_on(
        self, part: _Range, page: ListPage, send: ObjectSendStream[Sequence[S3Object]]
    ) -> bool:
        """Send the part of ``page`` within ``part`` (whether anything was sent), marking the
        range done when the page ends it."""
        items = page.objects
        hi = part.hi  # read after the page arrived: a split may have lowered it
        if hi is None or not items or items[-1].key <= hi:
            out = items
            ended = page.beyond or not page.truncated
        else:
            out = [item for item in items if item.key <= hi]
            ended = True
        part.pages += 1
        part.keys += len(out)
        if out:
            part.cursor = out[-1].key
            self.alphabet.learn((out[0].key, out[-1].key))
        part.done = ended  # before the send: a splitter must not pick a finished range
        if self.waiting:
            self._notify()  # idle workers may now split this range
        if out:
            await send.send(out)
        return bool(out)

    # --- splitting -------------------------------------------------------------------------

    async def _split(self, victim: _Range) -> None:
        pieces = max(2, self.waiting + 1)
        found = await self._carve(victim.cursor, victim.hi, pieces)
        cursor, hi = victim.cursor, victim.hi  # the victim may have moved on while we probed
        bounds = [k for k in found if (cursor is None or k > cursor) and (hi is None or k < hi)]
        if victim.done:
            return
        if not bounds:
            victim.retry_at = victim.pages + _RETRY_AFTER_PAGES
            return
        bounds = spread(bounds, pieces - 1)
        victim.hi = bounds[0]  # above its cursor: nothing it listed is in a new range
        edges: list[str | None] = [*bounds, hi]
        self.pending.extend(_Range(lo, up) for lo, up in pairwise(edges))

    async def _carve(self, lo: str | None, hi: str | None, pieces: int) -> list[str]:
        """Real keys spread over ``(lo, hi]``, found by waves of probes.

        A coarse wave (points each 16 times closer to ``lo``) finds at which scale the keys
        after ``lo`` lie and lowers ``hi`` to just above them; fine waves (points evenly spread,
        two per piece wanted) then collect cut points among the keys, narrowing again if the
        keys turn out to fill only the start of the range.
        """
        hits: set[str] = set()
        # a range ending at a key found by an earlier split is about as dense as it looks: the
        # coarse wave is only needed for the open-ended range, whose end may be far off
        geometric = hi is None
        for _ in range(_MAX_WAVES):
            count = _COARSE_PROBES if geometric else min(2 * pieces, 32)
            points = probe_points(
                lo, hi, self.prefix, self.alphabet.chars, count, geometric=geometric
            )
            if not points:
                break
            firsts: list[str | None] = [None] * len(points)
            async with anyio.create_task_group() as tg:
                for i, point in enumerate(points):
                    tg.start_soon(self._probe, point, firsts, i)
            narrowed: str | None = None
            found: set[str] = set()
            for point, first in zip(points, firsts, strict=True):
                if first is None or (hi is not None and first > hi):
                    narrowed = point  # no key in (point, hi]: look below it
                    break
                if lo is None or first > lo:
                    found.add(first)
            hits |= found
            if len(hits) >= pieces - 1 or narrowed is None:
                break
            hi = narrowed
            geometric = len(found) < 2  # below every point but one: zoom in again
        return sorted(hits)

    async def _probe(self, point: str, out: list[str | None], i: int) -> None:
        self.probes += 1
        items = (await self._page(1, start_after=point)).objects
        out[i] = items[0].key if items else None
        if items:
            self.alphabet.learn((items[0].key,))
