"""Perceptual hashes of images: what stays the same when a photo is resized, re-encoded, lightly
cropped or mirrored.

Each image gets two 64-bit pHashes (imagehash's DCT hash): its own and its mirror image's. Two
images are near-copies when one's hash is close (in Hamming distance) to the other's or to its
mirror's, so a horizontally flipped copy is found like any other.

Decoding is the cost, so images are decoded small: a JPEG with Pillow's ``draft`` (the decoder
scales by 1/2 to 1/8 while it decodes: a 12-megapixel photo costs what a 200k-pixel one does),
anything else reduced to at most 256 pixels a side before hashing. pHash looks at a 32x32
grey thumbnail, so nothing it uses is lost. EXIF orientation is applied first: a copy stored
sideways with an orientation tag is the same picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ._errors import ConfigError

#: The JPEG decoder is asked for at least this size (it picks the scale that stays above it).
DRAFT_SIZE = (128, 128)
#: Other formats are reduced to at most this many pixels a side before hashing.
REDUCED_SIDE = 256
EXTRA = "dupes"
_MISSING = (
    f"finding near-copies needs imagehash: pip install 'asyncfilter[{EXTRA}]' (the {EXTRA!r} extra)"
)


class UnreadableImage(ValueError):
    """The bytes are not an image Pillow can decode."""


@dataclass(frozen=True, slots=True)
class ImageHash:
    """An image's pHash and its mirror image's, each a 64-bit unsigned integer."""

    phash: int
    mirror: int


def require_imagehash() -> None:
    """Fail with one line naming the extra when imagehash is not installed."""
    try:
        import imagehash  # noqa: F401
    except ImportError as exc:
        raise ConfigError(_MISSING) from exc


def hash_image(data: bytes) -> ImageHash:
    """The pHashes of the encoded image ``data`` (CPU-bound: run it in a worker thread).

    Raises :class:`UnreadableImage` when ``data`` cannot be decoded.
    """
    try:
        import imagehash
    except ImportError as exc:
        raise ConfigError(_MISSING) from exc
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", DRAFT_SIZE)  # JPEG only; a no-op for other formats
            upright = ImageOps.exif_transpose(image)
            grey = upright.convert("L")
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not an image Pillow can decode ({exc})") from exc
    if max(grey.size) > REDUCED_SIDE:
        grey.thumbnail((REDUCED_SIDE, REDUCED_SIDE), Image.Resampling.BILINEAR)
    own = imagehash.phash(grey)
    mirrored = imagehash.phash(ImageOps.mirror(grey))
    return ImageHash(_as_int(own), _as_int(mirrored))


def _as_int(value: object) -> int:
    return int(str(value), 16)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def distance(a: ImageHash, b: ImageHash) -> int:
    """How far apart two images are: the nearest of their hashes, either one mirrored (the same
    both ways round: mirroring is not exact on a hash, so both mirrors are tried)."""
    return min(hamming(a.phash, b.phash), hamming(a.phash, b.mirror), hamming(a.mirror, b.phash))


def to_signed(value: int) -> int:
    """A 64-bit unsigned hash as SQLite's signed INTEGER stores it."""
    return value - (1 << 64) if value >= 1 << 63 else value


def from_signed(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
