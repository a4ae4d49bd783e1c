"""The ledger: what every object cost and how it ended, so no sweep pays twice for it.

One SQLite file per source location. Workers never touch the disk: :meth:`Ledger.record` only
appends to a list, and one writer task commits what has gathered in a single transaction, as
soon as the previous commit is done. What a crash can lose is therefore at most the answers of
the last few milliseconds, which a resumed sweep treats like calls that were in flight.

A lock file next to the ledger makes a second sweep on the same ledger fail at once with a clear
message instead of interleaving with the first.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosqlite
import anyio

from ._errors import ConfigError
from ._models import DETECT_LABELS
from ._results import ImageResult, Outcome

# --- review (the review page's tables; see asyncfilter/review/_store.py) ---------------------
#: ``review_events`` is the append-only truth: every accept, reject and revert a person made,
#: once per client-generated id. ``review_state`` is derived from it (the verdict wanted now)
#: plus where the image's copy rests and the move in flight, so a worker can finish a move
#: that a crash interrupted. ``objects.verdict``/``verdict_at`` mirror a verdict once applied.
REVIEW_SCHEMA = (
    """CREATE TABLE review_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL UNIQUE,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'revert')),
    at REAL NOT NULL
)""",
    "CREATE INDEX review_events_object ON review_events (bucket, key, seq)",
    """CREATE TABLE review_state (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    origin_outcome TEXT NOT NULL,
    origin_bucket TEXT NOT NULL,
    origin_key TEXT NOT NULL,
    hit_bucket TEXT NOT NULL,
    hit_key TEXT NOT NULL,
    rejected_bucket TEXT NOT NULL,
    rejected_key TEXT NOT NULL,
    verdict TEXT,
    decided_at REAL,
    applied TEXT,
    step TEXT,
    step_verdict TEXT,
    PRIMARY KEY (bucket, key)
)""",
    "CREATE INDEX review_state_pending ON review_state (origin_outcome, verdict)",
    "CREATE INDEX objects_by_confidence ON objects (match_confidence, bucket, key)",
)

APPLICATION_ID = 0x4146_4C47  # "AFLG"
SCHEMA_VERSION = 5
#: For rows written before the engine recorded whether an error was temporary (schema < 3):
#: the codes and exception names that were temporary failures. Newer rows carry the flag.
_LEGACY_RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalServerError",
        "ServiceUnavailable",
        "CopyTimeout",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ResponseStreamingError",
        "HTTPClientError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "TimeoutError",
    }
)

#: Near-copies (``asyncfilter dupes``): one row per copy, keyed by the copy's bucket and key;
#: ``etag`` is the ledger's ETag of the object it was copied from when it was hashed (another
#: version is hashed again), ``group_id`` the near-copy group the last ``dupes`` run put it in.
_IMAGE_HASHES = (
    "CREATE TABLE image_hashes (bucket TEXT NOT NULL, key TEXT NOT NULL, etag TEXT NOT NULL,"
    " phash INTEGER NOT NULL, phash_mirror INTEGER NOT NULL, hashed_at REAL NOT NULL,"
    " group_id INTEGER, PRIMARY KEY (bucket, key))"
)
_SCHEMA = """
CREATE TABLE objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    skip_reason TEXT,
    error_code TEXT,
    error_message TEXT,
    match_label TEXT,
    match_via TEXT,
    match_detected TEXT,
    match_confidence REAL,
    dest_bucket TEXT,
    dest_key TEXT,
    copied INTEGER NOT NULL DEFAULT 0,
    min_confidence REAL,
    max_labels INTEGER,
    model_version TEXT,
    response BLOB,
    first_seen REAL NOT NULL,
    decided_at REAL NOT NULL,
    match_instances TEXT,
    folder TEXT,
    image_width INTEGER,
    image_height INTEGER,
    image_depth INTEGER,
    retryable INTEGER,
    detector TEXT,
    verdict TEXT,
    verdict_at REAL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE copies (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    dest_bucket TEXT NOT NULL,
    dest_key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    copied_at REAL NOT NULL,
    PRIMARY KEY (bucket, key, dest_bucket, dest_key)
);
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE jobs (
    job TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    paid_calls INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
"""
_SCHEMA += _IMAGE_HASHES + ";\n"
_SCHEMA += "".join(f"{statement};\n" for statement in REVIEW_SCHEMA)


#: The columns :meth:`Ledger.record` writes, in its order.
_COLUMNS = (
    "bucket, key, etag, size, outcome, skip_reason, error_code, error_message, match_label, "
    "match_via, match_detected, match_confidence, dest_bucket, dest_key, copied, "
    "min_confidence, max_labels, model_version, response, first_seen, decided_at, "
    "match_instances, folder, retryable, detector"
)
_MARKS = ",".join("?" * len(_COLUMNS.split(",")))
_EXPORT_COLUMNS = (
    "bucket, key, outcome, match_label, match_detected, match_confidence, match_instances, "
    "dest_bucket, dest_key, model_version, decided_at, folder, image_width, image_height, "
    "image_depth, verdict, verdict_at"
)
#: How a ledger of an older schema version is brought up to date, one step per version.
_MIGRATIONS = {
    1: (
        "ALTER TABLE objects ADD COLUMN match_instances TEXT",
        "ALTER TABLE objects ADD COLUMN folder TEXT",
        "ALTER TABLE objects ADD COLUMN image_width INTEGER",
        "ALTER TABLE objects ADD COLUMN image_height INTEGER",
        "ALTER TABLE objects ADD COLUMN image_depth INTEGER",
    ),
    2: (
        # every copy an object has, per destination: a second destination is not "done"
        "CREATE TABLE copies (bucket TEXT NOT NULL, key TEXT NOT NULL, dest_bucket TEXT NOT NULL,"
        " dest_key TEXT NOT NULL, outcome TEXT NOT NULL, copied_at REAL NOT NULL,"
        " PRIMARY KEY (bucket, key, dest_bucket, dest_key))",
        "INSERT OR IGNORE INTO copies SELECT bucket, key, dest_bucket, dest_key, outcome,"
        " decided_at FROM objects WHERE copied = 1 AND dest_key IS NOT NULL"
        " AND dest_bucket IS NOT NULL",
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "ALTER TABLE objects ADD COLUMN retryable INTEGER",
        "ALTER TABLE objects ADD COLUMN detector TEXT",
        "ALTER TABLE objects ADD COLUMN verdict TEXT",
        "ALTER TABLE objects ADD COLUMN verdict_at REAL",
    ),
    3: (
        # near-copies (asyncfilter dupes): each copy's perceptual hashes and its group
        _IMAGE_HASHES,
    ),
    4: REVIEW_SCHEMA,  # the review page's decisions and moves
}
#: What a row written before answers carried their detector was answered by.
LEGACY_DETECTOR = DETECT_LABELS


class LedgerError(ConfigError):
    """The ledger file cannot be used (corrupt, foreign, or in use by another sweep)."""


@dataclass(frozen=True, slots=True)
class ObjectState:
    """What the ledger knows about one object: its last outcome, its stored answer, its copies."""

    etag: str
    outcome: Outcome
    error_code: str | None
    retryable: bool
    """For an error: a temporary failure (throttling, 5xx, a dropped connection, a copy that
    timed out) that the next run tries again; otherwise the error is the service's verdict."""
    dest_key: str | None
    copies: frozenset[tuple[str, str]]
    """Every ``(dest_bucket, dest_key)`` this object has been copied to, by any run."""
    min_confidence: float | None
    max_labels: int | None
    model_version: str | None
    detector: str
    response: Mapping[str, Any] | None
    verdict: str | None = None
    """A person's verdict from the review page: ``"accepted"``, ``"rejected"`` or ``None``."""

    def answers(
        self, etag: str, min_confidence: float, max_labels: int | None, detector: str
    ) -> bool:
        """True when the stored response can stand in for a new call with these parameters:
        the same object version and detector, asked at least as permissively, and not cut short
        by MaxLabels (unless the new request would cut it the same way)."""
        if self.response is None or etag != self.etag or self.min_confidence is None:
            return False
        if detector != self.detector or self.min_confidence > min_confidence:
            return False
        if self.max_labels is None:
            return True
        returned = len(self.response.get("Labels", ()))
        truncated = returned >= self.max_labels
        return not truncated or (max_labels is not None and max_labels <= self.max_labels)

    def final(self, etag: str) -> bool:
        """True when this object version ended for good without a response to reuse: skipped,
        or an error the service would repeat. Temporary failures are never final."""
        if etag != self.etag:
            return False
        if self.outcome is Outcome.SKIPPED:
            return True
        return self.outcome is Outcome.ERROR and not self.retryable and self.response is None

    def copied_to(self, bucket: str, key: str) -> bool:
        return (bucket, key) in self.copies


def _retryable(flag: int | None, code: str | None) -> bool:
    if flag is not None:
        return bool(flag)
    # a row from before the flag: temporary by its code, or a bare HTTP status of 5xx
    return code in _LEGACY_RETRYABLE or (code is not None and code.isdigit() and code >= "500")


def sweep_id(identity: Mapping[str, Any]) -> str:
    """A stable id for a sweep's identity (source, destination, labels, threshold, name): runs
    with the same id are one sweep, whose counts and caps continue."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def endpoint_identity(endpoint_url: str | None) -> str:
    """Which S3 service an endpoint is: ``aws`` for AWS itself (bucket names are global there,
    whatever the regional host), else its scheme, host and port."""
    if not endpoint_url:
        return "aws"
    parts = urlsplit(endpoint_url.strip().lower())
    host = parts.hostname or ""
    if host == "amazonaws.com" or host.endswith(".amazonaws.com"):
        return "aws"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{host}:{port}"


def default_state_path(bucket: str, prefix: str, endpoint_url: str | None = None) -> Path:
    """``$ASYNCFILTER_STATE_DIR`` or ``~/.cache/asyncfilter``, one file per source location:
    the S3 service, the bucket and the prefix (AWS's own ledgers keep their earlier names)."""
    base = os.environ.get("ASYNCFILTER_STATE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "asyncfilter"
    )
    service = endpoint_identity(endpoint_url)
    where = prefix if service == "aws" else f"{service}\0{prefix}"
    tag = hashlib.sha256(where.encode()).hexdigest()[:8]
    return Path(base) / f"{bucket}-{tag}.sqlite"


class Ledger:
    """An open ledger; use :meth:`open` and close it with :meth:`aclose`."""

    def __init__(self, path: Path, db: aiosqlite.Connection, lock_fd: int) -> None:
        self.path = path
        self._db = db
        self._lock_fd = lock_fd
        self._pending: list[tuple[Any, ...]] = []
        self._copies: list[tuple[Any, ...]] = []
        self._copy_log: list[tuple[Any, ...]] = []
        self._paid: dict[str, int] = {}
        self._wake = anyio.Event()
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path) -> Ledger:
        path = _place(path)
        lock_fd = _lock(path)
        try:
            db = await aiosqlite.connect(path)
        except sqlite3.Error as exc:
            os.close(lock_fd)
            raise LedgerError(f"cannot open ledger {path}: {exc}") from exc
        try:
            await _prepare(db, path)
        except BaseException:
            await db.close()
            os.close(lock_fd)
            raise
        return cls(path, db, lock_fd)

    # --- reading -----------------------------------------------------------------------------

    async def lookup(self, bucket: str, keys: Sequence[str]) -> dict[str, ObjectState]:
        """What is known of ``keys`` (two queries per few hundred keys: a page at a time)."""
        found: dict[str, ObjectState] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            copies: dict[str, set[tuple[str, str]]] = {}
            query = (
                "SELECT key, dest_bucket, dest_key FROM copies "
                f"WHERE bucket = ? AND key IN ({marks})"
            )
            async with self._db.execute(query, (bucket, *chunk)) as cursor:
                async for key, dest_bucket, dest_key in cursor:
                    copies.setdefault(key, set()).add((dest_bucket, dest_key))
            query = (
                "SELECT key, etag, outcome, error_code, retryable, dest_key, min_confidence, "
                "max_labels, model_version, detector, response, verdict FROM objects "
                f"WHERE bucket = ? AND key IN ({marks})"
            )
            async with self._db.execute(query, (bucket, *chunk)) as cursor:
                async for row in cursor:
                    found[row[0]] = ObjectState(
                        etag=row[1],
                        outcome=Outcome(row[2]),
                        error_code=row[3],
                        retryable=_retryable(row[4], row[3]),
                        dest_key=row[5],
                        copies=frozenset(copies.get(row[0], ())),
                        min_confidence=row[6],
                        max_labels=row[7],
                        model_version=row[8],
                        detector=row[9] or LEGACY_DETECTOR,
                        response=json.loads(zlib.decompress(row[10])) if row[10] else None,
                        verdict=row[11],
                    )
        return found

    async def donors(
        self, bucket: str, digests: Sequence[tuple[int, str]]
    ) -> dict[tuple[int, str], tuple[str, ObjectState]]:
        """For each ``(size, etag)``, one object of ``bucket`` with those bytes and a stored
        answer, if any: the answer its copies can take (see :mod:`asyncfilter._duplicates`)."""
        found: dict[tuple[int, str], tuple[str, ObjectState]] = {}
        for start in range(0, len(digests), 400):
            chunk = digests[start : start + 400]
            pairs = ",".join("(?, ?)" for _ in chunk)
            query = (
                "SELECT key, size, etag, min_confidence, max_labels, model_version, detector, "
                "response FROM objects WHERE bucket = ? AND response IS NOT NULL "
                f"AND (size, etag) IN (VALUES {pairs})"
            )
            params = [bucket, *(v for pair in chunk for v in pair)]
            async with self._db.execute(query, params) as cursor:
                async for key, size, etag, min_conf, max_labels, version, detector, blob in cursor:
                    found.setdefault(
                        (size, etag),
                        (
                            key,
                            ObjectState(
                                etag=etag,
                                outcome=Outcome.MISS,  # (not used: only the answer is)
                                error_code=None,
                                retryable=False,
                                dest_key=None,
                                copies=frozenset(),
                                min_confidence=min_conf,
                                max_labels=max_labels,
                                model_version=version,
                                detector=detector or LEGACY_DETECTOR,
                                response=json.loads(zlib.decompress(blob)),
                            ),
                        ),
                    )
        return found

    async def paid_calls(self, job: str) -> int:
        async with self._db.execute("SELECT paid_calls FROM jobs WHERE job = ?", (job,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def rows(self) -> list[dict[str, Any]]:
        """Every object, for export (responses decompressed)."""
        out = []
        async with self._db.execute("SELECT * FROM objects ORDER BY bucket, key") as cursor:
            names = [d[0] for d in cursor.description]
            async for row in cursor:
                item = dict(zip(names, row, strict=True))
                blob = item.pop("response")
                item["response"] = json.loads(zlib.decompress(blob)) if blob else None
                item["copied"] = bool(item["copied"])
                instances = item.get("match_instances")
                item["match_instances"] = json.loads(instances) if instances else []
                out.append(item)
        return out

    async def copied_rows(
        self, outcomes: Collection[str], folder: str | None = None
    ) -> list[dict[str, Any]]:
        """The copied objects with one of ``outcomes`` (and in ``folder``), without their raw
        responses: what exports need, read cheaply from a ledger of millions of rows."""
        marks = ",".join("?" * len(outcomes))
        query = (
            f"SELECT {_EXPORT_COLUMNS} FROM objects WHERE copied = 1 AND outcome IN ({marks})"
            + (" AND folder = ?" if folder is not None else "")
            + " ORDER BY bucket, key"
        )
        params = (*outcomes, folder) if folder is not None else tuple(outcomes)
        out = []
        async with self._db.execute(query, params) as cursor:
            names = [d[0] for d in cursor.description]
            async for row in cursor:
                item = dict(zip(names, row, strict=True))
                instances = item["match_instances"]
                item["match_instances"] = json.loads(instances) if instances else []
                item["copied"] = True
                out.append(item)
        return out

    async def save_sizes(self, sizes: Sequence[tuple[str, str, int, int, int]]) -> None:
        """Remember pixel sizes read from image headers: ``(bucket, key, width, height, depth)``
        in the frame Rekognition uses, so a second export reads no header again."""
        await self._db.executemany(
            "UPDATE objects SET image_width = ?, image_height = ?, image_depth = ? "
            "WHERE bucket = ? AND key = ?",
            [(w, h, d, b, k) for b, k, w, h, d in sizes],
        )
        await self._db.commit()

    # --- writing -----------------------------------------------------------------------------

    def remember(
        self,
        result: ImageResult,
        *,
        dest_bucket: str,
        min_confidence: float,
        max_labels: int | None,
        job: str,
        detector: str = LEGACY_DETECTOR,
        folder: str | None = None,
    ) -> None:
        """Queue one decided image for the writer; never waits.

        An answer that came from the ledger itself is not written back (that would replace
        the original record); only a copy it led to is, with the decision behind it, so that
        exports describe what the copy is.
        """
        obj, match, now = result.object, result.match, time.time()
        copied = result.dest_key is not None and (
            result.outcome is Outcome.HIT or result.outcome is Outcome.REVIEW
        )
        instances = json.dumps(match.to_dict()["instances"]) if match and match.instances else None
        if copied:
            assert result.dest_key is not None
            self._copy_log.append(
                (obj.bucket, obj.key, dest_bucket, result.dest_key, result.outcome.value, now)
            )
        if result.cached and result.duplicate_of is None:
            if copied and match is not None:
                self._copies.append(
                    (
                        dest_bucket, result.dest_key, now, result.outcome.value, match.label,
                        match.via, match.detected, match.confidence, instances, folder,
                        obj.bucket, obj.key,
                    )
                )  # fmt: skip
                self._wake.set()
            return
        response = result.response
        blob = zlib.compress(json.dumps(response).encode()) if response is not None else None
        if result.paid:
            self._paid[job] = self._paid.get(job, 0) + 1
        self._pending.append(
            (
                obj.bucket, obj.key, obj.etag, obj.size, result.outcome.value,
                result.skip_reason.value if result.skip_reason else None,
                result.error_code, result.error_message,
                match.label if match else None, match.via if match else None,
                match.detected if match else None, match.confidence if match else None,
                dest_bucket if result.dest_key else None, result.dest_key,
                int(copied),
                min_confidence if response is not None else None,
                max_labels if response is not None else None,
                response.get("LabelModelVersion") if response is not None else None,
                blob, now, now,
                instances,
                folder if result.dest_key else None,
                int(result.retryable) if result.outcome is Outcome.ERROR else None,
                detector if response is not None else None,
            )
        )  # fmt: skip
        self._wake.set()

    async def run_writer(self) -> None:
        """Commit what has gathered, batch after batch, until cancelled; then flush the rest."""
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                # a batch taken off the list must reach the disk even if we are being stopped
                with anyio.CancelScope(shield=True):
                    await self.flush()
        finally:
            with anyio.CancelScope(shield=True):
                await self.flush()

    async def flush(self) -> None:
        if not self._pending and not self._paid and not self._copies and not self._copy_log:
            return
        rows, self._pending = self._pending, []
        copies, self._copies = self._copies, []
        copy_log, self._copy_log = self._copy_log, []
        paid, self._paid = self._paid, {}
        await self._db.executemany(
            f"INSERT INTO objects ({_COLUMNS}) VALUES ({_MARKS}) "
            # (a person's verdict holds for the object version that was judged only)
            "ON CONFLICT (bucket, key) DO UPDATE SET "
            "verdict=CASE WHEN excluded.etag = etag THEN verdict END, "
            "verdict_at=CASE WHEN excluded.etag = etag THEN verdict_at END, "
            "etag=excluded.etag, size=excluded.size, "
            "outcome=excluded.outcome, skip_reason=excluded.skip_reason, "
            "error_code=excluded.error_code, error_message=excluded.error_message, "
            "match_label=excluded.match_label, match_via=excluded.match_via, "
            "match_detected=excluded.match_detected, match_confidence=excluded.match_confidence, "
            "match_instances=excluded.match_instances, "
            "folder=COALESCE(excluded.folder, folder), "
            "dest_bucket=COALESCE(excluded.dest_bucket, dest_bucket), "
            "dest_key=COALESCE(excluded.dest_key, dest_key), "
            "copied=MAX(copied, excluded.copied), "
            "min_confidence=COALESCE(excluded.min_confidence, min_confidence), "
            "max_labels=CASE WHEN excluded.response IS NULL THEN max_labels "
            "ELSE excluded.max_labels END, "
            "model_version=COALESCE(excluded.model_version, model_version), "
            "response=COALESCE(excluded.response, response), decided_at=excluded.decided_at, "
            "retryable=excluded.retryable, detector=COALESCE(excluded.detector, detector)",
            rows,
        )
        await self._db.executemany(
            "INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "outcome = excluded.outcome, copied_at = excluded.copied_at",
            copy_log,
        )
        await self._db.executemany(
            "UPDATE objects SET copied = 1, dest_bucket = ?, dest_key = ?, decided_at = ?, "
            "outcome = ?, match_label = ?, match_via = ?, match_detected = ?, "
            "match_confidence = ?, match_instances = ?, folder = ? WHERE bucket = ? AND key = ?",
            copies,
        )
        now = time.time()
        await self._db.executemany(
            "INSERT INTO jobs VALUES (?, '', ?, ?) ON CONFLICT (job) DO UPDATE SET "
            "paid_calls = paid_calls + excluded.paid_calls, updated_at = excluded.updated_at",
            [(job, count, now) for job, count in paid.items()],
        )
        await self._db.commit()

    async def bind_endpoint(self, endpoint: str) -> None:
        """Tie this ledger to the S3 service its objects live in, or refuse one made against
        another: two services can each have a bucket of the same name, and answers or copies
        recorded for one say nothing about the other's objects."""
        async with self._db.execute("SELECT value FROM meta WHERE name = 'endpoint'") as cur:
            row = await cur.fetchone()
        if row is None:
            await self._db.execute("INSERT INTO meta VALUES ('endpoint', ?)", (endpoint,))
            await self._db.commit()
        elif row[0] != endpoint:
            raise LedgerError(
                f"ledger {self.path} records objects of the S3 service at {row[0]}, but this "
                f"sweep reads from {endpoint}; pass another --state for this service"
            )

    async def describe_job(self, job: str, description: Mapping[str, Any]) -> None:
        await self._db.execute(
            "INSERT INTO jobs VALUES (?, ?, 0, ?) ON CONFLICT (job) DO UPDATE SET "
            "description = excluded.description",
            (job, json.dumps(description, sort_keys=True), time.time()),
        )
        await self._db.commit()

    # --- review: the review page (asyncfilter/review/_store.py) works through this connection
    @property
    def connection(self) -> aiosqlite.Connection:
        """The open SQLite connection, for the review store's own tables and queries."""
        return self._db

    # --- near-copies (asyncfilter dupes; see _near_duplicates) ------------------------------

    async def copies_for_hashing(
        self, outcomes: Collection[str], names: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        """The copied objects with one of ``outcomes`` (and of a class in ``names``): where the
        copy is, the source's ETag and size (a copy has its source's bytes), the decision."""
        marks = ",".join("?" * len(outcomes))
        query = (
            "SELECT bucket, key, etag, size, outcome, COALESCE(folder, match_label) AS class, "
            "match_confidence, dest_bucket, dest_key FROM objects WHERE copied = 1 "
            f"AND dest_key IS NOT NULL AND outcome IN ({marks})"
        )
        params: list[Any] = list(outcomes)
        if names is not None:
            query += f" AND COALESCE(folder, match_label) IN ({','.join('?' * len(names))})"
            params += list(names)
        async with self._db.execute(query + " ORDER BY dest_bucket, dest_key", params) as cursor:
            names_ = [d[0] for d in cursor.description]
            return [dict(zip(names_, row, strict=True)) async for row in cursor]

    async def image_hashes(self) -> dict[tuple[str, str], tuple[int, str, int, int, int | None]]:
        """Every stored hash: ``(bucket, key)`` of the copy to ``(rowid, etag, phash,
        phash_mirror, group_id)``, the hashes as SQLite stores them (signed)."""
        query = "SELECT rowid, bucket, key, etag, phash, phash_mirror, group_id FROM image_hashes"
        async with self._db.execute(query) as cursor:
            return {(b, k): (rowid, e, p, m, g) async for rowid, b, k, e, p, m, g in cursor}

    async def save_image_hashes(self, hashes: Sequence[tuple[str, str, str, int, int]]) -> None:
        """Store ``(bucket, key, etag, phash, phash_mirror)`` (signed); a new hash leaves the
        image without a group until the next grouping."""
        now = time.time()
        await self._db.executemany(
            "INSERT INTO image_hashes VALUES (?, ?, ?, ?, ?, ?, NULL) "
            "ON CONFLICT (bucket, key) DO UPDATE SET etag = excluded.etag, "
            "phash = excluded.phash, phash_mirror = excluded.phash_mirror, "
            "hashed_at = excluded.hashed_at, group_id = NULL",
            [(*h, now) for h in hashes],
        )
        await self._db.commit()

    async def save_image_groups(self, groups: Sequence[tuple[str, str, int | None]]) -> None:
        """Store each copy's group: ``(bucket, key, group_id)``."""
        await self._db.executemany(
            "UPDATE image_hashes SET group_id = ? WHERE bucket = ? AND key = ?",
            [(g, b, k) for b, k, g in groups],
        )
        await self._db.commit()

    async def image_groups(self) -> dict[tuple[str, str], int]:
        """``(bucket, key)`` of each grouped copy to its near-copy group id."""
        query = "SELECT bucket, key, group_id FROM image_hashes WHERE group_id IS NOT NULL"
        async with self._db.execute(query) as cursor:
            return {(b, k): g async for b, k, g in cursor}

    # --- closing -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            try:
                await self.flush()
            finally:
                await self._db.close()
                os.close(self._lock_fd)


def _place(path: str | Path) -> Path:
    """``~`` expanded and the folder made: a ledger path as a user would type it works."""
    placed = Path(path).expanduser()
    placed.parent.mkdir(parents=True, exist_ok=True)
    return placed


def _lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise LedgerError(
            f"ledger {path} is in use by another asyncfilter sweep (pid {holder}); "
            "wait for it to finish or pass another --state"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


async def _prepare(db: aiosqlite.Connection, path: Path) -> None:
    try:
        async with db.execute("PRAGMA application_id") as cur:
            app_id = (await cur.fetchone() or (0,))[0]
        async with db.execute("SELECT count(*) FROM sqlite_master") as cur:
            tables = (await cur.fetchone() or (0,))[0]
        if app_id == 0 and tables == 0:
            await db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            await db.executescript(_SCHEMA)
            await db.commit()
        elif app_id != APPLICATION_ID:
            raise LedgerError(
                f"{path} is not an asyncfilter ledger; refusing to touch it (pass another --state)"
            )
        else:
            async with db.execute("PRAGMA user_version") as cur:
                version = (await cur.fetchone() or (0,))[0]
            if version > SCHEMA_VERSION or version not in (*_MIGRATIONS, SCHEMA_VERSION):
                raise LedgerError(
                    f"ledger {path} has schema version {version}; this asyncfilter reads "
                    f"version {SCHEMA_VERSION}"
                )
            async with db.execute("PRAGMA quick_check") as cur:
                check = (await cur.fetchone() or ("",))[0]
            if check != "ok":
                raise LedgerError(f"ledger {path} is corrupt ({check}); it was left untouched")
            while version in _MIGRATIONS:  # an older ledger, brought up to date in place
                for statement in _MIGRATIONS[version]:
                    await db.execute(statement)
                version += 1
                await db.execute(f"PRAGMA user_version = {version}")
                await db.commit()
        # copies of the same bytes are found by size and ETag (see _duplicates)
        await db.execute(
            "CREATE INDEX IF NOT EXISTS objects_by_bytes ON objects (bucket, size, etag)"
        )
        await db.commit()
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        raise LedgerError(
            f"ledger {path} is corrupt or not a database ({exc}); it was left untouched: "
            "move it away to start afresh"
        ) from exc
