"""The review's band in SQL: which rows it holds, the columns an item is read from, and an
item as the page gets it. One shape for every band, so pages, counts and lookups agree: the
band of copies (``review``, ``hit``) reads the ``objects`` row, the miss band its candidate
row (see :mod:`._misses`), and both the near-copy group (see :mod:`._groups`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._groups import TABLE as GROUPS
from ._misses import TABLE as MISSES


def band(outcome: str, name: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause of the band: copied with ``outcome`` (before any verdict moved it);
    for misses, the promising ones (see :mod:`._misses`)."""
    if outcome == "miss":
        return ("m.name = ?", [name]) if name is not None else ("1", [])
    clause = (
        "o.copied = 1 AND (CASE WHEN s.origin_outcome IS NULL THEN o.outcome "
        "ELSE s.origin_outcome END) = ?"
    )
    params: list[Any] = [outcome]
    if name is not None:
        clause += " AND o.folder = ?"
        params.append(name)
    return clause, params


ITEM_COLUMNS = (
    "o.bucket, o.key, o.folder, o.match_label, o.match_detected, o.match_confidence, "
    "o.match_instances, o.dest_bucket, o.dest_key, s.verdict, g.group_id, g.size, o.match_via"
)
_STATE = "LEFT JOIN review_state s ON s.bucket = o.bucket AND s.key = o.key"
_GROUP = f"LEFT JOIN {GROUPS} g ON g.bucket = o.bucket AND g.key = o.key"
FROM = f"FROM objects o {_STATE} {_GROUP}"
#: A miss is shown from the source (it has no copy; a verdict never removes the source), with
#: the wanted label found below the band.
MISS_COLUMNS = (
    "o.bucket, o.key, m.name, m.label, m.detected, m.confidence, m.instances, o.bucket, o.key, "
    "s.verdict, g.group_id, g.size, m.via"
)
MISS_FROM = (
    f"FROM {MISSES} m JOIN objects o ON o.bucket = m.bucket AND o.key = m.key {_STATE} {_GROUP}"
)


def shape(outcome: str, grouped: bool = False) -> tuple[str, str, str, str]:
    """The band's item columns, FROM clause, class and confidence-order expressions. With
    near-copy groups (``grouped``) the confidence order keeps each group together, where its
    least confident member would be; without, it is the ledger's index order."""
    if outcome == "miss":
        return MISS_COLUMNS, MISS_FROM, "m.name", "m.rank"
    rank = "COALESCE(g.rank, o.match_confidence)" if grouped else "o.match_confidence"
    return ITEM_COLUMNS, FROM, "COALESCE(o.folder, o.match_label)", rank


def item(row: Sequence[Any]) -> dict[str, Any]:
    bucket, key, folder, label, detected, confidence, instances, dest_bucket, dest_key, v = row[:10]
    boxes = []
    for instance in json.loads(instances) if instances else ():
        box = instance.get("BoundingBox") or {}
        boxes.append(
            {
                "left": box.get("Left", 0.0),
                "top": box.get("Top", 0.0),
                "width": box.get("Width", 0.0),
                "height": box.get("Height", 0.0),
                "confidence": instance.get("Confidence"),
            }
        )
    return {
        "bucket": bucket,
        "key": key,
        "name": folder or label,
        "detected": detected or label,
        "confidence": confidence,
        "boxes": boxes,
        "at": [dest_bucket, dest_key],
        "verdict": v,
        "group": row[10],
        "group_size": row[11] or 0,
        "via": row[12],
    }
