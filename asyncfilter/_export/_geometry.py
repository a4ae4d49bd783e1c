"""Boxes from Rekognition's fractions to what each format wants.

Rekognition's boxes may reach a little past the image's edges (a negative ``Left``, a
``Left + Width`` above 1). Every format gets them clipped to the image; a box with nothing left
inside it is dropped rather than exported with zero area.
"""

from __future__ import annotations

from .._models import BoundingBox
from ._records import ImageSize


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def clip(box: BoundingBox) -> BoundingBox | None:
    """The part of ``box`` inside the image, as fractions; ``None`` when nothing is."""
    left, top = _clamp(box.left, 0.0, 1.0), _clamp(box.top, 0.0, 1.0)
    right = _clamp(box.left + box.width, 0.0, 1.0)
    bottom = _clamp(box.top + box.height, 0.0, 1.0)
    if right <= left or bottom <= top:
        return None
    return BoundingBox(left, top, right - left, bottom - top)


def to_pixels(box: BoundingBox, size: ImageSize) -> tuple[int, int, int, int] | None:
    """``(left, top, width, height)`` in whole pixels inside the image; ``None`` when the box
    covers no whole pixel."""
    left = round(_clamp(box.left, 0.0, 1.0) * size.width)
    top = round(_clamp(box.top, 0.0, 1.0) * size.height)
    right = round(_clamp(box.left + box.width, 0.0, 1.0) * size.width)
    bottom = round(_clamp(box.top + box.height, 0.0, 1.0) * size.height)
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top
