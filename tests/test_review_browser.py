"""The review page driven in real headless Chromium (Debian's package, launched by path).

Skipped when ``chromium`` or Playwright is missing; ``pytest -m "not browser"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import list_keys
from review2_helpers import make_grouped_band, make_misses, placed_grouped
from review_helpers import Band, ledger_rows, make_band, placed

from asyncfilter import open_review
from asyncfilter.review._server import STATS
from asyncfilter.testing import MotoServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.servers]
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)
async_api = pytest.importorskip("playwright.async_api")
#: (functions, not expressions: the page's CSP forbids the eval Playwright uses for those)
THUMBS = "n => document.querySelectorAll('#grid .thumb').length === n"
#: The README's screenshots are rewritten by the tests when asked (so a test run leaves the
#: work tree clean): ASYNCFILTER_SCREENSHOTS=docs pytest -m browser
DOCS = (
    Path(__file__).resolve().parent.parent / "docs"
    if os.environ.get("ASYNCFILTER_SCREENSHOTS") == "docs"
    else Path(tempfile.gettempdir()) / "asyncfilter-screenshots"
)
ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with async_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    await context.close()
    assert errors == [], errors


async def band_of(
    count: int, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any, tmp: Path
) -> Band:
    return await make_band(s3, emulator, buckets, config_for, tmp, count=count, hits=1)


async def shown(page: Any) -> str:
    """The key of the image in focus, once it is visible (loaded)."""
    frame = page.locator("#focus-frame[data-shown]")
    await frame.wait_for()
    key: str = await frame.get_attribute("data-shown")
    return key


async def wait_done(page: Any, done: int) -> None:
    await page.locator(f'#counter[data-done="{done}"]').wait_for()


@pytest.mark.timeout(300)  # a sweep of 200 and 200 keypresses: room for a slow machine
async def test_two_hundred_keyboard_decisions_land_exactly_in_s3_and_the_ledger(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    band = await band_of(200, s3, emulator, buckets, config_for, tmp_path)
    wanted: dict[str, str] = {}
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
        await page.goto(review.url)
        for n in range(200):
            key = await shown(page)
            if key in wanted:  # the next image has not replaced this one yet
                await page.wait_for_function(
                    "k => document.querySelector('#focus-frame').dataset.shown !== k", arg=key
                )
                key = await shown(page)
            wanted[key] = "rejected" if n % 4 == 1 else "accepted"
            await page.keyboard.press("x" if n % 4 == 1 else "a")
        await wait_done(page, 200)
        assert await page.locator("#empty").is_visible()
        await review.applier.apply_pending()
    assert sorted(wanted) == band.keys
    where = await placed(s3, band)
    rows = ledger_rows(band.state)
    for key, verdict in wanted.items():
        folder = "Robin/" if verdict == "accepted" else "_rejected/Robin/"
        assert where[key] == [folder], key
        assert rows[key]["verdict"] == verdict
        assert rows[key]["dest_key"] == folder + key
    with sqlite3.connect(band.state) as db:
        assert db.execute("SELECT count(*) FROM review_events").fetchone() == (200,)


async def test_a_grid_page_with_three_marked_commits_21_accepted_and_3_rejected(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    band = await band_of(30, s3, emulator, buckets, config_for, tmp_path)
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
        await page.goto(review.url)
        await shown(page)
        await page.keyboard.press("g")
        thumbs = page.locator("#grid .thumb")
        await page.wait_for_function(THUMBS, arg=24)
        on_page = [await t.get_attribute("data-key") for t in await thumbs.all()]
        await page.keyboard.press("x")  # the first, under the cursor
        await page.keyboard.press("ArrowRight")
        await page.keyboard.press("ArrowRight")
        await page.keyboard.press("x")  # the third
        await thumbs.nth(10).click()  # the eleventh, by mouse
        marked = {on_page[0], on_page[2], on_page[10]}
        assert await page.locator("#grid .thumb.rejected").count() == 3
        assert await page.inner_text("#grid-summary") == "Enter: 3 rejected, 21 accepted"
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "review-grid.png"))
        await page.keyboard.press("Enter")
        await wait_done(page, 24)
        await page.wait_for_function(THUMBS, arg=6)
        await review.applier.apply_pending()
    rows = ledger_rows(band.state)
    lowest = sorted(band.keys, key=lambda k: rows[k]["match_confidence"])[:24]
    assert sorted(on_page) == sorted(lowest)  # the page is the band's least confident
    verdicts = {k: rows[k]["verdict"] for k in band.keys}
    assert sorted(k for k, v in verdicts.items() if v == "rejected") == sorted(marked)
    assert sum(v == "accepted" for v in verdicts.values()) == 21
    assert sum(v is None for v in verdicts.values()) == 6
    where = await placed(s3, band)
    assert all(where[k] == ["_rejected/Robin/"] for k in marked)
    assert sum(where[k] == ["Robin/"] for k in band.keys) == 21


async def test_accept_then_undo_leaves_the_image_pending_in_review_only(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    band = await band_of(5, s3, emulator, buckets, config_for, tmp_path)
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
        await page.goto(review.url)
        first = await shown(page)
        await page.keyboard.press("a")
        await wait_done(page, 1)
        await review.applier.apply_pending()
        assert (await placed(s3, band))[first] == ["Robin/"]
        await page.keyboard.press("z")
        await wait_done(page, 0)
        assert await shown(page) == first
        assert await page.inner_text("#cap-verdict") == "pending"
        await review.applier.apply_pending()
    assert (await placed(s3, band))[first] == ["_review/Robin/"]
    row = ledger_rows(band.state)[first]
    assert (row["verdict"], row["outcome"], row["dest_key"]) == (
        None,
        "review",
        f"_review/Robin/{first}",
    )
    with sqlite3.connect(band.state) as db:
        events = db.execute("SELECT decision FROM review_events WHERE key = ?", (first,))
        assert [e for (e,) in events] == ["accept", "revert"]


def _serve(state: Path, moto: MotoServer, port: int) -> tuple[subprocess.Popen[str], str]:
    """``asyncfilter review`` in its own process; returns it and the URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncfilter", "review", "--state", str(state), "--port", str(port),
         "--s3-endpoint-url", moto.endpoint_url],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("open "):
            return proc, line.split()[1]
    code = proc.wait()
    proc.stdout.close()
    raise AssertionError(f"review exited with {code} before printing its URL")


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.kill()
    code = proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return code


@pytest.mark.timeout(300)
async def test_the_server_killed_mid_run_loses_no_acknowledged_decision_and_copies_once(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    band = await band_of(40, s3, emulator, buckets, config_for, tmp_path)
    acknowledged: dict[str, str | None] = {}

    async def on_response(response: Any) -> None:
        if response.url.endswith("/api/decisions") and response.ok:
            for result in (await response.json())["results"]:
                acknowledged[result["key"]] = result["verdict"]

    page.on("response", on_response)
    port = free_port()
    proc, url = await anyio.to_thread.run_sync(_serve, band.state, moto, port)
    try:
        await page.goto(url)
        for n in range(25):
            key = await shown(page)
            await page.keyboard.press("x" if n % 3 == 0 else "a")
            await page.wait_for_function(
                "k => document.querySelector('#focus-frame').dataset.shown !== k", arg=key
            )
        proc.send_signal(signal.SIGKILL)  # in the middle of sending and moving
    finally:
        await anyio.to_thread.run_sync(_stop, proc)
    assert len(acknowledged) >= 10
    with sqlite3.connect(band.state) as db:
        stored = dict(db.execute("SELECT key, verdict FROM review_state"))
    assert {k: stored.get(k) for k in acknowledged} == acknowledged

    proc, url = await anyio.to_thread.run_sync(_serve, band.state, moto, port)
    try:
        await page.goto(url)  # the new run's token
        settled = (
            "k => { const f = document.querySelector('#focus-frame');"
            " return f.hidden || (f.dataset.shown && f.dataset.shown !== k); }"
        )
        await page.wait_for_function(settled, arg="")
        while not await page.locator("#empty").is_visible():
            key = await shown(page)
            await page.keyboard.press("a")
            await page.wait_for_function(settled, arg=key)
        await wait_done(page, 40)
        proc.send_signal(signal.SIGTERM)  # stops after applying what is pending
        assert await anyio.to_thread.run_sync(proc.wait) == 0
    finally:
        await anyio.to_thread.run_sync(_stop, proc)
    where = await placed(s3, band)
    rows = ledger_rows(band.state)
    for key in band.keys:
        verdict = rows[key]["verdict"]
        assert verdict in ("accepted", "rejected"), key
        assert where[key] == ["Robin/" if verdict == "accepted" else "_rejected/Robin/"], key
    for key, verdict in acknowledged.items():
        if verdict is not None:
            assert rows[key]["verdict"] == verdict


async def test_a_post_without_the_token_gets_403_from_the_page_origin(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    band = await band_of(3, s3, emulator, buckets, config_for, tmp_path)
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
        await page.goto(review.url)
        await shown(page)
        status = await page.evaluate(
            """async (key) => (await fetch('/api/decisions', {method: 'POST',
                 headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({decisions: [{id: 'x', bucket: '', key, decision: 'accept'}]})
               })).status""",
            band.keys[0],
        )
        assert status == 403
        assert review.store.done == 0


async def test_an_expired_image_url_is_renewed_before_it_is_used(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    band = await band_of(4, s3, emulator, buckets, config_for, tmp_path)
    async with open_review(
        band.state, s3_endpoint_url=moto.endpoint_url, url_expires_s=1
    ) as review:
        stats = review.app[STATS]
        await page.goto(review.url)
        first = await shown(page)
        assert stats.url_refreshes == 0
        await anyio.sleep(1.2)  # every URL the page holds has expired
        await page.keyboard.press("Space")
        assert await shown(page) != first
        assert stats.url_refreshes >= 1


async def test_an_image_refused_by_s3_asks_once_for_a_fresh_url(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    """moto does not enforce expiry, so S3's answer to an expired URL (403) is played here."""
    band = await band_of(3, s3, emulator, buckets, config_for, tmp_path)
    target = band.keys[1]
    refused: list[str] = []
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
        stats = review.app[STATS]

        async def expired_until_renewed(route: Any) -> None:
            if stats.url_refreshes == 0:
                refused.append(route.request.url)
                await route.fulfill(status=403, body="Request has expired")
            else:
                await route.continue_()

        await page.route(f"**/{target}?*", expired_until_renewed)
        await page.goto(review.url)
        assert await shown(page) == band.keys[0]
        await page.keyboard.press("Space")
        assert await shown(page) == target
        assert stats.url_refreshes == 1
        assert refused


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1024, 600)])
async def test_the_page_fits_a_laptop_screen_in_both_modes(
    browser: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path, width: int, height: int,
) -> None:  # fmt: skip
    band = await band_of(26, s3, emulator, buckets, config_for, tmp_path)
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    try:
        async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
            await page.goto(review.url)
            await shown(page)
            await page.keyboard.press("a")
            await shown(page)
            for mode in ("focus", "grid"):
                if mode == "grid":
                    await page.keyboard.press("g")
                    await page.locator("#grid .thumb").first.wait_for()
                    controls = ["#btn-commit", "#btn-grid-undo", "#mode-focus", "#counter"]
                else:
                    controls = ["#btn-accept", "#btn-reject", "#btn-skip", "#btn-undo",
                                "#btn-prev", "#btn-next", "#counter", "#btn-help"]  # fmt: skip
                overflow = await page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0, mode
                for selector in controls:
                    box = await page.locator(selector).bounding_box()
                    assert box is not None, selector
                    assert 0 <= box["x"] <= width - box["width"], selector
                    assert 0 <= box["y"] <= height - box["height"], selector
                if (width, height) == (1280, 800) and mode == "focus":
                    DOCS.mkdir(exist_ok=True)
                    await page.screenshot(path=str(DOCS / "review-focus.png"))
            await page.keyboard.press("?")
            assert await page.locator("#help").is_visible()
            text = await page.inner_text("#help")
            assert "accept" in text
            assert "undo" in text
    finally:
        await context.close()


async def test_moves_that_keep_failing_are_shown_and_the_decision_is_kept(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    from asyncfilter import DestinationError
    from asyncfilter.testing import FakeCopier

    class Unwritable(FakeCopier):
        async def copy(self, obj: Any, dest_bucket: str, dest_key: str) -> None:
            raise DestinationError(f"cannot write to destination bucket {dest_bucket!r}")

    band = await band_of(3, s3, emulator, buckets, config_for, tmp_path)
    async with open_review(
        band.state, s3_endpoint_url=moto.endpoint_url, copier=Unwritable()
    ) as review:
        await page.goto(review.url)
        first = await shown(page)
        await page.keyboard.press("a")
        await wait_done(page, 1)
        await page.locator("#moves", has_text="failing").wait_for(timeout=20_000)
        assert "cannot write" in await page.inner_text("#moves")
    assert ledger_rows(band.state)[first]["verdict"] is None  # not applied: still in _review
    with sqlite3.connect(band.state) as db:
        state = db.execute("SELECT verdict FROM review_state WHERE key = ?", (first,))
        assert state.fetchone() == ("accepted",)  # but the decision is kept, to apply later


async def test_a_miss_accepted_by_keyboard_is_copied_beside_the_hits_from_the_source(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    misses = await make_misses(s3, emulator, buckets, config_for, tmp_path)
    source_before = sorted(await list_keys(s3, misses.source))
    async with open_review(
        misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url
    ) as review:  # fmt: skip
        await page.goto(review.url)
        assert await shown(page) == misses.promising[0]  # the most promising first
        assert "52.0%" in await page.inner_text("#cap-label")
        src = await page.get_attribute("#focus-img", "src")
        assert f"/{misses.source}/{misses.promising[0]}?" in src  # from the source, presigned
        await page.keyboard.press("a")
        await wait_done(page, 1)
        await page.wait_for_function(
            "k => document.querySelector('#focus-frame').dataset.shown === k",
            arg=misses.promising[1],
        )
        await review.applier.apply_pending()
    assert f"Robin/{misses.promising[0]}" in await list_keys(s3, misses.dest)
    assert sorted(await list_keys(s3, misses.source)) == source_before
    row = ledger_rows(misses.state)[misses.promising[0]]
    assert (row["outcome"], row["verdict"]) == ("hit", "accepted")


async def test_a_grid_of_misses_accepts_the_marked_and_rejects_the_rest(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    misses = await make_misses(s3, emulator, buckets, config_for, tmp_path)
    source_before = sorted(await list_keys(s3, misses.source))
    async with open_review(
        misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url
    ) as review:  # fmt: skip
        await page.goto(review.url)
        await shown(page)
        await page.keyboard.press("g")
        await page.wait_for_function(THUMBS, arg=7)
        thumbs = page.locator("#grid .thumb")
        shown_keys = [await t.get_attribute("data-key") for t in await thumbs.all()]
        assert shown_keys == misses.promising + misses.broader
        await page.keyboard.press("ArrowRight")
        await page.keyboard.press("x")  # the second: it does show a robin
        assert await page.locator("#grid .thumb.found").count() == 1
        assert await page.inner_text("#grid-summary") == "Enter: 1 accepted, 6 rejected"
        await page.keyboard.press("Enter")
        await wait_done(page, 7)
        await review.applier.apply_pending()
    found = misses.promising[1]
    dest = sorted(await list_keys(s3, misses.dest))
    assert f"Robin/{found}" in dest
    others = [k for k in misses.promising + misses.broader if k != found]
    assert all(f"_rejected/Robin/{k}" in dest for k in others)
    assert sorted(await list_keys(s3, misses.source)) == source_before
    rows = ledger_rows(misses.state)
    assert [rows[k]["verdict"] for k in misses.promising] == [
        "accepted" if k == found else "rejected" for k in misses.promising
    ]


async def test_a_near_copy_group_is_shown_together_decided_with_one_key_and_undone_with_one(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    grouped = await make_grouped_band(s3, emulator, buckets, config_for, tmp_path)
    first = grouped.group[0]
    async with open_review(grouped.state, s3_endpoint_url=moto.endpoint_url) as review:
        await page.goto(review.url)
        assert await shown(page) == first
        strip = page.locator("#group .member")
        await page.wait_for_function(
            "n => document.querySelectorAll('#group .member').length === n", arg=3
        )
        assert [await m.get_attribute("data-key") for m in await strip.all()] == grouped.group
        assert await page.locator("#group .member.current").get_attribute("data-key") == first
        assert "3 images" in await page.inner_text("#group-title")
        assert await page.locator("#btn-group-accept").is_visible()
        await page.locator("#group .member[data-shown]").nth(2).wait_for()
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "review-group.png"))
        await page.keyboard.press("Shift+A")  # the whole group
        await wait_done(page, 3)
        # the next pending image: the group's others are decided and passed over
        await page.wait_for_function(
            "k => document.querySelector('#focus-frame').dataset.shown === k",
            arg=grouped.others[0],
        )
        assert await page.locator("#group").is_hidden()
        await review.applier.apply_pending()
        where = await placed_grouped(s3, grouped)
        assert [where[k] for k in grouped.group] == [["Robin/"]] * 3
        assert [where[k] for k in grouped.others] == [["_review/Robin/"]] * 3
        rows = ledger_rows(grouped.state)
        assert [rows[k]["verdict"] for k in grouped.group] == ["accepted"] * 3
        await page.keyboard.press("z")  # one undo takes back the whole group
        await wait_done(page, 0)
        assert await shown(page) == first
        assert await page.inner_text("#cap-verdict") == "pending"
        await review.applier.apply_pending()
    where = await placed_grouped(s3, grouped)
    assert all(where[k] == ["_review/Robin/"] for k in grouped.group + grouped.others)
    rows = ledger_rows(grouped.state)
    assert [rows[k]["verdict"] for k in grouped.group] == [None] * 3
    with sqlite3.connect(grouped.state) as db:
        events = db.execute("SELECT key, decision FROM review_events ORDER BY seq").fetchall()
    assert sorted(events) == sorted(
        [(k, "accept") for k in grouped.group] + [(k, "revert") for k in grouped.group]
    )


async def test_the_group_buttons_reject_a_group_and_the_grid_marks_a_group_with_one_key(
    page: Any, s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any,
    moto: MotoServer, tmp_path: Path,
) -> None:  # fmt: skip
    grouped = await make_grouped_band(s3, emulator, buckets, config_for, tmp_path)
    async with open_review(grouped.state, s3_endpoint_url=moto.endpoint_url) as review:
        await page.goto(review.url)
        await shown(page)
        await page.locator("#group .member").first.wait_for()
        await page.set_viewport_size({"width": 1024, "height": 600})  # still fits a laptop
        for selector in ("#btn-group-accept", "#btn-group-reject", "#btn-accept", "#btn-next"):
            box = await page.locator(selector).bounding_box()
            assert box is not None, selector
            assert 0 <= box["x"] <= 1024 - box["width"], selector
            assert 0 <= box["y"] <= 600 - box["height"], selector
        await page.click("#btn-group-reject")
        await wait_done(page, 3)
        await page.click("#btn-undo")
        await wait_done(page, 0)
        await page.keyboard.press("g")
        await page.wait_for_function(THUMBS, arg=6)
        thumbs = page.locator("#grid .thumb")
        keys = [await t.get_attribute("data-key") for t in await thumbs.all()]
        assert keys == grouped.group + grouped.others  # a group together, where its least
        # confident member would be
        assert "⧉3" in await page.inner_text(f'#grid .thumb[data-key="{grouped.group[1]}"]')
        for _ in range(keys.index(grouped.group[1])):
            await page.keyboard.press("ArrowRight")
        await page.keyboard.press("Shift+X")  # the cursor's image and its near-copies
        assert await page.inner_text("#grid-summary") == "Enter: 3 rejected, 3 accepted"
        await page.click("#btn-grid-group")  # the same, by its button: unmarked again
        assert await page.inner_text("#grid-summary") == "Enter: 0 rejected, 6 accepted"
        await page.keyboard.press("Shift+X")
        await page.keyboard.press("Enter")
        await wait_done(page, 6)
        await review.applier.apply_pending()
    where = await placed_grouped(s3, grouped)
    assert [where[k] for k in grouped.group] == [["_rejected/Robin/"]] * 3
    assert [where[k] for k in grouped.others] == [["Robin/"]] * 3
