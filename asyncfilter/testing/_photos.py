"""A set of real photographs and their near-copies, to test near-copy grouping on.

The photographs are those scikit-image bundles in its wheel (``skimage.data``; no download):
a test or benchmark that needs them installs scikit-image (the ``dev`` extra does). Each
photograph in :data:`ORIGINALS` comes with the edits a scraped data set is full of: resized,
re-encoded at other JPEG qualities or as PNG, lightly cropped, mirrored. The set also holds
photographs that must stay apart: other photographs, and different regions of one large photo
(different pictures of one subject).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Photographs with a subject, each given every edit of :data:`EDITS`.
ORIGINALS = ("astronaut", "camera", "chelsea", "coffee", "rocket.jpg", "motorcycle_left")
#: Other photographs, each alone.
OTHERS = ("hubble_deep_field.jpg", "coins", "clock_motion", "moon", "page", "cell", "grass")
#: Large photographs of which two regions are taken (top left and bottom right, 70% a side,
#: overlapping): two pictures of one subject, which are not near-copies.
REGIONS = ("retina.jpg", "ihc")

Edit = Callable[[Any], tuple[Any, str, int]]


def _resize(scale: float) -> Edit:
    def edit(image: Any) -> tuple[Any, str, int]:
        from PIL import Image

        w, h = image.size
        return image.resize((int(w * scale), int(h * scale)), Image.Resampling.LANCZOS), "JPEG", 90

    return edit


def _crop(left: float, top: float, right: float, bottom: float) -> Edit:
    def edit(image: Any) -> tuple[Any, str, int]:
        w, h = image.size
        box = (int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom)))
        return image.crop(box), "JPEG", 90

    return edit


def _mirror(scale: float = 1.0, quality: int = 90) -> Edit:
    def edit(image: Any) -> tuple[Any, str, int]:
        from PIL import Image, ImageOps

        w, h = image.size
        flipped = ImageOps.mirror(image)
        if scale != 1.0:
            flipped = flipped.resize((int(w * scale), int(h * scale)), Image.Resampling.LANCZOS)
        return flipped, "JPEG", quality

    return edit


#: The near-copies made of each original, by name.
EDITS: dict[str, Edit] = {
    "half": _resize(0.5),
    "third": _resize(0.33),
    "q35": lambda image: (image, "JPEG", 35),
    "png": lambda image: (image, "PNG", 0),
    "crop-sides": _crop(0.03, 0.0, 0.03, 0.0),  # 6% of the area
    "crop-top": _crop(0.0, 0.05, 0.0, 0.0),  # 5%
    "crop-corner": _crop(0.03, 0.03, 0.0, 0.0),  # 6%
    "mirror": _mirror(),
    "mirror-small-q60": _mirror(0.66, 60),
}


@dataclass(frozen=True, slots=True)
class Photo:
    """One image of the set: its key, its encoded bytes, and which picture it shows."""

    key: str
    data: bytes
    picture: str
    """Images of one picture (an original and its edits) are near-copies; no others are."""


def photo(name: str) -> Any:
    """A photograph bundled with scikit-image (``NAME`` for ``NAME.png``, else the file name),
    as an RGB Pillow image. The file is read straight from the wheel: nothing is downloaded."""
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise RuntimeError("the photo set needs scikit-image: pip install scikit-image") from exc
    from PIL import Image

    path = Path(skimage.data.__file__).parent / (name if "." in name else f"{name}.png")
    with Image.open(path) as image:
        return image.convert("RGB")


def encode(image: Any, fmt: str = "JPEG", quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def near_copy_set() -> list[Photo]:
    """The whole set: originals with their edits, other photographs, and regions."""
    photos: list[Photo] = []
    for name in ORIGINALS:
        image = photo(name)
        name = name.split(".")[0]
        photos.append(Photo(f"{name}/original.jpg", encode(image), name))
        for edit_name, edit in EDITS.items():
            edited, fmt, quality = edit(image)
            suffix = "png" if fmt == "PNG" else "jpg"
            photos.append(Photo(f"{name}/{edit_name}.{suffix}", encode(edited, fmt, quality), name))
    for name in OTHERS:
        stem = name.split(".")[0]
        photos.append(Photo(f"others/{stem}.jpg", encode(photo(name)), stem))
    for name in REGIONS:
        image, name = photo(name), name.split(".")[0]
        w, h = image.size
        for where, box in (("top-left", (0, 0, 0.7, 0.7)), ("bottom-right", (0.3, 0.3, 1, 1))):
            region = image.crop(
                (int(w * box[0]), int(h * box[1]), int(w * box[2]), int(h * box[3]))
            )
            photos.append(Photo(f"regions/{name}-{where}.jpg", encode(region), f"{name}-{where}"))
    return photos
