"""A real review band for the review page's tests: a sweep over moto and the emulator."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from helpers import labels_entries, list_keys, seed

from asyncfilter import scan
from asyncfilter.testing import EmulatorProcess

BOX = {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4}


def robin_picture(n: int = 0, width: int = 160, height: int = 120) -> bytes:
    """Sky, grass and a round red-breasted bird inside :data:`BOX` (screenshots show it); each
    ``n`` its own bytes (the sweep answers identical images once)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (120, 170, 215))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.7), width, height), fill=(70, 130, 60))
    left, top = BOX["Left"] * width, BOX["Top"] * height
    right, bottom = left + BOX["Width"] * width, top + BOX["Height"] * height
    draw.ellipse((left + 4, top + 6, right - 4, bottom - 2), fill=(110, 85, 60))
    draw.ellipse((left + 10, top + 18, right - 12, bottom - 6), fill=(215, 95, 45))
    draw.ellipse((left + 14, top + 4, left + 30, top + 20), fill=(90, 70, 50))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, comment=f"robin {n}")
    return buffer.getvalue()


@dataclass(frozen=True)
class Band:
    source: str
    dest: str
    state: Path
    keys: list[str]
    """The review band's source keys, in ledger order."""


async def make_band(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp: Path,
    *, count: int = 30, hits: int = 2,
) -> Band:  # fmt: skip
    """Sweep ``count`` band images (confidence 60-79.x) and ``hits`` sure ones, review band
    from 60, into a ledger at ``tmp/ledger.sqlite``."""
    source, dest = buckets
    band = {f"band/{i:04d}.jpg": 60 + (i * 7919 % 1990) / 100 for i in range(count)}
    sure = {f"sure/{i:04d}.jpg": 95.0 for i in range(hits)}
    await seed(s3, source, {k: robin_picture(n) for n, k in enumerate([*band, *sure])})
    labels = {
        k: [{"Name": "Robin", "Confidence": c, "Parents": [{"Name": "Bird"}],
             "Instances": [{"BoundingBox": BOX, "Confidence": c - 1}]}]
        for k, c in {**band, **sure}.items()
    }  # fmt: skip
    await anyio.to_thread.run_sync(emulator.add_labels, labels_entries(source, labels))
    state = tmp / "ledger.sqlite"
    report = await scan(
        config_for(review_threshold=60, state=str(state), concurrency=16, preflight=False)
    )
    assert (report.stats.review, report.stats.hits) == (count, hits), report.to_dict()
    return Band(source, dest, state, sorted(band))


def ledger_rows(state: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(state) as db:
        db.row_factory = sqlite3.Row
        return {row["key"]: dict(row) for row in db.execute("SELECT * FROM objects")}


async def placed(s3: Any, band: Band) -> dict[str, list[str]]:
    """Every band key to the folders of ``dest`` holding a copy of it."""
    found: dict[str, list[str]] = {k: [] for k in band.keys}
    for key in await list_keys(s3, band.dest):
        for source_key in band.keys:
            if key.endswith("/" + source_key):
                found[source_key].append(key[: -len(source_key)])
    return found
