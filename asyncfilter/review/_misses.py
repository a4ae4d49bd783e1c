"""The misses worth a second look: a wanted label was in the detector's answer, but below the
band (``review --outcome miss``, to hunt false negatives).

A miss has no copy anywhere, so what makes it promising is read from its stored DetectLabels
answer: for every sweep the ledger records (``jobs.description``: its source, labels, name,
threshold and band), the most confident label of the answer that the sweep's own matcher
would take (name, parent or alias, see :mod:`asyncfilter._matching`) among those below the
sweep's lowest matching confidence. An answer only holds labels down to the MinConfidence it
was asked with, which a sweep sets to its band's edge: misses show up here when the sweep was
run with ``--miss-floor``.

Ranked after those come the misses whose answer holds, instead, the wanted label's nearest
broader label (``Bird`` for ``Robin``) at any confidence: the detector saw a bird but did not
name it. Which label is broader is learnt from the ledger's own answers (a hit's answer lists
``Robin`` with its parents ``Bird`` and ``Animal``; the nearest is the one with the most parents
of its own), so this works on a ledger swept without a floor too.

The candidates are worked out once when the review opens, into a table of the connection's
own (``temp``), so pages are read after a cursor like the band's.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import aiosqlite

from .._config import S3Location
from .._matching import Matcher
from .._models import Detection, Label
from .._results import instance_to_dict

TABLE = "temp.review_misses"
#: Which rows can be in the miss band: never decided on the page, or decided in a miss review.
_MISSES = (
    "SELECT o.bucket, o.key, o.response, o.min_confidence FROM objects o LEFT JOIN review_state s"
    " ON s.bucket = o.bucket AND s.key = o.key WHERE o.response IS NOT NULL AND ("
    "(s.bucket IS NULL AND o.outcome = 'miss' AND o.verdict IS NULL) OR s.origin_outcome = 'miss')"
)
#: Answers that name the wanted labels, to learn their parents from (the taxonomy is the
#: model's, the same in every answer: a sample is enough).
_TAXONOMY = (
    "SELECT response FROM objects WHERE response IS NOT NULL AND outcome IN ('hit', 'review') "
    "LIMIT 2000"
)
BROADER = "broader"
"""``via`` of a candidate found through a broader label only."""


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one recorded sweep wanted: where, which labels, under which name, from which edge."""

    source: S3Location
    name: str
    labels: tuple[str, ...]
    matcher: Matcher
    edge: float
    needles: tuple[bytes, ...]
    """The wanted (and broader) labels as they appear in a stored answer (lower-case ASCII);
    empty bytes for one that is not ASCII, which JSON stores escaped (then every answer is
    parsed)."""
    broader: Mapping[str, str] = field(default_factory=dict)
    """Casefolded nearest broader label -> the wanted label it is broader than."""

    @classmethod
    def parse(cls, description: str) -> Sweep | None:
        try:
            job = json.loads(description) if description else {}
            labels = [str(label) for label in job["labels"]]
            band = job.get("review_threshold")
            edge = float(band if band is not None else job["threshold"])
            source = S3Location.parse(str(job["source"]))
            name = str(job["name"])
        except (ValueError, KeyError, TypeError):
            return None
        return cls(source, name, tuple(labels), Matcher(labels, 0.0), edge, _needles(labels))

    def with_broader(self, parents: Mapping[str, set[str]]) -> Sweep:
        """This sweep, knowing the nearest broader label of each wanted one (from
        ``parents``: casefolded label -> its casefolded parents, as answers list them)."""
        broader: dict[str, str] = {}
        for wanted in self.labels:
            above = parents.get(wanted.casefold(), set())
            if above:
                depth = max(len(parents.get(p, ())) for p in above)
                for parent in above:
                    if len(parents.get(parent, ())) == depth:
                        broader.setdefault(parent, wanted)
        return replace(self, broader=broader, needles=self.needles + _needles(broader))

    def covers(self, bucket: str, key: str) -> bool:
        return bucket == self.source.bucket and key.startswith(self.source.prefix)


def _needles(labels: Iterable[str]) -> tuple[bytes, ...]:
    return tuple(
        json.dumps(label)[1:-1].lower().encode() if label.isascii() else b"" for label in labels
    )


@dataclass(frozen=True, slots=True)
class MissSurvey:
    """What the ledger can show: the sweeps read, and the lowest MinConfidence its misses'
    answers were asked with (``None``: no stored answer of a miss)."""

    sweeps: int
    lowest_asked: float | None
    lowest_edge: float | None
    below: int = 0
    """Candidates with a wanted label below the band."""
    broader: int = 0
    """Candidates with only a broader label (ranked after)."""
    broader_names: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One line for the page and the command: what is shown, or why nothing can be."""
        if self.sweeps == 0:
            return "the ledger records no sweep: nothing says which labels are wanted"
        if self.lowest_asked is None or self.lowest_edge is None:
            return "the ledger holds no stored answer of a miss"
        broader = (
            f"; then {self.broader:,} with only {' or '.join(self.broader_names)}, most "
            "confident first"
            if self.broader
            else ""
        )
        if self.lowest_asked >= self.lowest_edge:
            return (
                f"the misses' answers were asked at MinConfidence {self.lowest_asked:g}, the "
                "band's edge, so they hold no wanted label below it (sweep again with "
                f"--miss-floor, e.g. 30, to keep the faint ones){broader}"
            )
        return (
            f"{self.below:,} misses whose answer holds a wanted label below the band (answers "
            f"asked down to {self.lowest_asked:g}%), most confident first{broader}"
        )


async def collect_misses(
    db: aiosqlite.Connection, descriptions: list[str], name: str | None
) -> MissSurvey:
    """Fill :data:`TABLE` with the promising misses (of class ``name``, or all)."""
    await db.execute(f"DROP TABLE IF EXISTS {TABLE}")
    await db.execute(
        f"CREATE TABLE {TABLE} (bucket TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, "
        "label TEXT NOT NULL, via TEXT NOT NULL, detected TEXT NOT NULL, confidence REAL NOT NULL,"
        " rank REAL NOT NULL, instances TEXT, PRIMARY KEY (bucket, key))"
    )
    await db.execute(f"CREATE INDEX {TABLE}_by_rank ON review_misses (rank, bucket, key)")
    sweeps = [s for s in map(Sweep.parse, descriptions) if s is not None]
    if name is not None:
        sweeps = [s for s in sweeps if s.name == name]
    parents = await _parents(db)
    sweeps = [s.with_broader(parents) for s in sweeps]
    rows: list[tuple[object, ...]] = []
    lowest: float | None = None
    async with db.execute(_MISSES) as cursor:
        async for bucket, key, blob, asked in cursor:
            if asked is not None:
                lowest = asked if lowest is None else min(lowest, asked)
            row = _best(sweeps, bucket, key, blob)
            if row is not None:
                rows.append(row)
    await db.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    await db.commit()
    edges = [s.edge for s in sweeps]
    broader = sum(1 for row in rows if row[4] == BROADER)
    names = sorted({str(row[5]) for row in rows if row[4] == BROADER})
    return MissSurvey(
        len(sweeps), lowest, min(edges) if edges else None, len(rows) - broader, broader,
        tuple(names),
    )  # fmt: skip


async def _parents(db: aiosqlite.Connection) -> dict[str, set[str]]:
    """Casefolded label -> its casefolded parents, as the answers of hits and review images
    list them."""
    parents: dict[str, set[str]] = {}
    async with db.execute(_TAXONOMY) as cursor:
        async for (blob,) in cursor:
            try:
                answer = json.loads(zlib.decompress(blob))
                labels = Detection.from_response(answer).labels
            except (ValueError, KeyError, TypeError, zlib.error):
                continue
            for label in labels:
                known = parents.setdefault(label.name.casefold(), set())
                known.update(p.casefold() for p in label.parents)
    return parents


def _best(sweeps: list[Sweep], bucket: str, key: str, blob: bytes) -> tuple[object, ...] | None:
    """The row of ``bucket/key`` for :data:`TABLE`: its most confident wanted label below the
    edge of a sweep that covers it, or ``None``."""
    mine = [s for s in sweeps if s.covers(bucket, key)]
    if not mine:
        return None
    try:
        text = zlib.decompress(blob)
        # most misses name no wanted label at all: a look for the names in the bytes (the
        # answers are stored as ASCII JSON) spares parsing them, ten times faster
        needles = [n for s in mine for n in s.needles]
        if all(needles) and not any(needle in text.lower() for needle in needles):
            return None
        labels = Detection.from_response(json.loads(text)).labels
    except (ValueError, KeyError, TypeError, zlib.error):
        return None  # an answer this version cannot read is not a candidate
    best = None
    for sweep in mine:
        match = sweep.matcher.match(lb for lb in labels if lb.confidence < sweep.edge)
        if match is not None and (best is None or match.confidence > best[1].confidence):
            best = (sweep, match)
    if best is not None:
        sweep, match = best
        instances = match.to_dict().get("instances")
        return (
            bucket, key, sweep.name, match.label, match.via, match.detected, match.confidence,
            -match.confidence, json.dumps(instances) if instances else None,
        )  # fmt: skip
    return _broader(mine, bucket, key, labels)


def _broader(
    sweeps: list[Sweep], bucket: str, key: str, labels: Iterable[Label]
) -> tuple[object, ...] | None:
    """The row of a miss whose answer holds only a broader label, ranked after every miss
    with a wanted one (whose ranks are -100 to 0)."""
    found = None
    for label in labels:
        for sweep in sweeps:
            wanted = sweep.broader.get(label.name.casefold())
            if wanted is not None and (found is None or label.confidence > found[1].confidence):
                found = (sweep, label, wanted)
    if found is None:
        return None
    sweep, label, wanted = found
    instances = [instance_to_dict(i) for i in label.instances]
    return (
        bucket, key, sweep.name, wanted, BROADER, label.name, label.confidence,
        101 - label.confidence, json.dumps(instances) if instances else None,
    )  # fmt: skip
