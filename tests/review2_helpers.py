"""Ledgers for the review page's miss band and near-copy groups: real sweeps over moto and the
emulator (and a real ``dupes`` run), as a person would make them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from helpers import labels_entries, list_keys, seed
from review_helpers import BOX, robin_picture

from asyncfilter import find_near_duplicates, scan
from asyncfilter.testing import EmulatorProcess

ROBIN_BAND_EDGE = 60
MISS_FLOOR = 25


def robin(confidence: float, name: str = "Robin", **extra: Any) -> dict[str, Any]:
    return {
        "Name": name,
        "Confidence": confidence,
        "Parents": [{"Name": "Bird"}, {"Name": "Animal"}],
        "Instances": [{"BoundingBox": BOX, "Confidence": confidence}],
        **extra,
    }


#: The misses that hold a wanted label below the band (60) and above the floor (25), most
#: confident first: by name, by a parent and by an alias, as the sweep's matcher matches.
PROMISING = {
    "miss/m52.jpg": [robin(52.0), {"Name": "Tree", "Confidence": 90.0}],
    "miss/m45.jpg": [robin(45.5)],
    "miss/m40-parent.jpg": [
        {"Name": "Turdus", "Confidence": 40.0, "Parents": [{"Name": "Robin"}], "Instances": []}
    ],
    "miss/m35-alias.jpg": [
        {"Name": "Redbreast", "Confidence": 35.0, "Aliases": [{"Name": "robin"}], "Parents": []}
    ],
    "miss/m30.jpg": [robin(30.0), robin(28.0, "Sparrow")],
}
#: Misses whose answer holds Robin's nearest broader label (Bird) and no Robin, ranked after.
BROADER = {
    "miss/bird-99.jpg": [{"Name": "Bird", "Confidence": 99.0, "Parents": [{"Name": "Animal"}]}],
    "miss/bird-81.jpg": [{"Name": "Bird", "Confidence": 81.0, "Parents": [{"Name": "Animal"}]}],
}
#: Misses that are not: a label broader still, a wanted label under the floor, nothing.
HOPELESS = {
    "miss/animal-only.jpg": [{"Name": "Animal", "Confidence": 97.0}],
    "miss/m10.jpg": [robin(10.0)],
    "miss/empty.jpg": [],
}


def sure_robin(confidence: float) -> list[dict[str, Any]]:
    """A hit's answer as Rekognition gives it: the label and its parents, each a label too."""
    return [
        robin(confidence),
        {"Name": "Bird", "Confidence": confidence, "Parents": [{"Name": "Animal"}]},
        {"Name": "Animal", "Confidence": confidence, "Parents": []},
    ]


@dataclass(frozen=True)
class Misses:
    source: str
    dest: str
    state: Path
    promising: list[str]
    """In the order the page must show them."""
    broader: list[str]
    """Shown after the promising, in this order."""
    hopeless: list[str]
    band: list[str]
    hits: list[str]


async def make_misses(
    s3: Any,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp: Path,
    *,
    miss_floor: float | None = MISS_FLOOR,
) -> Misses:
    """A sweep for Robin (threshold 80, band from 60, ``miss_floor``) over five promising
    misses, two with a broader label, three hopeless ones, two band images and two hits."""
    source, dest = buckets
    band = {"band/b70.jpg": [robin(70.0)], "band/b65.jpg": [robin(65.0)]}
    hits = {"sure/h95.jpg": sure_robin(95.0), "sure/h90.jpg": sure_robin(90.0)}
    everything = {**PROMISING, **BROADER, **HOPELESS, **band, **hits}
    await seed(s3, source, {k: robin_picture(n) for n, k in enumerate(everything)})
    await anyio.to_thread.run_sync(emulator.add_labels, labels_entries(source, everything))
    state = tmp / "misses.sqlite"
    report = await scan(
        config_for(
            threshold=80, review_threshold=ROBIN_BAND_EDGE, miss_floor=miss_floor,
            state=str(state), preflight=False,
        )
    )  # fmt: skip
    stats = report.stats
    assert (stats.hits, stats.review, stats.misses) == (2, 2, 10), report.to_dict()
    return Misses(
        source, dest, state, list(PROMISING), list(BROADER), list(HOPELESS), sorted(band),
        sorted(hits),
    )  # fmt: skip


@dataclass(frozen=True)
class Grouped:
    source: str
    dest: str
    state: Path
    group: list[str]
    """The band's three near-copies (one picture resized and mirrored), in key order."""
    others: list[str]
    """The band's other images, each a different photograph."""


async def make_grouped_band(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp: Path
) -> Grouped:
    """A review band of six real photographs, three of them near-copies of one, grouped by a
    real ``dupes`` run."""
    from PIL import ImageOps

    from asyncfilter.testing._photos import encode, photo

    source, dest = buckets
    astronaut = photo("astronaut")
    half = astronaut.resize((astronaut.width // 2, astronaut.height // 2))
    images = {
        "pics/astro-a.jpg": encode(astronaut),
        "pics/astro-b-half.jpg": encode(half, quality=70),
        "pics/astro-c-mirror.jpg": encode(ImageOps.mirror(astronaut)),
        "pics/camera.jpg": encode(photo("camera")),
        "pics/coins.jpg": encode(photo("coins")),
        "pics/moon.jpg": encode(photo("moon")),
    }
    confidences = dict(zip(images, (61.0, 72.0, 66.0, 63.0, 70.0, 75.0), strict=True))
    await seed(s3, source, images)
    labels = {k: [robin(c)] for k, c in confidences.items()}
    await anyio.to_thread.run_sync(emulator.add_labels, labels_entries(source, labels))
    state = tmp / "grouped.sqlite"
    report = await scan(config_for(review_threshold=60, state=str(state), preflight=False))
    assert report.stats.review == 6, report.to_dict()
    found = await find_near_duplicates(
        state, s3_endpoint_url=str(s3.meta.endpoint_url), confirm=lambda estimate: True
    )
    sizes = sorted(len(g.images) for g in found.groups)
    assert sizes == [3], found
    keys = sorted(images)
    return Grouped(source, dest, state, keys[:3], keys[3:])


async def placed_grouped(s3: Any, grouped: Grouped) -> dict[str, list[str]]:
    """The folders of the destination each image of ``grouped`` has a copy in."""
    found: dict[str, list[str]] = {k: [] for k in grouped.group + grouped.others}
    for key in await list_keys(s3, grouped.dest):
        for source_key in found:
            if key.endswith("/" + source_key):
                found[source_key].append(key[: -len(source_key)])
    return found


@asynccontextmanager
async def client(url: str, token: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of the review page's API, with its token."""
    headers = {"X-Review-Token": token}
    async with aiohttp.ClientSession(base_url=url.split("?")[0], headers=headers) as session:
        yield session


async def get(http: aiohttp.ClientSession, path: str, **params: str) -> Any:
    async with http.get(path, params=params) as response:
        assert response.status == 200, await response.text()
        return await response.json()
