"""What every export format shares: the context it is built in and what it builds.

A format is a pure function from records to files, so each can be tested without S3 and the
writing (local or S3, all or nothing) happens in one place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .._models import Instance
from ._geometry import clip, to_pixels
from ._records import CopiedImage, ImageSize


@dataclass(frozen=True, slots=True)
class ManifestLimits:
    """Rekognition Custom Labels' limits on an imported Ground Truth manifest."""

    max_boxes_per_image: int = 50
    max_lines: int = 250_000
    max_bytes: int = 1024**3


@dataclass(frozen=True, slots=True)
class ExportContext:
    classes: dict[str, int]
    """Class name to id (0-based); formats that count from 1 add one."""
    job_name: str = "asyncfilter"
    limits: ManifestLimits = field(default_factory=ManifestLimits)
    local_root: str | None = None
    """The absolute folder the export is written to, when it is a local one (not S3)."""


@dataclass(slots=True)
class Built:
    """The files of one format and what went into them."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    """``(relative path, content)``."""
    images: int = 0
    boxes: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    """Images left out, by reason."""


Builder = Callable[[Sequence[CopiedImage], ExportContext], Built]


def iso_time(timestamp: float) -> str:
    """Ground Truth's ``creation-date`` shape: UTC, microseconds, no zone suffix."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def clipped_instances(record: CopiedImage) -> list[tuple[Instance, float, float, float, float]]:
    """The record's instances whose box has something inside the image, with the clipped box
    as ``(left, top, width, height)`` fractions."""
    out = []
    for instance in record.instances:
        box = clip(instance.box)
        if box is not None:
            out.append((instance, box.left, box.top, box.width, box.height))
    return out


def pixel_boxes(
    record: CopiedImage, built: Built
) -> tuple[ImageSize, list[tuple[tuple[int, int, int, int], float]]] | None:
    """The image size and its boxes in whole pixels with their confidences; or ``None``, the
    reason counted in ``built``, when the image has no box to export or no known size.

    An image that shows the class with no box would teach a detector "nothing here", so it is
    left out of the box formats rather than exported empty.
    """
    if not record.instances:
        built.excluded["no_boxes"] += 1
        return None
    if record.size is None:
        built.excluded["size_unknown"] += 1
        return None
    boxes = [
        (pixels, instance.confidence)
        for instance in record.instances
        if (pixels := to_pixels(instance.box, record.size)) is not None
    ]
    if not boxes:
        built.excluded["no_boxes"] += 1
        return None
    return record.size, boxes
