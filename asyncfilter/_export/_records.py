"""What an export is made of: the copied images the ledger knows, one :class:`CopiedImage` each.

Exports read only the ledger (and, for pixel sizes, image headers in S3): never Rekognition.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .._models import Instance
from .._results import ImageResult, Outcome


@dataclass(frozen=True, slots=True)
class ImageSize:
    """Pixel size in the frame Rekognition's boxes refer to (after EXIF orientation)."""

    width: int
    height: int
    depth: int = 3


@dataclass(frozen=True, slots=True)
class CopiedImage:
    """One copied image and the decision behind it."""

    source_bucket: str
    source_key: str
    bucket: str
    """Where the copy is: the destination (hits) or the review location."""
    key: str
    outcome: Outcome
    class_name: str
    """The folder the copy is in: the class a training tool learns."""
    detected: str
    confidence: float
    """Rekognition's confidence, 0-100."""
    instances: tuple[Instance, ...]
    model_version: str | None
    decided_at: float
    size: ImageSize | None = None
    verdict: str | None = None
    """A person's verdict on the review page (``accepted``/``rejected``), if any."""
    verdict_at: float | None = None

    @property
    def human(self) -> bool:
        """A person has looked at it: Ground Truth's ``human-annotated``."""
        return self.verdict is not None

    group: int | None = None
    """Its near-copy group (``asyncfilter dupes``), when the ledger has one for it."""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def with_size(self, size: ImageSize | None) -> CopiedImage:
        return replace(self, size=size)

    def with_group(self, group: int | None) -> CopiedImage:
        return replace(self, group=group)

    @classmethod
    def from_result(cls, result: ImageResult, bucket: str, class_name: str) -> CopiedImage:
        """The record of an image this very run copied to ``bucket``."""
        match = result.match
        assert match is not None
        assert result.dest_key is not None
        response = result.response or {}
        return cls(
            source_bucket=result.object.bucket,
            source_key=result.object.key,
            bucket=bucket,
            key=result.dest_key,
            outcome=result.outcome,
            class_name=class_name,
            detected=match.detected,
            confidence=match.confidence,
            instances=match.instances,
            model_version=response.get("LabelModelVersion"),
            decided_at=time.time(),
        )


def records_from_rows(
    rows: Iterable[Mapping[str, Any]],
    outcomes: Collection[Outcome],
    names: Collection[str] | None = None,
    *,
    verdicts: Collection[str | None] = ("accepted", None),
) -> list[CopiedImage]:
    """The copied images among the ledger's ``rows`` whose outcome is in ``outcomes`` (and
    whose class is in ``names``, when given), in the ledger's (bucket, key) order.

    Images a person rejected on the review page are left out unless ``verdicts`` asks for
    them; ``outcomes`` empty means any outcome (for selecting by verdict alone)."""
    records = []
    for row in rows:
        if not row.get("copied") or not row["dest_key"]:
            continue
        if (outcomes and row["outcome"] not in outcomes) or row.get("verdict") not in verdicts:
            continue
        class_name = row.get("folder") or row["match_label"]
        if class_name is None or (names is not None and class_name not in names):
            continue
        width, height = row.get("image_width"), row.get("image_height")
        records.append(
            CopiedImage(
                source_bucket=row["bucket"],
                source_key=row["key"],
                bucket=row["dest_bucket"],
                key=row["dest_key"],
                outcome=Outcome(row["outcome"]),
                class_name=class_name,
                detected=row["match_detected"] or class_name,
                confidence=float(row["match_confidence"] or 0.0),
                instances=tuple(
                    Instance.from_response(i) for i in row.get("match_instances") or ()
                ),
                model_version=row.get("model_version"),
                decided_at=float(row["decided_at"]),
                size=ImageSize(width, height, row.get("image_depth") or 3)
                if width and height
                else None,
                verdict=row.get("verdict"),
                verdict_at=row.get("verdict_at"),
            )
        )
    return records


def class_ids(records: Iterable[CopiedImage]) -> dict[str, int]:
    """Classes numbered from 0 in name order, so the same data always gets the same ids."""
    return {name: i for i, name in enumerate(sorted({r.class_name for r in records}))}
