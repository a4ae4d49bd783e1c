"""What the emulated Rekognition refuses, shared by DetectLabels and DetectCustomLabels.

Both operations answer an error the same way (a json-1.1 ``__type`` with an HTTP status) and
refuse the same images, so the error and the image check live here, below both halves of the
emulator, rather than in one half that the other would have to import.
"""

from __future__ import annotations

import io

MIN_SIDE, MAX_SIDE = 80, 10_000
"""DetectLabels' limits on an image's sides, in pixels."""


class ServiceError(Exception):
    """An error answer: the ``__type`` and HTTP status the service would send."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def check_image(content: bytes) -> None:
    """Reject what DetectLabels rejects: not JPEG/PNG, unreadable, or sides out of range."""
    if not (content.startswith(b"\xff\xd8\xff") or content.startswith(b"\x89PNG\r\n\x1a\n")):
        raise ServiceError("InvalidImageFormatException", "Request has unsupported image format")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise ServiceError(
            "InvalidImageFormatException", "Request has unsupported image format"
        ) from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ServiceError(
            "InvalidParameterException",
            f"Image dimensions {width}x{height} are outside {MIN_SIDE}-{MAX_SIDE} pixels.",
        )
