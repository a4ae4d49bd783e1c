"""The data that flows through a sweep: listed objects in, detections through, nothing mutable.

Everything here is immutable: these objects are created once per image on the hot path, shared
between tasks, and written to results files, so they must be cheap and safe to share. They are
frozen, slotted dataclasses, except :class:`S3Object`: one is made for every key listed (millions
a minute when listing in parallel), and a named tuple is built at C speed, where a frozen
dataclass's ``__init__`` cost ~2 µs a key, a third of the listing's CPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: What the ledger calls DetectLabels' answers; also assumed for a detector that names no
#: ``identity`` of its own (the in-process fakes stand in for DetectLabels).
DETECT_LABELS = "detect-labels"


class S3Object(NamedTuple):
    """One object as ListObjectsV2 describes it."""

    bucket: str
    key: str
    size: int
    etag: str = ""
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A box in fractions of the image's width and height, as Rekognition returns it."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Instance:
    """One located occurrence of a label."""

    box: BoundingBox
    confidence: float

    @classmethod
    def from_response(cls, data: Mapping[str, Any]) -> Instance:
        """Build one from an element of a label's ``Instances`` (missing values read as 0)."""
        box = data.get("BoundingBox") or {}
        return cls(
            BoundingBox(
                float(box.get("Left", 0.0)),
                float(box.get("Top", 0.0)),
                float(box.get("Width", 0.0)),
                float(box.get("Height", 0.0)),
            ),
            float(data.get("Confidence", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Label:
    """One DetectLabels label, with the hierarchy that matching consults."""

    name: str
    confidence: float
    parents: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    instances: tuple[Instance, ...] = ()

    @classmethod
    def from_response(cls, data: Mapping[str, Any]) -> Label:
        """Build a label from one element of DetectLabels' ``Labels`` list."""
        return cls(
            name=str(data["Name"]),
            confidence=float(data.get("Confidence", 0.0)),
            parents=tuple(str(p["Name"]) for p in data.get("Parents") or ()),
            aliases=tuple(str(a["Name"]) for a in data.get("Aliases") or ()),
            categories=tuple(str(c["Name"]) for c in data.get("Categories") or ()),
            instances=tuple(Instance.from_response(i) for i in data.get("Instances") or ()),
        )


@dataclass(frozen=True, slots=True)
class Detection:
    """What the detector said about one image."""

    labels: Sequence[Label]
    model_version: str | None = None
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_response(cls, raw: Mapping[str, Any], model_version: str | None = None) -> Detection:
        """Parse a DetectLabels response (fresh, or stored in the ledger): the one place a
        response becomes labels."""
        return cls(
            labels=[Label.from_response(label) for label in raw.get("Labels", ())],
            model_version=model_version or raw.get("LabelModelVersion"),
            raw=raw,
        )
