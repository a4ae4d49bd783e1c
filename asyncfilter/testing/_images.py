"""Small, valid images for tests and the demo, made with Pillow."""

from __future__ import annotations

import io
from functools import lru_cache


@lru_cache(maxsize=64)
def make_image(
    width: int = 96,
    height: int = 96,
    *,
    fmt: str = "JPEG",
    color: tuple[int, int, int] = (200, 80, 40),
    orientation: int | None = None,
    tag: bytes | None = None,
) -> bytes:
    """Encoded bytes of a one-colour image, in any format Pillow writes (JPEG, PNG, GIF...).

    ``orientation`` sets the EXIF Orientation tag (JPEG): 6 means "rotate a quarter turn
    clockwise to view", so a stored 200x100 image is seen, and boxed by Rekognition, as 100x200.
    ``tag`` is written as a JPEG comment: one-colour images that look alike then still have
    bytes of their own (asyncfilter answers exact copies once).
    """
    from PIL import Image

    buffer = io.BytesIO()
    mode = "RGB" if fmt.upper() in ("JPEG", "PNG", "WEBP", "TIFF") else "P"
    image = Image.new(mode, (width, height), color if mode == "RGB" else 1)
    options: dict[str, object] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif
    if tag is not None:
        options["comment"] = tag
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
