"""The review's data in the ledger: the band a page at a time, the decisions, the moves.

Pages are read in index order after a cursor (keyset pagination), never with OFFSET, so the
10,000th page costs what the first does and a band of 100,000 opens as fast as one of 100.
A decision is an event appended in one transaction with the verdict it leads to; the caller
is answered only after the commit, so an acknowledged decision survives ``kill -9``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import anyio

from .._errors import ConfigError
from ._band import FROM, ITEM_COLUMNS, MISS_FROM, band, item, shape
from ._misses import TABLE as MISSES
from ._moves import Move, pending_moves, record_step, settle
from ._places import PlaceResolver, Places

DECISIONS = ("accept", "reject", "revert")
ORDERS = ("key", "confidence")
_VERDICT_OF = {"accept": "accepted", "reject": "rejected"}


@dataclass(frozen=True, slots=True)
class Decision:
    """One action of a person: ``client_id`` makes a retried request count once."""

    client_id: str
    bucket: str
    key: str
    decision: str

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ConfigError(f"decision must be one of {', '.join(DECISIONS)}: {self.decision!r}")
        if not self.client_id or len(self.client_id) > 100:
            raise ConfigError("decision id must be 1 to 100 characters")


def verdict_of(decisions: Sequence[str]) -> str | None:
    """The verdict the events of one object lead to: a revert undoes the latest decision not
    yet undone, so repeated undos walk back through the history."""
    stack: list[str] = []
    for decision in decisions:
        if decision == "revert":
            if stack:
                stack.pop()
        else:
            stack.append(decision)
    return _VERDICT_OF[stack[-1]] if stack else None


class ReviewStore:
    """The band of one ledger (``outcome``, optionally one ``name``) and its decisions."""

    def __init__(
        self, db: aiosqlite.Connection, resolver: PlaceResolver, outcome: str, name: str | None
    ) -> None:
        self._db = db
        self._resolver = resolver
        self.outcome = outcome
        self.name = name
        self.names: list[str] = [name] if name is not None else []
        """The classes in the band."""
        self.total = 0
        self.done = 0
        self.groups = 0
        """How many near-copy groups (of two or more) the review's images fall in."""
        self.note: str | None = None
        """What the band shows, when that needs saying (the miss band)."""
        # One connection serves every request and the worker: a write transaction must not
        # be committed, or rolled back, half-way by another task's statements.
        self._writing = anyio.Lock()

    @staticmethod
    async def survey(
        db: aiosqlite.Connection, outcome: str, name: str | None
    ) -> tuple[list[str], int, int]:
        """The band's classes (to resolve before serving), its size and how much of it is
        decided, in one pass over the ledger; decisions keep :attr:`done` current after."""
        where, params = band(outcome, name)
        _, source, class_of, _ = shape(outcome)
        query = f"SELECT {class_of}, count(*), count(s.verdict) {source} WHERE {where} GROUP BY 1"
        async with db.execute(query, params) as cur:
            rows = await cur.fetchall()
        names = sorted(str(row[0]) for row in rows if row[0] is not None)
        return names, sum(int(row[1]) for row in rows), sum(int(row[2]) for row in rows)

    async def page(
        self, *, after: Sequence[Any] | None, order: str, limit: int, pending: bool
    ) -> tuple[list[dict[str, Any]], list[Any] | None]:
        """Up to ``limit`` items after the cursor ``after``; and the cursor of the next page
        (``None`` at the end). ``order`` is ``key`` or ``confidence``: lowest first, but for
        misses most confident first (the most promising)."""
        where, params = band(self.outcome, self.name)
        columns, source, _, rank = shape(self.outcome, self.groups > 0)
        if pending:
            where += " AND s.verdict IS NULL"
        if order == "confidence" and self.groups:  # (the group, then the key, break ties)
            terms = [rank, "COALESCE(g.group_id, 0)", "o.bucket", "o.key"]
        elif order == "confidence":
            terms = [rank, "o.bucket", "o.key"]
        else:
            terms = ["o.bucket", "o.key"]
        sort = ", ".join(terms)
        if after is not None:
            if len(after) != len(terms):
                raise ConfigError("after must be a cursor from /api/items of the same order")
            where += f" AND ({sort}) > ({', '.join('?' * len(terms))})"
            params += list(after)
        query = f"SELECT {columns}, {sort} {source} WHERE {where} ORDER BY {sort} LIMIT ?"
        async with self._db.execute(query, [*params, limit + 1]) as cur:
            rows = list(await cur.fetchall())
        items = [item(row) for row in rows[:limit]]
        if len(rows) <= limit or not items:
            return items, None
        # the sort's values end each row: the last one's are the next page's cursor
        return items, list(rows[limit - 1][-len(terms) :])

    async def location(self, bucket: str, key: str) -> tuple[str, str] | None:
        """Where the band's object ``bucket/key`` is shown from now (its copy; a miss's
        source), or ``None``."""
        where, params = band(self.outcome, self.name)
        columns, source, _, _ = shape(self.outcome)
        query = f"SELECT {columns} {source} WHERE {where} AND o.bucket = ? AND o.key = ?"
        async with self._db.execute(query, [*params, bucket, key]) as cur:
            row = await cur.fetchone()
        if row is None:
            # a near-copy shown beside the band (``group``) is shown from its copy too, and
            # its URL is renewed like the band's own
            query = (
                f"SELECT {ITEM_COLUMNS} {FROM} "
                "WHERE g.group_id IS NOT NULL AND o.bucket = ? AND o.key = ?"
            )
            async with self._db.execute(query, [bucket, key]) as cur:
                row = await cur.fetchone()
        return (str(row[7]), str(row[8])) if row and row[7] and row[8] else None

    async def group(self, group_id: int, limit: int) -> list[dict[str, Any]]:
        """The members of near-copy group ``group_id`` (up to ``limit``), the band's own
        (``in_band``: a verdict applies) and the others (their ``outcome`` said)."""
        where, params = band(self.outcome, self.name)
        in_band = (
            f"EXISTS (SELECT 1 FROM {MISSES} m WHERE m.bucket = o.bucket AND m.key = o.key "
            f"AND {where})"
            if self.outcome == "miss"
            else f"({where})"
        )
        query = (
            f"SELECT {ITEM_COLUMNS}, {in_band}, COALESCE(s.origin_outcome, o.outcome) {FROM} "
            "WHERE g.group_id = ? ORDER BY o.bucket, o.key LIMIT ?"
        )
        args = [*params, group_id, limit]
        async with self._db.execute(query, args) as cur:
            rows = await cur.fetchall()
        return [item(row) | {"in_band": bool(row[13]), "outcome": row[14]} for row in rows]

    async def decide(self, decisions: Sequence[Decision]) -> list[dict[str, Any]]:
        """Append ``decisions`` and the verdicts they lead to, in one transaction committed
        before this returns. A decision whose ``client_id`` is already stored counts once."""
        async with self._writing:
            return await self._decide(decisions)

    async def _decide(self, decisions: Sequence[Decision]) -> list[dict[str, Any]]:
        now, out, delta = time.time(), [], 0
        try:
            for decision in decisions:
                before = await self._verdict(decision.bucket, decision.key)
                async with self._db.execute(
                    "SELECT 1 FROM review_events WHERE client_id = ?", (decision.client_id,)
                ) as cur:
                    seen = await cur.fetchone() is not None
                if seen:  # a retried request: counted the first time
                    after = before
                else:
                    await self._db.execute(
                        "INSERT INTO review_events (client_id, bucket, key, decision, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (decision.client_id, decision.bucket, decision.key, decision.decision, now),
                    )
                    after = await self._apply_event(decision, now)
                    delta += (after is not None) - (before is not None)
                out.append({"id": decision.client_id, "key": decision.key, "verdict": after})
            await self._db.commit()
        except BaseException:
            await self._db.rollback()
            raise
        self.done += delta
        return out

    async def _verdict(self, bucket: str, key: str) -> str | None:
        async with self._db.execute(
            "SELECT verdict FROM review_state WHERE bucket = ? AND key = ?", (bucket, key)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def _apply_event(self, decision: Decision, now: float) -> str | None:
        async with self._db.execute(
            "SELECT decision FROM review_events WHERE bucket = ? AND key = ? ORDER BY seq",
            (decision.bucket, decision.key),
        ) as cur:
            verdict = verdict_of([row[0] for row in await cur.fetchall()])
        updated = await self._db.execute(
            "UPDATE review_state SET verdict = ?, decided_at = ? WHERE bucket = ? AND key = ?",
            (verdict, now, decision.bucket, decision.key),
        )
        if updated.rowcount:
            return verdict
        places, origin_outcome = await self._first_places(decision.bucket, decision.key)
        await self._db.execute(
            "INSERT INTO review_state (bucket, key, origin_outcome, origin_bucket, origin_key, "
            "hit_bucket, hit_key, rejected_bucket, rejected_key, verdict, decided_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                decision.bucket, decision.key, origin_outcome, *places.origin, *places.hit,
                *places.rejected, verdict, now,
            ),
        )  # fmt: skip
        return verdict

    async def _first_places(self, bucket: str, key: str) -> tuple[Places, str]:
        if self.outcome == "miss":
            return await self._first_miss_places(bucket, key), "miss"
        where, params = band(self.outcome, self.name)
        query = (
            f"SELECT o.outcome, COALESCE(o.folder, o.match_label), o.dest_bucket, o.dest_key "
            f"{FROM} WHERE {where} AND o.bucket = ? AND o.key = ?"
        )
        async with self._db.execute(query, [*params, bucket, key]) as cur:
            row = await cur.fetchone()
        if row is None or not row[2] or not row[3]:
            raise ConfigError(f"s3://{bucket}/{key} is not in this review")
        outcome, name, copy_bucket, copy_key = row
        places = self._resolver.places(
            outcome=outcome, name=name, key=key, copy_bucket=copy_bucket, copy_key=copy_key
        )
        return places, outcome

    async def _first_miss_places(self, bucket: str, key: str) -> Places:
        """A miss rests at its source, which is never written or deleted; its first decision
        also gives its row the wanted label found below the band (what exports call it)."""
        where, params = band(self.outcome, self.name)
        query = (
            f"SELECT m.name, m.label, m.via, m.detected, m.confidence, m.instances {MISS_FROM} "
            f"WHERE {where} AND o.bucket = ? AND o.key = ?"
        )
        async with self._db.execute(query, [*params, bucket, key]) as cur:
            row = await cur.fetchone()
        if row is None:
            raise ConfigError(f"s3://{bucket}/{key} is not in this review")
        await self._db.execute(
            "UPDATE objects SET folder = ?, match_label = ?, match_via = ?, match_detected = ?, "
            "match_confidence = ?, match_instances = ? WHERE bucket = ? AND key = ?",
            (*row, bucket, key),
        )
        return self._resolver.miss_places(name=row[0], bucket=bucket, key=key)

    # --- moves: what the worker applies (the SQL is in _moves.py) -------------------------

    async def moves(self, limit: int = 200) -> list[Move]:
        """Verdicts not yet at rest in S3, oldest decision first."""
        return await pending_moves(self._db, limit)

    async def set_step(self, move: Move, step: str, verdict: str | None) -> None:
        async with self._writing:
            await record_step(self._db, move, step, verdict)

    async def settle(self, move: Move, verdict: str | None) -> None:
        """Record ``verdict`` as at rest, in ``review_state`` and in the object's row, where
        sweeps, ``plan`` and exports read it."""
        async with self._writing:
            await settle(self._db, move, verdict)
