"""Near-copy groups on the review page: which reviewed images are near-copies of which.

``asyncfilter dupes`` stores each copy's group in ``image_hashes``, keyed by where the copy
was when it was hashed. The page speaks of source objects, and a verdict may have moved a copy
since, so when a review opens each group is mapped back to its source objects (through where
the sweep put the copy, and every place a review records for it) into a table of the
connection's own (``temp``). Groups of one are left out: there is nothing to show together.
"""

from __future__ import annotations

import aiosqlite

TABLE = "temp.review_groups"
_PLACES = ("origin", "hit", "rejected")


async def collect_groups(db: aiosqlite.Connection) -> int:
    """Fill :data:`TABLE` (``bucket, key, group_id, size, rank``: the group's lowest
    confidence); the number of groups."""
    await db.execute(f"DROP TABLE IF EXISTS {TABLE}")
    await db.execute(
        f"CREATE TABLE {TABLE} (bucket TEXT NOT NULL, key TEXT NOT NULL, group_id INTEGER NOT "
        "NULL, size INTEGER NOT NULL DEFAULT 0, rank REAL, PRIMARY KEY (bucket, key))"
    )
    await db.execute(f"CREATE INDEX {TABLE}_by_group ON review_groups (group_id, bucket, key)")
    async with db.execute(
        "SELECT 1 FROM image_hashes WHERE group_id IS NOT NULL LIMIT 1"
    ) as cur:  # fmt: skip
        if await cur.fetchone() is None:
            await db.commit()
            return 0
    # where a verdict moved a copy, the review's record of its places finds it first
    for place in _PLACES:
        await db.execute(
            f"INSERT OR IGNORE INTO {TABLE} (bucket, key, group_id) SELECT s.bucket, s.key, "
            f"h.group_id FROM review_state s JOIN image_hashes h ON h.bucket = s.{place}_bucket "
            f"AND h.key = s.{place}_key WHERE h.group_id IS NOT NULL"
        )
    await db.execute(
        f"INSERT OR IGNORE INTO {TABLE} (bucket, key, group_id) SELECT o.bucket, o.key, "
        "h.group_id FROM objects o JOIN image_hashes h ON h.bucket = o.dest_bucket "
        "AND h.key = o.dest_key WHERE o.copied = 1 AND h.group_id IS NOT NULL"
    )
    await db.execute(
        f"UPDATE {TABLE} SET size = (SELECT count(*) FROM {TABLE} AS x "
        "WHERE x.group_id = review_groups.group_id)"
    )
    await db.execute(f"DELETE FROM {TABLE} WHERE size < 2")
    # a group sits in the confidence order where its least confident member would
    await db.execute(
        f"UPDATE {TABLE} SET rank = (SELECT min(o.match_confidence) FROM {TABLE} AS x "
        "JOIN objects o ON o.bucket = x.bucket AND o.key = x.key "
        "WHERE x.group_id = review_groups.group_id)"
    )
    async with db.execute(f"SELECT count(DISTINCT group_id) FROM {TABLE}") as cur:
        row = await cur.fetchone()
    await db.commit()
    return int(row[0]) if row else 0
