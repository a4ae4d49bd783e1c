"""``review --outcome miss``: hunting false negatives among the misses, over real HTTP against
moto and the emulator. A miss is shown from the source, which the review never changes."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from helpers import labels_entries, list_keys, seed
from review2_helpers import MISS_FLOOR, PROMISING, Misses, client, get, make_misses
from review_helpers import ledger_rows, robin_picture

from asyncfilter import ConfigError, ScanConfig, export, find_near_duplicates, open_review, scan
from asyncfilter.review._store import Decision
from asyncfilter.testing import MotoServer

pytestmark = pytest.mark.servers


@pytest.fixture
async def misses(
    s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> Misses:
    return await make_misses(s3, emulator, buckets, config_for, tmp_path)


async def decide(http: aiohttp.ClientSession, source: str, *items: tuple[str, str]) -> Any:
    body = {
        "decisions": [
            {"id": uuid.uuid4().hex, "bucket": source, "key": key, "decision": what}
            for key, what in items
        ]
    }
    async with http.post("/api/decisions", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def source_state(s3: Any, bucket: str) -> dict[str, str]:
    """Every source object's key and ETag: what "untouched" means."""
    out = {}
    for key in await list_keys(s3, bucket):
        out[key] = (await s3.head_object(Bucket=bucket, Key=key))["ETag"]
    return out


async def test_the_miss_list_is_the_misses_with_a_wanted_label_below_the_band_then_a_broader_one(
    moto: MotoServer, misses: Misses
) -> None:
    with sqlite3.connect(misses.state) as db:
        asked = dict(db.execute("SELECT key, min_confidence FROM objects"))
    assert set(asked.values()) == {MISS_FLOOR}  # the floor was sent, and recorded as asked
    async with (
        open_review(misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        info = await get(http, "/api/info")
        assert (info["outcome"], info["total"], info["done"]) == ("miss", 7, 0)
        assert info["focus_order"] == "confidence"
        assert "5 misses whose answer holds a wanted label below the band" in info["note"]
        assert "down to 25%" in info["note"]
        assert "then 2 with only Bird" in info["note"]
        seen: list[dict[str, Any]] = []
        after = None
        while True:  # two at a time: the cursor walks the descending order
            cursor = {"after": after} if after else {}
            page = await get(http, "/api/items", order="confidence", limit="2", **cursor)
            seen += page["items"]
            if page["next"] is None:
                break
            after = json.dumps(page["next"])
        # a wanted label below the band first, then a broader label only: each most confident
        # first; by name, parent or alias as the sweep matches (Animal, broader still: never)
        assert [item["key"] for item in seen] == misses.promising + misses.broader
        assert [item["confidence"] for item in seen] == [52.0, 45.5, 40.0, 35.0, 30.0, 99.0, 81.0]
        assert [item["detected"] for item in seen] == [
            "Robin", "Robin", "Turdus", "Redbreast", "Robin", "Bird", "Bird"
        ]  # fmt: skip
        assert [item["via"] for item in seen] == [
            "name", "name", "parent", "alias", "name", "broader", "broader"
        ]  # fmt: skip
        assert {item["name"] for item in seen} == {"Robin"}
        first = seen[0]
        assert first["boxes"][0]["left"] == 0.1
        # shown from the source bucket, presigned, never proxied
        assert f"/{misses.source}/miss/m52.jpg?" in first["url"]
        assert "X-Amz-Signature=" in first["url"]
        by_key = await get(http, "/api/items", order="key")
        assert [i["key"] for i in by_key["items"]] == sorted(misses.promising + misses.broader)
        fresh = await get(http, "/api/url", bucket=misses.source, key="miss/m45.jpg")
        assert f"/{misses.source}/miss/m45.jpg?" in fresh["url"]
        async with http.get(
            "/api/url", params={"bucket": misses.source, "key": "miss/m10.jpg"}
        ) as r:
            assert r.status == 404  # a hopeless miss is not in this review


async def test_accept_copies_a_miss_beside_the_hits_reject_to_rejected_and_undo_removes_both(
    s3: Any, moto: MotoServer, misses: Misses
) -> None:
    accepted, rejected = "miss/m45.jpg", "miss/m30.jpg"
    before = await source_state(s3, misses.source)
    async with (
        open_review(misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        answer = await decide(http, misses.source, (accepted, "accept"), (rejected, "reject"))
        assert [r["verdict"] for r in answer["results"]] == ["accepted", "rejected"]
        assert (answer["done"], answer["left"]) == (2, 5)
        assert await review.applier.apply_pending() == 0
        dest = sorted(await list_keys(s3, misses.dest))
        assert f"Robin/{accepted}" in dest
        assert f"_rejected/Robin/{rejected}" in dest
        assert not [k for k in dest if k.endswith(accepted) and k != f"Robin/{accepted}"]
        assert await source_state(s3, misses.source) == before
        rows = ledger_rows(misses.state)
        hit = rows[accepted]
        assert (hit["outcome"], hit["verdict"], hit["dest_bucket"], hit["dest_key"]) == (
            "hit", "accepted", misses.dest, f"Robin/{accepted}"
        )  # fmt: skip
        assert (hit["copied"], hit["folder"], hit["match_confidence"]) == (1, "Robin", 45.5)
        assert hit["verdict_at"] is not None
        no = rows[rejected]
        assert (no["outcome"], no["verdict"], no["dest_key"], no["copied"]) == (
            "miss", "rejected", f"_rejected/Robin/{rejected}", 1
        )  # fmt: skip
        with sqlite3.connect(misses.state) as db:
            copies = db.execute(
                "SELECT key, dest_key, outcome FROM copies WHERE key LIKE 'miss/%'"
            ).fetchall()
        assert sorted(copies) == [
            (rejected, f"_rejected/Robin/{rejected}", "miss"),
            (accepted, f"Robin/{accepted}", "hit"),
        ]
        # decided misses stay in the band (counted done) and leave the pending pages
        pending = await get(http, "/api/items", order="confidence")
        assert [i["key"] for i in pending["items"]] == [
            "miss/m52.jpg", "miss/m40-parent.jpg", "miss/m35-alias.jpg", *misses.broader
        ]  # fmt: skip

        await decide(http, misses.source, (accepted, "revert"), (rejected, "revert"))
        assert await review.applier.apply_pending() == 0
    dest = await list_keys(s3, misses.dest)
    assert not [k for k in dest if k.endswith((accepted, rejected))]
    assert await source_state(s3, misses.source) == before
    rows = ledger_rows(misses.state)
    for key in (accepted, rejected):
        row = rows[key]
        assert (row["outcome"], row["verdict"], row["dest_key"], row["copied"]) == (
            "miss", None, None, 0
        )  # fmt: skip
    with sqlite3.connect(misses.state) as db:
        assert db.execute("SELECT count(*) FROM copies WHERE key LIKE 'miss/%'").fetchone() == (0,)
        events = db.execute("SELECT key, decision FROM review_events ORDER BY seq").fetchall()
    assert events == [
        (accepted, "accept"), (rejected, "reject"), (accepted, "revert"), (rejected, "revert")
    ]  # fmt: skip


async def test_a_miss_move_interrupted_at_any_step_is_finished_on_restart_and_the_source_kept(
    s3: Any, moto: MotoServer, misses: Misses
) -> None:
    from asyncfilter import S3Copier

    class Crash(Exception):
        pass

    class CrashingCopier:
        """Copies and deletes for real, then dies once, after the first copy or delete."""

        def __init__(self, after: str) -> None:
            self._real, self._after = S3Copier(s3), after
            self.deleted: list[str] = []

        async def copy(self, obj: Any, bucket: str, key: str) -> None:
            await self._real.copy(obj, bucket, key)
            if self._after == "copy":
                raise Crash

        async def put(self, bucket: str, key: str, body: bytes) -> None:
            raise AssertionError("not used")

        async def delete(self, bucket: str, key: str) -> None:
            assert bucket != misses.source  # never the source
            await self._real.delete(bucket, key)
            if self._after == "delete":
                raise Crash

    key = "miss/m52.jpg"
    before = await source_state(s3, misses.source)
    steps = [("accept", "copy", "copying", [f"Robin/{key}"]), ("revert", "delete", "copied", [])]
    for decision, crash_after, recorded, finally_there in steps:
        async with open_review(
            misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url, serve=False,
            copier=CrashingCopier(crash_after),
        ) as review:  # fmt: skip
            await review.store.decide([Decision(uuid.uuid4().hex, misses.source, key, decision)])
            with pytest.raises(Crash):
                await review.applier.apply_pending()
        with sqlite3.connect(misses.state) as db:
            step = db.execute("SELECT step FROM review_state WHERE key = ?", (key,)).fetchone()
        assert step == (recorded,)
        async with open_review(
            misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url, serve=False,
            copier=CrashingCopier("never"),
        ) as again:  # fmt: skip
            assert len(await again.store.moves()) == 1
            await again.applier.apply_pending()
            assert await again.store.moves() == []
        assert [k for k in await list_keys(s3, misses.dest) if k.endswith(key)] == finally_there
        assert await source_state(s3, misses.source) == before
    assert ledger_rows(misses.state)[key]["outcome"] == "miss"


async def test_a_later_sweep_counts_an_accepted_miss_as_a_hit_and_copies_nothing_again(
    s3: Any, moto: MotoServer, emulator: Any, misses: Misses, config_for: Any
) -> None:
    async with open_review(
        misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url, serve=False
    ) as review:
        await review.store.decide([Decision("a", misses.source, "miss/m52.jpg", "accept")])
        await review.applier.apply_pending()
    before = sorted(await list_keys(s3, misses.dest))
    config = config_for(
        threshold=80, review_threshold=60, miss_floor=MISS_FLOOR, state=str(misses.state),
        preflight=False,
    )  # fmt: skip
    report = await scan(config)
    assert report.stats.paid_calls == 0
    assert (report.stats.hits, report.stats.review, report.stats.misses) == (3, 2, 9)
    after = [k for k in await list_keys(s3, misses.dest) if not k.endswith(".manifest")]
    assert sorted(after) == [k for k in before if not k.endswith(".manifest")]
    out = misses.state.parent / "out"
    await export(
        misses.state, ["gt-verification"], str(out), s3_endpoint_url=moto.endpoint_url
    )  # fmt: skip
    lines = (out / "verification.manifest").read_text().splitlines()
    assert [json.loads(line)["source-ref"] for line in lines] == [
        f"s3://{misses.dest}/Robin/miss/m52.jpg"
    ]


async def test_without_a_miss_floor_only_broader_labels_are_found_and_the_page_says_why(
    s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any, tmp_path: Path,
    moto: MotoServer,
) -> None:  # fmt: skip
    plain = await make_misses(s3, emulator, buckets, config_for, tmp_path, miss_floor=None)
    async with open_review(
        plain.state, outcome="miss", s3_endpoint_url=moto.endpoint_url, serve=False
    ) as review:
        assert review.store.total == 2  # a bird, but no robin: seen at the band's edge
        assert review.store.note is not None
        assert "asked at MinConfidence 60" in review.store.note
        assert "--miss-floor" in review.store.note
        assert "then 2 with only Bird" in review.store.note
    # a sweep with the floor pays once more for what it cannot know; a third pays nothing
    again = await scan(
        config_for(threshold=80, review_threshold=60, miss_floor=MISS_FLOOR,
                   state=str(plain.state), preflight=False)
    )  # fmt: skip
    assert again.stats.paid_calls == 14
    assert (again.stats.hits, again.stats.review, again.stats.misses) == (2, 2, 10)
    third = await scan(
        config_for(threshold=80, review_threshold=60, state=str(plain.state), preflight=False)
    )
    assert third.stats.paid_calls == 0
    assert (third.stats.hits, third.stats.review, third.stats.misses) == (2, 2, 10)
    async with open_review(
        plain.state, outcome="miss", s3_endpoint_url=moto.endpoint_url, serve=False
    ) as review:
        assert review.store.total == 7


def test_the_miss_floor_lowers_what_is_asked_not_what_matches() -> None:
    base = {"source": "s3://scraped", "dest": "s3://training", "labels": ("Robin",)}
    config = ScanConfig(**base, threshold=80, review_threshold=60, miss_floor=25)
    assert (config.min_confidence, config.match_floor) == (25, 60)
    assert ScanConfig(**base, threshold=80, miss_floor=40).min_confidence == 40
    assert ScanConfig(**base, threshold=80).min_confidence == 80
    assert "miss_floor" not in config.identity  # the same sweep, with or without it
    for bad in (60, 70, -1, True, "30"):
        with pytest.raises(ConfigError, match="miss floor"):
            ScanConfig(**base, threshold=80, review_threshold=60, miss_floor=bad)


async def test_the_command_offers_the_miss_band_and_scan_the_floor(
    moto: MotoServer, emulator: Any, s3: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    await seed(s3, source, {k: robin_picture(n) for n, k in enumerate(PROMISING)})
    await anyio.to_thread.run_sync(emulator.add_labels, labels_entries(source, PROMISING))
    state = tmp_path / "cli.sqlite"
    scanned = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", "scan", f"s3://{source}", "--dest", f"s3://{dest}",
         "--label", "Robin", "--review-threshold", "60", "--miss-floor", "25", "--state",
         str(state), "--s3-endpoint-url", moto.endpoint_url, "--rekognition-endpoint-url",
         emulator.endpoint_url, "--json"],
        check=False,
    )  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr.decode()
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT DISTINCT min_confidence FROM objects").fetchall() == [(25.0,)]
    helped = await anyio.run_process([sys.executable, "-m", "asyncfilter", "review", "--help"])
    assert "[review|hit|miss]" in helped.stdout.decode()
    bad = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", "scan", f"s3://{source}", "--dest", f"s3://{dest}",
         "--label", "Robin", "--miss-floor", "90", "--no-state"],
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "miss floor" in bad.stderr.decode()


def test_a_wanted_label_spelled_outside_ascii_is_still_found_in_a_stored_answer() -> None:
    import zlib

    from asyncfilter.review._misses import Sweep, _best

    description = json.dumps(
        {"source": "s3://scraped/birds/", "dest": "s3://training", "labels": ["pájaro"],
         "threshold": 80, "name": "Pajaro"}
    )  # fmt: skip
    sweep = Sweep.parse(description)
    assert sweep is not None
    answer = {"Labels": [{"Name": "Pájaro", "Confidence": 41.0}, {"Name": "Sky", "Confidence": 90}]}
    blob = zlib.compress(json.dumps(answer).encode())  # stored as the ledger does: \\u escapes
    row = _best([sweep], "scraped", "birds/a.jpg", blob)
    assert row is not None
    assert (row[2], row[5], row[6]) == ("Pajaro", "Pájaro", 41.0)
    assert _best([sweep], "scraped", "elsewhere/a.jpg", blob) is None  # not the sweep's source
    assert Sweep.parse("not json") is None
    assert Sweep.parse('{"labels": ["x"]}') is None


async def test_the_command_says_what_the_miss_band_shows_and_serves_it(
    moto: MotoServer, misses: Misses
) -> None:
    command = [sys.executable, "-m", "asyncfilter", "review", "--state", str(misses.state),
               "--outcome", "miss", "--s3-endpoint-url", moto.endpoint_url]  # fmt: skip
    async with await anyio.open_process(command) as proc:
        assert proc.stdout is not None
        buffer = b""
        async for chunk in proc.stdout:
            buffer += chunk
            if b"\nopen " in buffer or buffer.startswith(b"open "):
                break
        proc.terminate()
        await proc.wait()
    lines = buffer.decode().splitlines()
    assert lines[0].startswith("reviewing 7 images (0 done) of Robin in ")
    assert lines[1].startswith("5 misses whose answer holds a wanted label below the band")
    assert any(line.startswith("open http://127.0.0.1:") for line in lines)


async def test_an_accepted_miss_hashed_by_dupes_shows_its_near_copies_in_the_miss_band(
    moto: MotoServer, misses: Misses
) -> None:
    found = ["miss/m52.jpg", "miss/m45.jpg"]
    async with open_review(
        misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url, serve=False
    ) as review:
        await review.store.decide([Decision(f"a{k}", misses.source, k, "accept") for k in found])
        await review.applier.apply_pending()
    # every test picture is one drawing: the accepted misses, the band and the hits are alike
    report = await find_near_duplicates(
        misses.state, s3_endpoint_url=moto.endpoint_url, confirm=lambda estimate: True
    )
    assert [len(group.images) for group in report.groups] == [6]
    async with (
        open_review(misses.state, outcome="miss", s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        items = (await get(http, "/api/items", order="confidence", pending="0"))["items"]
        first = items[0]
        assert (first["key"], first["group_size"]) == (found[0], 6)
        members = (await get(http, "/api/group", id=str(first["group"])))["members"]
        in_band = sorted(m["key"] for m in members if m["in_band"])
        assert in_band == sorted(found)  # the band's own; the hits and review copies are not
        assert sorted(m["outcome"] for m in members if not m["in_band"]) == [
            "hit", "hit", "review", "review"
        ]  # fmt: skip
