"""The review page's server, its store and its worker, over real HTTP against moto."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from helpers import list_keys
from review_helpers import Band, ledger_rows, make_band, placed

from asyncfilter import ConfigError, export, open_review, scan
from asyncfilter._ledger import SCHEMA_VERSION, Ledger
from asyncfilter.review._places import PlaceResolver
from asyncfilter.review._store import Decision, verdict_of
from asyncfilter.testing import MotoServer

pytestmark = pytest.mark.servers


@pytest.fixture
async def band(
    s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> Band:
    return await make_band(s3, emulator, buckets, config_for, tmp_path, count=30)


@asynccontextmanager
async def client(url: str, token: str | None) -> AsyncIterator[aiohttp.ClientSession]:
    base = url.split("?")[0]
    headers = {"X-Review-Token": token} if token else {}
    async with aiohttp.ClientSession(base_url=base, headers=headers) as session:
        yield session


def decision(key: str, what: str, id: str | None = None) -> dict[str, str]:
    return {"id": id or uuid.uuid4().hex, "bucket": "", "key": key, "decision": what}


async def decide(session: aiohttp.ClientSession, band: Band, *items: dict[str, str]) -> Any:
    body = {"decisions": [{**d, "bucket": band.source} for d in items]}
    async with session.post("/api/decisions", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_verdicts_land_in_s3_and_the_ledger_and_undo_puts_the_image_back(
    s3: Any, moto: MotoServer, band: Band
) -> None:
    first, second, third = band.keys[:3]
    async with (
        open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        answer = await decide(
            http, band, decision(first, "accept"), decision(second, "reject"),
            decision(third, "accept"), decision(third, "revert"),
        )  # fmt: skip
        verdicts = [r["verdict"] for r in answer["results"]]
        assert verdicts == ["accepted", "rejected", "accepted", None]
        assert (answer["done"], answer["left"]) == (2, 28)
        assert await review.applier.apply_pending() == 0
    where = await placed(s3, band)
    assert where[first] == ["Robin/"]
    assert where[second] == ["_rejected/Robin/"]
    assert where[third] == ["_review/Robin/"]
    assert all(where[k] == ["_review/Robin/"] for k in band.keys[3:])
    rows = ledger_rows(band.state)
    assert (rows[first]["outcome"], rows[first]["dest_key"], rows[first]["verdict"]) == (
        "hit", f"Robin/{first}", "accepted"
    )  # fmt: skip
    assert rows[first]["copied"] == 1
    assert rows[first]["verdict_at"] is not None
    assert (rows[second]["outcome"], rows[second]["dest_key"], rows[second]["verdict"]) == (
        "review", f"_rejected/Robin/{second}", "rejected"
    )  # fmt: skip
    assert (rows[third]["outcome"], rows[third]["dest_key"], rows[third]["verdict"]) == (
        "review", f"_review/Robin/{third}", None
    )  # fmt: skip
    with sqlite3.connect(band.state) as db:
        events = db.execute("SELECT key, decision FROM review_events ORDER BY seq").fetchall()
        copies = db.execute("SELECT key, dest_key, outcome FROM copies WHERE key IN (?, ?, ?)",
                            (first, second, third)).fetchall()  # fmt: skip
    assert events == [(first, "accept"), (second, "reject"), (third, "accept"), (third, "revert")]
    # the ledger's list of copies says where each image is, and only there
    assert sorted(copies) == sorted(
        [(first, f"Robin/{first}", "hit"), (second, f"_rejected/Robin/{second}", "review"),
         (third, f"_review/Robin/{third}", "review")]
    )  # fmt: skip


async def test_undo_after_the_move_brings_the_image_back_to_review_only(
    s3: Any, moto: MotoServer, band: Band
) -> None:
    key = band.keys[0]
    async with (
        open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        await decide(http, band, decision(key, "accept"))
        await review.applier.apply_pending()
        assert (await placed(s3, band))[key] == ["Robin/"]
        await decide(http, band, decision(key, "revert"))
        await review.applier.apply_pending()
    assert (await placed(s3, band))[key] == ["_review/Robin/"]
    row = ledger_rows(band.state)[key]
    assert (row["outcome"], row["dest_key"]) == ("review", f"_review/Robin/{key}")
    assert row["verdict"] is None


async def test_a_retried_decision_counts_once(moto: MotoServer, band: Band) -> None:
    key = band.keys[0]
    async with (
        open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        accept = decision(key, "accept", id="same-id")
        await decide(http, band, accept)
        await decide(http, band, decision(key, "revert"))
        again = await decide(http, band, accept)  # the first POST's retry, arriving late
        assert again["results"][0]["verdict"] is None
        assert again["done"] == 0
    with sqlite3.connect(band.state) as db:
        assert db.execute("SELECT count(*) FROM review_events").fetchone() == (2,)


async def test_every_api_request_without_the_token_is_refused(moto: MotoServer, band: Band) -> None:
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review:
        assert review.url is not None
        assert review.url.startswith("http://127.0.0.1:")
        for token in (None, "wrong"):
            async with client(review.url, token) as http:
                body = {"decisions": [decision(band.keys[0], "accept")]}
                async with http.post("/api/decisions", json=body) as response:
                    assert response.status == 403
                async with http.get("/api/items") as response:
                    assert response.status == 403
        async with client(review.url, None) as http, http.get("/") as page:
            assert page.status == 200
            text = await page.text()
            assert "app.js" in text
            assert "testing" not in text
    with sqlite3.connect(band.state) as db:
        assert db.execute("SELECT count(*) FROM review_events").fetchone() == (0,)


async def test_a_second_review_or_sweep_on_the_same_ledger_is_refused(
    moto: MotoServer, band: Band
) -> None:
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False):
        with pytest.raises(ConfigError, match="in use"):
            async with open_review(band.state, s3_endpoint_url=moto.endpoint_url):
                pass
        with pytest.raises(ConfigError, match="in use"):
            await Ledger.open(band.state)
    with pytest.raises(ConfigError, match="no ledger at"):
        async with open_review(band.state.with_name("nothing.sqlite")):
            pass
    assert not band.state.with_name("nothing.sqlite").exists()


async def test_pages_walk_the_band_once_in_key_and_confidence_order(
    moto: MotoServer, band: Band
) -> None:
    async with (
        open_review(band.state, s3_endpoint_url=moto.endpoint_url, page_size=7) as review,
        client(review.url or "", review.token) as http,
    ):
        for order in ("key", "confidence"):
            seen: list[dict[str, Any]] = []
            after = None
            while True:
                params = {"order": order, **({"after": after} if after else {})}
                async with http.get("/api/items", params=params) as response:
                    page = await response.json()
                seen += page["items"]
                if page["next"] is None:
                    break
                after = json.dumps(page["next"])
            keys = [item["key"] for item in seen]
            assert sorted(keys) == band.keys
            assert len(set(keys)) == len(keys)
            if order == "key":
                assert keys == band.keys
            else:
                confidences = [item["confidence"] for item in seen]
                assert confidences == sorted(confidences)
            first = seen[0]
            assert first["boxes"][0]["left"] == 0.1
            assert first["name"] == "Robin"
            assert "X-Amz-Signature=" in first["url"]
            assert "X-Amz-Expires=900" in first["url"]
        # decided images leave the pending pages
        await decide(http, band, decision(band.keys[0], "accept"))
        async with http.get("/api/items", params={"limit": "1"}) as response:
            assert [i["key"] for i in (await response.json())["items"]] == [band.keys[1]]


async def test_a_move_interrupted_at_any_step_is_finished_on_restart_with_one_copy(
    s3: Any, moto: MotoServer, band: Band
) -> None:
    keys = band.keys[:3]

    class Crash(Exception):
        pass

    class CrashingCopier:
        """Copies and deletes for real, but dies at a chosen point of the n-th move."""

        def __init__(self, s3: Any, crash_on: str, move: int) -> None:
            from asyncfilter import S3Copier

            self._real = S3Copier(s3)
            self._crash_on, self._move, self._seen = crash_on, move, 0

        async def copy(self, obj: Any, bucket: str, key: str) -> None:
            await self._real.copy(obj, bucket, key)
            if self._crash_on == "after-copy":
                self._seen += 1
                if self._seen == self._move:
                    raise Crash

        async def put(self, bucket: str, key: str, body: bytes) -> None:
            raise AssertionError("not used")

        async def delete(self, bucket: str, key: str) -> None:
            await self._real.delete(bucket, key)
            if self._crash_on == "after-delete":
                self._seen += 1
                if self._seen == self._move:
                    raise Crash

    for crash_on, key in zip(("after-copy", "after-delete"), keys, strict=False):
        async with open_review(
            band.state, s3_endpoint_url=moto.endpoint_url, serve=False,
            copier=CrashingCopier(s3, crash_on, 1),
        ) as review:  # fmt: skip
            await review.store.decide([Decision(uuid.uuid4().hex, band.source, key, "accept")])
            with pytest.raises(Crash):
                await review.applier.apply_pending()
        with sqlite3.connect(band.state) as db:
            step = db.execute("SELECT step FROM review_state WHERE key = ?", (key,)).fetchone()
        assert step == ({"after-copy": "copying", "after-delete": "copied"}[crash_on],)
        async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False) as rv:
            await rv.applier.apply_pending()
        assert (await placed(s3, band))[key] == ["Robin/"]
        assert ledger_rows(band.state)[key]["dest_key"] == f"Robin/{key}"
    assert len(await list_keys(s3, band.dest, "Robin/band/")) == 2


async def test_a_ledger_from_before_the_review_page_is_migrated_and_reviewed(
    moto: MotoServer, band: Band
) -> None:
    with sqlite3.connect(band.state) as db:
        db.execute("DROP TABLE review_events")
        db.execute("DROP TABLE review_state")
        db.execute("DROP INDEX objects_by_confidence")
        db.execute("PRAGMA user_version = 4")
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False) as review:
        assert (review.store.total, review.store.done) == (30, 0)
        await review.store.decide([Decision("d1", band.source, band.keys[0], "reject")])
        assert review.store.done == 1
    with sqlite3.connect(band.state) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_revert_walks_back_one_decision_at_a_time() -> None:
    assert verdict_of([]) is None
    assert verdict_of(["accept"]) == "accepted"
    assert verdict_of(["accept", "reject"]) == "rejected"
    assert verdict_of(["accept", "reject", "revert"]) == "accepted"
    assert verdict_of(["accept", "reject", "revert", "revert"]) is None
    assert verdict_of(["revert", "accept"]) == "accepted"


def test_the_hit_location_comes_from_the_ledgers_sweeps_or_dest() -> None:
    job = '{"dest": "s3://train/out/", "name": "Robin", "labels": ["Robin"]}'
    resolver = PlaceResolver.from_jobs([job, ""], ["Robin"], None)
    places = resolver.places(
        outcome="review", name="Robin", key="a/b.jpg", copy_bucket="train",
        copy_key="out/_review/Robin/a/b.jpg",
    )  # fmt: skip
    assert places.hit == ("train", "out/Robin/a/b.jpg")
    assert places.rejected == ("train", "out/_rejected/Robin/a/b.jpg")
    assert places.origin == ("train", "out/_review/Robin/a/b.jpg")
    spot = resolver.places(
        outcome="hit", name="Robin", key="k.jpg", copy_bucket="train", copy_key="out/Robin/k.jpg"
    )
    assert spot.hit == spot.origin
    assert spot.rejected == ("train", "out/_rejected/Robin/k.jpg")
    other = '{"dest": "s3://elsewhere", "name": "Robin"}'
    with pytest.raises(ConfigError, match=r"2 destinations.*--dest"):
        PlaceResolver.from_jobs([job, other], ["Robin"], None)
    with pytest.raises(ConfigError, match=r"no sweep that copied 'Owl'.*--dest"):
        PlaceResolver.from_jobs([job], ["Owl"], None)
    from asyncfilter import S3Location

    chosen = PlaceResolver.from_jobs([job, other], ["Robin"], S3Location.parse("s3://pick/x"))
    assert chosen.places(
        outcome="review", name="Robin", key="k", copy_bucket="q", copy_key="queue/Robin/k"
    ).hit == ("pick", "x/Robin/k")


async def test_exports_carry_the_verdicts(moto: MotoServer, band: Band, tmp_path: Path) -> None:
    accepted, rejected = band.keys[:3], band.keys[3:5]
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False) as review:
        await review.store.decide(
            [Decision(f"a{k}", band.source, k, "accept") for k in accepted]
            + [Decision(f"r{k}", band.source, k, "reject") for k in rejected]
        )
        await review.applier.apply_pending()
    out = tmp_path / "out"
    report = await export(
        band.state, ["gt-classification", "gt-verification", "labelstudio"], str(out),
        negatives=True, s3_endpoint_url=moto.endpoint_url,
    )  # fmt: skip
    lines = [json.loads(x) for x in (out / "classification.manifest").read_text().splitlines()]
    by_ref = {line["source-ref"]: line for line in lines}
    assert len(lines) == 2 + 3 + 2  # the sure hits, the accepted, the rejected as negatives
    for key in accepted:
        line = by_ref[f"s3://{band.dest}/Robin/{key}"]
        assert line["class-metadata"]["human-annotated"] == "yes"
        assert line["class-metadata"]["class-name"] == "Robin"
    for key in rejected:
        line = by_ref[f"s3://{band.dest}/_rejected/Robin/{key}"]
        assert line["class-metadata"]["class-name"] == "not-Robin"
        assert line["class-metadata"]["human-annotated"] == "yes"
        assert line["class"] == 1
    sure = [line for line in lines if "/Robin/sure/" in line["source-ref"]]
    assert [line["class-metadata"]["human-annotated"] for line in sure] == ["no", "no"]
    verification = [json.loads(x) for x in (out / "verification.manifest").read_text().splitlines()]
    by_verdict = {line["verify-class"]: line["source-ref"] for line in verification}
    assert "/_rejected/Robin/" in by_verdict["1"]
    assert len(verification) == 5
    assert sorted(line["verify-class"] for line in verification) == ["0", "0", "0", "1", "1"]
    assert all(
        line["verify-class-metadata"]["type"] == "groundtruth/label-verification"
        and line["verify-class-metadata"]["human-annotated"] == "yes"
        for line in verification
    )
    # the review band's task list no longer holds the judged images
    assert report.formats["labelstudio"].images == 25
    with pytest.raises(ConfigError, match="gt-classification"):
        await export(band.state, ["coco"], str(out), negatives=True)


async def test_the_command_refuses_a_ledger_in_use_in_one_line(
    moto: MotoServer, band: Band
) -> None:
    command = [sys.executable, "-m", "asyncfilter", "review", "--state", str(band.state),
               "--s3-endpoint-url", moto.endpoint_url, "--host", "0.0.0.0"]  # fmt: skip
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False):
        done = await anyio.run_process(command, check=False)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert "warning: serving on 0.0.0.0" in lines[0]
    assert lines[1].startswith("asyncfilter: error: ledger")
    assert "in use" in lines[1]
    assert len(lines) == 2


async def test_spot_checking_hits_keeps_the_accepted_and_moves_the_rejected_aside(
    s3: Any, moto: MotoServer, band: Band
) -> None:
    sure = ["sure/0000.jpg", "sure/0001.jpg"]
    async with open_review(
        band.state, outcome="hit", s3_endpoint_url=moto.endpoint_url, serve=False
    ) as review:
        assert review.store.total == 2
        await review.store.decide(
            [Decision("k", band.source, sure[0], "accept"),
             Decision("r", band.source, sure[1], "reject")]
        )  # fmt: skip
        await review.applier.apply_pending()
    keys = set(await list_keys(s3, band.dest))
    assert f"Robin/{sure[0]}" in keys
    assert f"Robin/{sure[1]}" not in keys
    assert f"_rejected/Robin/{sure[1]}" in keys
    rows = ledger_rows(band.state)
    assert (rows[sure[0]]["outcome"], rows[sure[0]]["verdict"]) == ("hit", "accepted")
    assert rows[sure[1]]["verdict"] == "rejected"


async def test_a_later_sweep_keeps_the_verdicts_and_copies_nothing_again(
    s3: Any, moto: MotoServer, emulator: Any, band: Band, config_for: Any
) -> None:
    accepted, rejected = band.keys[:4], band.keys[4:7]
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False) as review:
        await review.store.decide(
            [Decision(f"a{k}", band.source, k, "accept") for k in accepted]
            + [Decision(f"r{k}", band.source, k, "reject") for k in rejected]
        )
        await review.applier.apply_pending()
    before = sorted(await list_keys(s3, band.dest))
    report = await scan(
        config_for(review_threshold=60, state=str(band.state), concurrency=8, preflight=False)
    )
    assert report.stats.paid_calls == 0
    assert report.stats.hits == 2 + len(accepted)  # the accepted count as hits from now on
    assert report.stats.review == 30 - len(accepted) - len(rejected)
    after = [k for k in await list_keys(s3, band.dest) if not k.endswith(".manifest")]
    assert sorted(after) == [k for k in before if not k.endswith(".manifest")]
    where = await placed(s3, band)
    assert all(where[k] == ["Robin/"] for k in accepted)
    assert all(where[k] == ["_rejected/Robin/"] for k in rejected)
    rows = ledger_rows(band.state)
    assert all(rows[k]["verdict"] == "accepted" for k in accepted)
    assert all(rows[k]["verdict"] == "rejected" for k in rejected)
    # and the review page still counts them as decided
    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False) as again:
        assert (again.store.total, again.store.done) == (30, len(accepted) + len(rejected))


async def test_concurrent_requests_each_count_exactly_once(moto: MotoServer, band: Band) -> None:
    async with (
        open_review(band.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):

        async def send(part: list[str]) -> None:
            await decide(http, band, *[decision(k, "accept", id=f"id-{k}") for k in part])
            await decide(http, band, *[decision(k, "accept", id=f"id-{k}") for k in part])

        async with anyio.create_task_group() as tg:
            for start in range(0, 30, 3):
                tg.start_soon(send, band.keys[start : start + 3])
        assert (review.store.done, review.store.total) == (30, 30)
        await review.applier.apply_pending()
    with sqlite3.connect(band.state) as db:
        assert db.execute("SELECT count(*) FROM review_events").fetchone() == (30,)
    rows = ledger_rows(band.state)
    assert all(rows[k]["dest_key"] == f"Robin/{k}" for k in band.keys)


async def test_a_service_can_mount_the_page_under_a_prefix(moto: MotoServer, band: Band) -> None:
    from aiohttp import web

    from asyncfilter.testing import free_port

    async with open_review(band.state, s3_endpoint_url=moto.endpoint_url, serve=False) as review:
        assert review.url is None
        service = web.Application()
        service.add_subapp("/review/", review.app)
        runner = web.AppRunner(service)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with client(f"http://127.0.0.1:{port}", review.token) as http:
                async with http.get("/review/") as page:
                    assert page.status == 200
                    assert "app.js" in await page.text()
                async with http.get("/review/api/items", params={"limit": "2"}) as response:
                    assert [i["key"] for i in (await response.json())["items"]] == band.keys[:2]
                async with http.post("/review/api/decisions", json={}, headers={
                    "X-Review-Token": "wrong"}) as refused:  # fmt: skip
                    assert refused.status == 403
        finally:
            await runner.cleanup()


async def test_urls_are_signed_in_the_region_of_their_bucket_asked_once() -> None:
    from types import SimpleNamespace

    from asyncfilter.review._server import Signer

    class FakeS3:
        def __init__(self, region: str, regions: dict[str, str]) -> None:
            self.meta = SimpleNamespace(region_name=region)
            self._regions, self.heads = regions, []

        async def head_bucket(self, Bucket: str) -> dict[str, Any]:
            self.heads.append(Bucket)
            return {"BucketRegion": self._regions[Bucket]}

        async def generate_presigned_url(self, op: str, Params: Any, ExpiresIn: int) -> str:
            return f"{self.meta.region_name}:{Params['Bucket']}/{Params['Key']}"

    home = FakeS3("us-east-1", {"here": "us-east-1", "there": "eu-west-1"})
    opened: list[str] = []

    async def regional(region: str) -> FakeS3:
        opened.append(region)
        return FakeS3(region, {})

    signer = Signer(home, 60, regional)
    assert await signer.url("here", "a.jpg") == "us-east-1:here/a.jpg"
    assert await signer.url("there", "b.jpg") == "eu-west-1:there/b.jpg"
    assert await signer.url("there", "c.jpg") == "eu-west-1:there/c.jpg"
    assert home.heads == ["here", "there"]
    assert opened == ["eu-west-1"]
