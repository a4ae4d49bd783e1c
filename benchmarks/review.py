"""The review page's numbers: keypress to next image, decisions per second, time to first image.

python -m benchmarks.review [--band 100000] [--presses 200] [--seconds 5]

A band of ``--band`` review images is written straight into a fresh ledger (no sweep needed
for the rows); only the images the page will show are put in moto's S3 (keep-alive server).
Needs the ``review`` and ``browser`` extras and Debian's ``chromium``. Prints one JSON dict:

- ``first_image``: for a band of 100 and of ``--band``: seconds to open the review (lock the
  ledger, resolve destinations, count the band, start serving) and from page load to the
  first image visible.
- ``keypress_to_next_image_ms``: ``a`` pressed to the next image loaded and shown (measured
  in the page), p50/p95/max over ``--presses`` decisions, moves to S3 running behind.
- ``decisions_per_s``: acknowledged (committed) decisions a second, one at a time from one
  client and from 8 concurrent clients, and as grid pages of 24.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from asyncfilter import open_review
from asyncfilter._ledger import Ledger
from asyncfilter.testing import TEST_CREDENTIALS, FakeCopier, make_image, moto_server

SOURCE, DEST = "bench-scraped", "bench-training"
BOX = [{"BoundingBox": {"Left": 0.2, "Top": 0.25, "Width": 0.4, "Height": 0.5}, "Confidence": 70}]
ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def key_of(i: int) -> str:
    return f"img/{i:07d}.jpg"


async def make_ledger(path: Path, count: int) -> None:
    """A ledger whose review band holds ``count`` images, rows written directly."""
    ledger = await Ledger.open(path)
    await ledger.aclose()
    rng = random.Random(7)
    now = time.time()
    instances = json.dumps(BOX)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO jobs VALUES ('bench', ?, 0, ?)",
            (json.dumps({"dest": f"s3://{DEST}", "name": "Robin"}), now),
        )
        db.executemany(
            "INSERT INTO objects (bucket, key, etag, size, outcome, match_label, match_via, "
            "match_detected, match_confidence, dest_bucket, dest_key, copied, first_seen, "
            "decided_at, match_instances, folder) VALUES "
            "(?, ?, 'e', 1000, 'review', 'Robin', 'label', 'Robin', ?, ?, ?, 1, ?, ?, ?, 'Robin')",
            (
                (SOURCE, key_of(i), round(rng.uniform(60, 80), 2), DEST,
                 f"_review/Robin/{key_of(i)}", now, now, instances)
                for i in range(count)
            ),
        )  # fmt: skip


async def upload(endpoint: str, count: int) -> None:
    """Put the first ``count`` review copies in S3 (what the page will load)."""
    import aioboto3

    body = make_image(640, 480, color=(110, 150, 200))
    async with aioboto3.Session().client("s3", endpoint_url=endpoint) as s3:
        for bucket in (SOURCE, DEST):
            await s3.create_bucket(Bucket=bucket)
        limit = anyio.Semaphore(16)

        async def put(i: int) -> None:
            async with limit:
                await s3.put_object(Bucket=DEST, Key=f"_review/Robin/{key_of(i)}", Body=body)

        async with anyio.create_task_group() as tg:
            for i in range(count):
                tg.start_soon(put, i)


async def first_image(browser: Any, state: Path, endpoint: str) -> dict[str, float]:
    started = time.perf_counter()
    async with open_review(state, s3_endpoint_url=endpoint, copier=FakeCopier()) as review:
        opened = time.perf_counter() - started
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        started = time.perf_counter()
        await page.goto(review.url)
        await page.locator("#focus-frame[data-shown]").wait_for()
        shown = time.perf_counter() - started
        await page.close()
    return {"open_s": round(opened, 3), "page_to_first_image_s": round(shown, 3)}


_PROBE = """() => {
  window.__lat = []; let t0 = null;
  const frame = document.querySelector('#focus-frame');
  document.addEventListener('keydown', () => { t0 = performance.now(); }, true);
  new MutationObserver(() => {
    if (t0 === null || !frame.dataset.shown) return;
    window.__lat.push(performance.now() - t0); t0 = null;
  }).observe(frame, {attributes: true, attributeFilter: ['data-shown']});
}"""


async def keypresses(browser: Any, state: Path, endpoint: str, presses: int) -> dict[str, Any]:
    async with open_review(state, s3_endpoint_url=endpoint) as review:  # real moves in S3
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(review.url)
        await page.locator("#focus-frame[data-shown]").wait_for()
        await page.evaluate(_PROBE)
        for n in range(presses):
            await page.keyboard.press("a")
            await page.wait_for_function(f"() => window.__lat.length >= {n + 1}")
            await anyio.sleep(0.05)  # a very fast person: 20 decisions a second
        latencies = sorted(await page.evaluate("() => window.__lat"))
        await page.locator(f'#counter[data-done="{presses}"]').wait_for()
        await page.close()
        await review.applier.apply_pending()
        moved = review.applier.stats.moved
    cut = statistics.quantiles(latencies, n=100)
    return {
        "presses": presses,
        "p50": round(statistics.median(latencies), 1),
        "p95": round(cut[94], 1),
        "max": round(latencies[-1], 1),
        "moved_in_s3": moved,
    }


async def decisions(state: Path, endpoint: str, seconds: float) -> dict[str, float]:
    out: dict[str, float] = {}
    async with open_review(state, s3_endpoint_url=endpoint, copier=FakeCopier()) as review:
        base = (review.url or "").split("?")[0]
        headers = {"X-Review-Token": review.token}
        async with aiohttp.ClientSession(base_url=base, headers=headers) as http:
            next_key = iter(range(10**9))

            async def client(batch: int, until: float, counts: list[int]) -> None:
                while time.perf_counter() < until:
                    body = {
                        "decisions": [
                            {"id": uuid.uuid4().hex, "bucket": SOURCE,
                             "key": key_of(next(next_key)), "decision": "accept"}
                            for _ in range(batch)
                        ]
                    }  # fmt: skip
                    async with http.post("/api/decisions", json=body) as response:
                        assert response.status == 200, await response.text()
                    counts.append(batch)

            for name, clients, batch in (("one_client", 1, 1), ("eight_clients", 8, 1),
                                         ("grid_pages_of_24", 1, 24)):  # fmt: skip
                counts: list[int] = []
                started = time.perf_counter()
                until = started + seconds
                async with anyio.create_task_group() as tg:
                    for _ in range(clients):
                        tg.start_soon(client, batch, until, counts)
                out[name] = round(sum(counts) / (time.perf_counter() - started), 1)
    return out


async def main(band: int, presses: int, seconds: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("benchmarks.review needs chromium (apt-get install chromium)")
    result: dict[str, Any] = {"band": band}
    with tempfile.TemporaryDirectory() as tmp, moto_server(keep_alive=True) as moto:
        await upload(moto.endpoint_url, presses + 40)
        small, large = Path(tmp, "small.sqlite"), Path(tmp, "large.sqlite")
        await make_ledger(small, 100)
        await make_ledger(large, band)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
            try:
                await first_image(browser, small, moto.endpoint_url)  # warm up
                result["first_image"] = {
                    "band_100": await first_image(browser, small, moto.endpoint_url),
                    f"band_{band}": await first_image(browser, large, moto.endpoint_url),
                }
                result["keypress_to_next_image_ms"] = await keypresses(
                    browser, large, moto.endpoint_url, presses
                )
            finally:
                await browser.close()
        result["decisions_per_s"] = await decisions(large, moto.endpoint_url, seconds)
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--band", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.environ.update(TEST_CREDENTIALS)  # moto only: never real credentials
    print(json.dumps(anyio.run(main, args.band, args.presses, args.seconds)))


if __name__ == "__main__":
    cli()
