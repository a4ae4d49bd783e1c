"""The moves the review's worker makes, as the ledger records them.

A move is pending while ``review_state.verdict`` differs from ``applied`` (where the image
rests) or a step is recorded; settling it updates the object's row and the ``copies`` table in
the same transaction, so sweeps, ``plan`` and exports see where the image is and why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from ._places import Places


@dataclass(frozen=True, slots=True)
class Move:
    """A verdict not yet at rest in S3: where the image is, where it goes, how far it got."""

    bucket: str
    key: str
    places: Places
    origin_outcome: str
    applied: str | None
    verdict: str | None
    decided_at: float | None
    step: str | None
    step_verdict: str | None

    def at_source(self, verdict: str | None) -> bool:
        """True when ``verdict`` leaves the image at its source object (a miss not judged):
        the one place a review never writes to or deletes from."""
        return self.places.of(verdict) == (self.bucket, self.key)


async def pending_moves(db: aiosqlite.Connection, limit: int = 200) -> list[Move]:
    """Verdicts not yet at rest in S3, oldest decision first."""
    async with db.execute(
        "SELECT bucket, key, origin_bucket, origin_key, hit_bucket, hit_key, "
        "rejected_bucket, rejected_key, origin_outcome, applied, verdict, decided_at, step, "
        "step_verdict FROM review_state WHERE verdict IS NOT applied OR step IS NOT NULL "
        "ORDER BY decided_at LIMIT ?",
        (limit,),
    ) as cur:
        rows = await cur.fetchall()
    return [
        Move(
            bucket=r[0],
            key=r[1],
            places=Places((r[2], r[3]), (r[4], r[5]), (r[6], r[7])),
            origin_outcome=r[8],
            applied=r[9],
            verdict=r[10],
            decided_at=r[11],
            step=r[12],
            step_verdict=r[13],
        )
        for r in rows
    ]


async def record_step(db: aiosqlite.Connection, move: Move, step: str, verdict: str | None) -> None:
    """Commit how far a move got (``copying`` before the copy, ``copied`` after it)."""
    await db.execute(
        "UPDATE review_state SET step = ?, step_verdict = ? WHERE bucket = ? AND key = ?",
        (step, verdict, move.bucket, move.key),
    )
    await db.commit()


async def settle(db: aiosqlite.Connection, move: Move, verdict: str | None) -> None:
    """Record ``verdict`` as at rest, in ``review_state``, ``copies`` and the object's row."""
    bucket, key = move.places.of(verdict)
    if verdict == "accepted":
        outcome = "hit"
    elif verdict == "rejected":
        outcome = "miss" if move.origin_outcome == "miss" else "review"
    else:
        outcome = move.origin_outcome
    at_source = move.at_source(verdict)
    await db.execute(
        "UPDATE review_state SET applied = ?, step = NULL, step_verdict = NULL "
        "WHERE bucket = ? AND key = ?",
        (verdict, move.bucket, move.key),
    )
    # the ledger's record of every copy an object has: the one place it rests now (none
    # when that is the source itself: a miss nobody has judged)
    await db.executemany(
        "DELETE FROM copies WHERE bucket = ? AND key = ? AND dest_bucket = ? AND dest_key = ?",
        [(move.bucket, move.key, *place) for place in move.places.all],
    )
    if not at_source:
        await db.execute(
            "INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?)",
            (move.bucket, move.key, bucket, key, outcome, time.time()),
        )
    await db.execute(
        "UPDATE objects SET outcome = ?, dest_bucket = ?, dest_key = ?, copied = ?, "
        "verdict = ?, verdict_at = ? WHERE bucket = ? AND key = ?",
        (
            outcome, None if at_source else bucket, None if at_source else key,
            0 if at_source else 1, verdict, move.decided_at if verdict else None,
            move.bucket, move.key,
        ),
    )  # fmt: skip
    await db.commit()
