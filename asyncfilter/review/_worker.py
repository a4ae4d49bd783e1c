"""Applying verdicts to S3: one image at a time, copy then delete, every step recorded.

A move is recorded as ``copying`` before the copy, ``copied`` after it, and settled (the
object's row updated) after the delete. Killed at any point, the next run picks the move up
at its recorded step: a copy is repeated onto the same key (one copy, not two), a delete of
what is already gone succeeds. So no image is lost, none is copied twice, and once the worker
is idle none rests in two places. The source object a miss is shown from is never written
or deleted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import anyio
import structlog

from .._copying import Copier
from .._errors import AsyncFilterError
from .._models import S3Object
from ._moves import Move
from ._store import ReviewStore

log = structlog.get_logger("asyncfilter.review")


@dataclass(slots=True)
class ApplierStats:
    moved: int = 0
    settled: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    """``s3://`` URL of the object to the last reason its move failed (retried later)."""


class Applier:
    """Applies the store's pending verdicts through ``copier`` until cancelled."""

    def __init__(self, store: ReviewStore, copier: Copier, *, retry_s: float = 5.0) -> None:
        self._store = store
        self._copier = copier
        self._retry_s = retry_s
        self._wake = anyio.Event()
        self._lock = anyio.Lock()  # one pass at a time: a move is never applied twice at once
        self.stats = ApplierStats()

    def wake(self) -> None:
        """A decision was stored: look for work now."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake = anyio.Event()
            failed = await self.apply_pending()
            with anyio.move_on_after(self._retry_s if failed else math.inf):
                await self._wake.wait()

    async def apply_pending(self) -> int:
        """Apply everything pending now; the number of moves that failed (kept for later)."""
        async with self._lock:
            return await self._apply_all()

    async def _apply_all(self) -> int:
        failed: set[tuple[str, str]] = set()
        while True:
            moves = [m for m in await self._store.moves() if (m.bucket, m.key) not in failed]
            if not moves:
                return len(failed)
            for move in moves:
                try:
                    # a move, once begun, runs to its end even if we are being stopped
                    with anyio.CancelScope(shield=True):
                        await self.apply(move)
                except AsyncFilterError as exc:
                    failed.add((move.bucket, move.key))
                    where = f"s3://{move.bucket}/{move.key}"
                    self.stats.failures[where] = str(exc)
                    log.warning("review move failed; retried later", object=where, error=str(exc))

    async def apply(self, move: Move) -> None:
        """Bring one object to where its verdict says it rests, resuming a recorded step."""
        step, target = move.step, move.step_verdict
        if step is None:
            target = move.verdict
            if move.places.of(move.applied) == move.places.of(target):
                await self._store.settle(move, target)
                self.stats.settled += 1
                return
            step = "copying"
            await self._store.set_step(move, step, target)
        source = move.places.of(move.applied)
        dest = move.places.of(target)
        # the source object itself (where a miss rests) is only ever read: back there, the
        # copy is deleted and nothing copied; away from it, nothing is deleted
        if step == "copying":
            if not move.at_source(target):
                await self._copier.copy(S3Object(source[0], source[1], 0), *dest)
            await self._store.set_step(move, "copied", target)
        if not move.at_source(move.applied):
            await self._copier.delete(*source)
        await self._store.settle(move, target)
        self.stats.moved += 1
        self.stats.settled += 1
        self.stats.failures.pop(f"s3://{move.bucket}/{move.key}", None)
