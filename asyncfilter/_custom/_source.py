"""The ledger, read-only, for training: which images a sweep decided, and how.

Training never changes a ledger, and may run while a sweep writes it, so it opens the SQLite
file read-only (no lock, no migration) instead of through :class:`~asyncfilter._ledger.Ledger`.
The ``verdict`` column (a reviewer's decision, written by the review page) is optional: a
ledger without it has no verdicts.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from .._errors import ConfigError
from .._models import Instance

_COLUMNS = (
    "bucket", "key", "size", "outcome", "copied", "dest_bucket", "dest_key", "folder",
    "match_label", "match_confidence", "match_instances", "model_version", "decided_at",
    "image_width", "image_height",
)  # fmt: skip
ACCEPTED_VERDICTS = frozenset({"accepted", "approved", "verified"})


@dataclass(frozen=True, slots=True)
class Row:
    """One decided object, as training needs it."""

    bucket: str
    key: str
    size: int
    outcome: str
    copied: bool
    dest_bucket: str | None
    dest_key: str | None
    folder: str | None
    confidence: float
    instances: tuple[Instance, ...]
    model_version: str | None
    decided_at: float
    width: int | None
    height: int | None
    verdict: str | None

    @property
    def class_name(self) -> str | None:
        return self.folder

    @property
    def location(self) -> tuple[str, str]:
        """Where the image is now: its copy if it was copied, else the source object."""
        if self.copied and self.dest_bucket and self.dest_key:
            return self.dest_bucket, self.dest_key
        return self.bucket, self.key


async def read_rows(state: str | Path) -> list[Row]:
    """Every decided object in the ledger at ``state`` (without the stored responses)."""
    path = Path(await anyio.Path(state).expanduser())
    if not await anyio.Path(path).is_file():
        raise ConfigError(f"--state: no ledger at {path}")
    try:
        async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as db:
            async with db.execute("PRAGMA table_info(objects)") as cursor:
                present = {row[1] async for row in cursor}
            if not present:
                raise ConfigError(f"--state: {path} is not an asyncfilter ledger")
            columns = [c if c in present else f"NULL AS {c}" for c in _COLUMNS]
            columns.append("verdict" if "verdict" in present else "NULL AS verdict")
            query = f"SELECT {', '.join(columns)} FROM objects ORDER BY bucket, key"
            async with db.execute(query) as cursor:
                return [_row(record) async for record in cursor]
    except sqlite3.Error as exc:
        raise ConfigError(f"--state: cannot read ledger {path}: {exc}") from exc


async def read_groups(state: str | Path) -> dict[tuple[str, str], int]:
    """Near-copy groups found by ``asyncfilter dupes``: ``(bucket, key)`` of a copy to its
    group id (empty when the ledger has none)."""
    path = Path(await anyio.Path(state).expanduser())
    try:
        async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as db:
            async with db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'image_hashes'"
            ) as cursor:
                if await cursor.fetchone() is None:
                    return {}
            query = "SELECT bucket, key, group_id FROM image_hashes WHERE group_id IS NOT NULL"
            async with db.execute(query) as cursor:
                return {(b, k): int(g) async for b, k, g in cursor}
    except sqlite3.Error as exc:
        raise ConfigError(f"--state: cannot read ledger {path}: {exc}") from exc


def _row(record: Any) -> Row:
    (bucket, key, size, outcome, copied, dest_bucket, dest_key, folder, label, confidence,
     instances, model_version, decided_at, width, height, verdict) = record  # fmt: skip
    return Row(
        bucket=bucket,
        key=key,
        size=int(size or 0),
        outcome=str(outcome),
        copied=bool(copied),
        dest_bucket=dest_bucket,
        dest_key=dest_key,
        folder=folder or label,
        confidence=float(confidence or 0.0),
        instances=tuple(Instance.from_response(i) for i in json.loads(instances or "[]")),
        model_version=model_version,
        decided_at=float(decided_at or 0.0),
        width=int(width) if width else None,
        height=int(height) if height else None,
        verdict=str(verdict).lower() if verdict else None,
    )
