"""Near-copies: how well the grouping separates near-copies from other photographs, and how
fast images are hashed and grouped on this machine.

    python -m benchmarks.near_duplicates [--quick]

Quality: pairwise precision and recall of the groups at several distances, on the photo set the
tests use (asyncfilter.testing._photos: real photographs bundled with scikit-image and their
edits), and on harder sets: heavier crops, and 100 different faces (LFW crops, aligned: one
subject, different photographs). Speed: images hashed per second (decoding included) for
photos of several sizes, in one thread and across every core, against a full-size decode;
and the banded grouping of many hashes. Numbers only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from asyncfilter._near_groups import group_hashes
from asyncfilter._phash import ImageHash, hash_image
from asyncfilter.testing._photos import ORIGINALS, Photo, encode, near_copy_set, photo

DISTANCES = (4, 6, 8, 10, 12, 14)


def pair_scores(
    photos: list[Photo], hashes: dict[str, ImageHash], distance: int
) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of the groups against the pictures: a pair is predicted
    when both are in one group, true when both show one picture."""
    groups, _ = group_hashes(hashes, distance)
    group_of = {k: i for i, g in enumerate(groups) for k in g}
    tp = fp = fn = 0
    for a, b in itertools.combinations(photos, 2):
        predicted = group_of[a.key] == group_of[b.key]
        true = a.picture == b.picture
        tp += predicted and true
        fp += predicted and not true
        fn += true and not predicted
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, fp, fn


def heavier_crops() -> list[Photo]:
    """Each original and crops beyond "light": 10% off one side, 5% off every side (19% of
    the area), 10% off two sides."""
    crops = {
        "left10": (0.10, 0, 0, 0),
        "sides5": (0.05, 0.05, 0.05, 0.05),
        "corner10": (0.10, 0.10, 0, 0),
    }
    photos = []
    for name in ORIGINALS:
        image, stem = photo(name), name.split(".")[0]
        w, h = image.size
        photos.append(Photo(f"{stem}/original.jpg", encode(image), stem))
        for crop, (left, top, right, bottom) in crops.items():
            box = (int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom)))
            photos.append(Photo(f"{stem}/{crop}.jpg", encode(image.crop(box)), stem))
    return photos


def faces(count: int = 100) -> list[Photo]:
    """Different photographs of one subject: LFW face crops (aligned), scaled to 100 px."""
    import numpy as np
    import skimage.data
    from PIL import Image

    pixels = np.load(Path(skimage.data.__file__).parent / "lfw_subset.npy")[:count]
    return [
        Photo(
            f"faces/{i}.jpg",
            encode(Image.fromarray((p * 255).astype("uint8")).resize((100, 100))),
            f"face-{i}",
        )
        for i, p in enumerate(pixels)
    ]


def quality(name: str, photos: list[Photo]) -> None:
    hashes = {p.key: hash_image(p.data) for p in photos}
    pairs = len(photos) * (len(photos) - 1) // 2
    print(f"\n{name}: {len(photos)} images, {pairs:,} pairs")
    print("| distance | precision | recall | false pairs | missed pairs |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for distance in DISTANCES:
        precision, recall, fp, fn = pair_scores(photos, hashes, distance)
        print(f"| {distance} | {precision:.3f} | {recall:.3f} | {fp} | {fn} |")


def rate(fn: Callable[[bytes], Any], data: list[bytes], threads: int = 1) -> float:
    """Images per second, the best of three runs (the machine is shared), after a warm-up."""
    fn(data[0])  # imports and first-call costs are not hashing
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        if threads == 1:
            for item in data:
                fn(item)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(fn, data))
        best = max(best, len(data) / (time.perf_counter() - started))
    return best


def full_decode_hash(data: bytes) -> Any:
    """What hashing costs without the reduced decode: imagehash on the full image."""
    import io

    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return imagehash.phash(image)


def speed(quick: bool) -> None:
    from PIL import Image

    base = photo("chelsea")
    cores = os.cpu_count() or 1
    print(f"\nhashing speed (images/s, decoding included; {cores} cores)")
    print("| image | bytes | 1 thread | all cores | full decode, 1 thread |")
    print("| --- | ---: | ---: | ---: | ---: |")
    sizes = [(451, 300), (1600, 1064), (4000, 2660)]
    for width, height in sizes:
        for fmt in ("JPEG", "PNG"):
            if fmt == "PNG" and width > 2000:
                continue  # (a 10-megapixel PNG is rare in scraped sets)
            image = base.resize((width, height), Image.Resampling.BILINEAR)
            data = encode(image, fmt, 90)
            n = max(4, (30 if quick else 100) * 300 * 451 // (width * height))
            batch = [data] * n
            one = rate(hash_image, batch)
            many = rate(hash_image, batch, cores)
            full = rate(full_decode_hash, batch[: max(2, n // 4)])
            print(
                f"| {fmt} {width}x{height} | {len(data):,} | {one:,.0f} | {many:,.0f} "
                f"| {full:,.0f} |"
            )


def grouping(quick: bool) -> None:
    rng = random.Random(7)
    print("\nbanded grouping of random 64-bit hashes (a third of them near-copies)")
    print("| images | distance | pairs verified | of all pairs | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in (2_000, 20_000) if quick else (2_000, 20_000, 100_000):
        values: dict[int, ImageHash] = {}
        for i in range(n):
            if i % 3 == 2:
                base = values[rng.randrange(i)]
                flipped = base.phash
                for bit in rng.sample(range(64), rng.randint(0, 8)):
                    flipped ^= 1 << bit
                values[i] = ImageHash(flipped, base.mirror)
            else:
                values[i] = ImageHash(rng.getrandbits(64), rng.getrandbits(64))
        for distance in (6, 8, 10):
            started = time.perf_counter()
            _, verified = group_hashes(values, distance)
            took = time.perf_counter() - started
            share = verified / (n * (n - 1) / 2)
            print(f"| {n:,} | {distance} | {verified:,} | {share:.2%} | {took:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller speed runs")
    args = parser.parse_args()
    quality("photo set (originals, light edits, other photographs, regions)", near_copy_set())
    quality("heavier crops", heavier_crops())
    quality("100 different faces", faces())
    speed(args.quick)
    grouping(args.quick)


if __name__ == "__main__":
    main()
