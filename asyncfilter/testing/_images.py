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
) -> bytes:
    """Encoded bytes of a one-colour image, in any format Pillow writes (JPEG, PNG, GIF...)."""
    from PIL import Image

    buffer = io.BytesIO()
    mode = "RGB" if fmt.upper() in ("JPEG", "PNG", "WEBP", "TIFF") else "P"
    Image.new(mode, (width, height), color if mode == "RGB" else 1).save(buffer, format=fmt)
    return buffer.getvalue()
