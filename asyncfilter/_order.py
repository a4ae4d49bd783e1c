"""Random sweep order: every prefix of the sweep is a uniform random sample of the bucket.

S3 lists keys in lexicographic order, and a bucket's contents cluster by prefix (``2023/`` all
birds, ``2024/`` all cats), so the first thousand keys listed say little about the rest. A
:class:`RandomOrderLister` wraps any :class:`~asyncfilter.Lister`: it lists everything first,
into a SQLite spill file on disk (memory stays flat at 10 M keys), then yields the objects in
the order of a keyed hash of ``(seed, key)``. The same seed gives the same order, so a resumed
sweep continues where the killed one was, and the ledger answers what it already decided.

The price of listing is assumed from S3 Standard's published request pricing (us-east-1):
LIST requests are billed with PUT, COPY and POST at $0.005 per 1,000 requests, and one
ListObjectsV2 request returns up to 1,000 keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from ._config import ScanConfig
from ._eligibility import skip_reason
from ._listing import Lister
from ._models import S3Object

LIST_USD_PER_1000_REQUESTS = 0.005
"""Assumed S3 Standard price of LIST requests (us-east-1); one page is one request."""


def sweep_rank(seed: int, key: str) -> int:
    """Where ``key`` comes in the sweep with ``seed``: 8 bytes of BLAKE2b keyed by the seed,
    as a signed 64-bit integer (SQLite's own)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, key=_seed_bytes(seed)).digest()
    return int.from_bytes(digest, "big", signed=True)


def sweep_ranks(seed: int, keys: Iterable[str]) -> list[int]:
    """:func:`sweep_rank` of each of ``keys`` (the seed's key schedule set up once)."""
    secret, blake2b, from_bytes = _seed_bytes(seed), hashlib.blake2b, int.from_bytes
    return [
        from_bytes(blake2b(k.encode(), digest_size=8, key=secret).digest(), "big", signed=True)
        for k in keys
    ]


def _seed_bytes(seed: int) -> bytes:
    return seed.to_bytes(16, "big", signed=True)


class RandomOrderLister:
    """Lists ``inner`` completely, then yields its objects in the seed's random order.

    After a listing, :attr:`listed_keys`, :attr:`listed_pages`, :attr:`listing_seconds`,
    :attr:`listing_cost_usd` and :attr:`eligible_keys` describe it (for ``plan``, the summary
    and the estimate's population); they are set before the first page is yielded.
    """

    def __init__(
        self,
        inner: Lister,
        *,
        seed: int,
        spill_dir: Path | None = None,
        page_size: int = 1000,
        eligible: Callable[[S3Object], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``eligible``: the objects a sweep would send (not skipped); counted while listing,
        so that the hit-rate estimate knows its population before the first call."""
        if not isinstance(seed, int) or not -(2**127) <= seed < 2**127:
            raise ValueError(f"seed must be an integer that fits in 128 bits, got {seed!r}")
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if spill_dir is not None and not Path(spill_dir).is_dir():
            raise ValueError(f"spill_dir must be an existing directory, got {str(spill_dir)!r}")
        self.inner = inner
        """The lister it reorders."""
        self.seed = seed
        self._spill_dir = spill_dir
        self._page_size = page_size
        self._clock = clock
        self._eligible = eligible
        self.eligible_keys: int | None = None
        """How many listed objects ``eligible`` accepted, once the listing has finished."""
        self.listed_keys = 0
        self.listed_pages = 0
        self.listing_seconds: float | None = None
        """Wall time of the listing, once it has finished."""

    @property
    def listing_cost_usd(self) -> float:
        """What the listing's requests cost, at :data:`LIST_USD_PER_1000_REQUESTS`."""
        return self.listed_pages * LIST_USD_PER_1000_REQUESTS / 1000

    async def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        fd, name = tempfile.mkstemp(
            prefix="asyncfilter-order-", suffix=".sqlite", dir=self._spill_dir
        )
        os.close(fd)
        db: aiosqlite.Connection | None = None
        try:
            db = await aiosqlite.connect(name)
            await self._spill(db, bucket, prefix)
            async with db.execute(
                "SELECT key, size, etag, storage_class FROM spill ORDER BY rank, key"
            ) as cursor:
                while rows := await cursor.fetchmany(self._page_size):
                    yield [S3Object(bucket, k, s, e, c) for k, s, e, c in rows]
        finally:
            if db is not None:
                # closed even when the sweep is being cancelled: an abandoned connection's
                # thread would call back into a closed event loop
                with anyio.CancelScope(shield=True):
                    await db.close()
            # synchronous on purpose: it must happen even while the sweep is being cancelled
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    async def _spill(self, db: aiosqlite.Connection, bucket: str, prefix: str) -> None:
        # a scratch file: no journal and no fsync, it is deleted after the sweep anyway
        await db.execute("PRAGMA journal_mode = OFF")
        await db.execute("PRAGMA synchronous = OFF")
        await db.execute(
            "CREATE TABLE spill (rank INTEGER NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,"
            " etag TEXT NOT NULL, storage_class TEXT NOT NULL)"
        )
        started = self._clock()
        self.listed_keys = self.listed_pages = 0
        self.listing_seconds = self.eligible_keys = None
        seed, eligible, eligible_keys = self.seed, self._eligible, 0
        async for page in self.inner.pages(bucket, prefix):
            self.listed_pages += 1
            self.listed_keys += len(page)
            if eligible is not None:
                eligible_keys += sum(1 for o in page if eligible(o))
            ranks = sweep_ranks(seed, (o.key for o in page))
            await db.executemany(
                "INSERT INTO spill VALUES (?, ?, ?, ?, ?)",
                [
                    (r, o.key, o.size, o.etag, o.storage_class)
                    for r, o in zip(ranks, page, strict=True)
                ],
            )
        # one sort at the end is cheaper than keeping an index up to date on every insert
        await db.execute("CREATE INDEX spill_order ON spill (rank, key)")
        await db.commit()
        self.listing_seconds = self._clock() - started
        if eligible is not None:
            self.eligible_keys = eligible_keys


def sweep_order(inner: Lister, config: ScanConfig) -> RandomOrderLister | None:
    """The random order a sweep with ``config`` walks (``None`` in listing order): its seed,
    its eligibility, its scratch file beside the ledger. ``scan`` and ``plan`` both use this,
    so a plan's sample is the sweep's own first objects."""
    if config.order != "random":
        return None
    spill = os.path.dirname(os.path.expanduser(config.state)) if config.state else None
    return RandomOrderLister(
        inner,
        seed=config.sweep_seed,
        spill_dir=Path(spill) if spill else None,
        eligible=lambda o: skip_reason(o, config.longest_key(o.key)) is None,
    )


def listing_figures(lister: RandomOrderLister) -> dict[str, Any] | None:
    """What listing took and cost, once it has run: for reports and plans."""
    if lister.listing_seconds is None:
        return None
    return {
        "keys": lister.listed_keys,
        "pages": lister.listed_pages,
        "seconds": round(lister.listing_seconds, 3),
        "cost_usd": round(lister.listing_cost_usd, 6),
    }
