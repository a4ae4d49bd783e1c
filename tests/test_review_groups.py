"""Near-copy groups on the review page, over real HTTP against moto: a real sweep, a real
``dupes`` run, then the page's API. A group decision is one ordinary event per image."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from review2_helpers import Grouped, client, get, make_grouped_band, placed_grouped
from review_helpers import ledger_rows

from asyncfilter import open_review
from asyncfilter.review._store import Decision
from asyncfilter.testing import MotoServer

pytestmark = pytest.mark.servers


@pytest.fixture
async def grouped(
    s3: Any, emulator: Any, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> Grouped:
    return await make_grouped_band(s3, emulator, buckets, config_for, tmp_path)


async def decide(http: aiohttp.ClientSession, source: str, keys: list[str], what: str) -> Any:
    """What the page sends for a group decision: one decision per member, in one request."""
    body = {
        "decisions": [
            {"id": uuid.uuid4().hex, "bucket": source, "key": key, "decision": what} for key in keys
        ]
    }
    async with http.post("/api/decisions", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_an_images_near_copies_are_listed_with_it_and_decided_together_and_undone_together(
    s3: Any, moto: MotoServer, grouped: Grouped
) -> None:
    async with (
        open_review(grouped.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        info = await get(http, "/api/info")
        assert info["groups"] == 1
        items = (await get(http, "/api/items", order="key"))["items"]
        by_key = {item["key"]: item for item in items}
        group_id = by_key[grouped.group[0]]["group"]
        assert group_id is not None
        assert [by_key[k]["group"] for k in grouped.group] == [group_id] * 3
        assert [by_key[k]["group_size"] for k in grouped.group] == [3, 3, 3]
        assert [by_key[k]["group"] for k in grouped.others] == [None, None, None]

        # the confidence order (the grid's) keeps a group together, where its least
        # confident member (61) would be: before camera (63), coins (70), moon (75)
        seen, after = [], None
        while True:
            cursor = {"after": json.dumps(after)} if after else {}
            page = await get(http, "/api/items", order="confidence", limit="2", **cursor)
            seen += [item["key"] for item in page["items"]]
            if (after := page["next"]) is None:
                break
        assert seen == grouped.group + grouped.others

        members = (await get(http, "/api/group", id=str(group_id)))["members"]
        assert [m["key"] for m in members] == grouped.group
        assert all(m["in_band"] and m["verdict"] is None for m in members)
        assert all(f"/_review/Robin/{m['key']}?" in m["url"] for m in members)

        answer = await decide(http, grouped.source, [m["key"] for m in members], "accept")
        assert [r["verdict"] for r in answer["results"]] == ["accepted"] * 3
        assert (answer["done"], answer["left"]) == (3, 3)
        await review.applier.apply_pending()
        where = await placed_grouped(s3, grouped)
        assert [where[k] for k in grouped.group] == [["Robin/"]] * 3
        assert [where[k] for k in grouped.others] == [["_review/Robin/"]] * 3
        rows = ledger_rows(grouped.state)
        assert [(rows[k]["verdict"], rows[k]["outcome"]) for k in grouped.group] == [
            ("accepted", "hit")
        ] * 3
        members = (await get(http, "/api/group", id=str(group_id)))["members"]
        assert [m["verdict"] for m in members] == ["accepted"] * 3
        # the moved copies are still signed where they are now
        assert all(f"/Robin/{m['key']}?" in m["url"] for m in members)

        answer = await decide(http, grouped.source, grouped.group, "revert")
        assert (answer["done"], answer["left"]) == (0, 6)
        await review.applier.apply_pending()
    where = await placed_grouped(s3, grouped)
    assert all(where[k] == ["_review/Robin/"] for k in grouped.group + grouped.others)
    rows = ledger_rows(grouped.state)
    assert all(rows[k]["verdict"] is None for k in grouped.group)
    with sqlite3.connect(grouped.state) as db:
        events = db.execute("SELECT key, decision FROM review_events ORDER BY seq").fetchall()
    assert events == [(k, "accept") for k in grouped.group] + [(k, "revert") for k in grouped.group]


async def test_a_group_is_still_found_after_its_copies_were_moved_by_a_verdict(
    moto: MotoServer, grouped: Grouped
) -> None:
    async with open_review(grouped.state, s3_endpoint_url=moto.endpoint_url, serve=False) as rv:
        await rv.store.decide(
            [Decision(f"r{k}", grouped.source, k, "reject") for k in grouped.group[:2]]
        )
        await rv.applier.apply_pending()
    async with (
        open_review(grouped.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        assert review.store.groups == 1
        pending = (await get(http, "/api/items"))["items"]
        last = next(item for item in pending if item["key"] == grouped.group[2])
        assert last["group_size"] == 3
        members = (await get(http, "/api/group", id=str(last["group"])))["members"]
        assert [m["verdict"] for m in members] == ["rejected", "rejected", None]
        assert "/_rejected/Robin/" in members[0]["url"]
        async with http.get("/api/group", params={"id": "x"}) as bad:
            assert bad.status == 400
        key_cursor = json.dumps([grouped.source, grouped.group[0]])  # of another order
        params = {"order": "confidence", "after": key_cursor}
        async with http.get("/api/items", params=params) as bad:
            assert bad.status == 400
        assert (await get(http, "/api/group", id="999999"))["members"] == []


async def test_a_ledger_without_groups_shows_none(moto: MotoServer, grouped: Grouped) -> None:
    with sqlite3.connect(grouped.state) as db:
        db.execute("UPDATE image_hashes SET group_id = NULL")
    async with (
        open_review(grouped.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        assert (await get(http, "/api/info"))["groups"] == 0
        items = (await get(http, "/api/items"))["items"]
        assert [item["group"] for item in items] == [None] * 6


async def test_a_member_outside_this_review_is_listed_but_not_in_the_band(
    moto: MotoServer, grouped: Grouped
) -> None:
    with sqlite3.connect(grouped.state) as db:  # as if the sweep had called it a hit
        db.execute("UPDATE objects SET outcome = 'hit' WHERE key = ?", (grouped.group[2],))
    async with (
        open_review(grouped.state, s3_endpoint_url=moto.endpoint_url) as review,
        client(review.url or "", review.token) as http,
    ):
        items = (await get(http, "/api/items"))["items"]
        first = next(item for item in items if item["key"] == grouped.group[0])
        assert grouped.group[2] not in [item["key"] for item in items]
        members = (await get(http, "/api/group", id=str(first["group"])))["members"]
        assert [(m["key"], m["in_band"], m["outcome"]) for m in members] == [
            (grouped.group[0], True, "review"),
            (grouped.group[1], True, "review"),
            (grouped.group[2], False, "hit"),
        ]
        # its thumbnail's URL, once expired, is renewed like the band's own
        fresh = await get(http, "/api/url", bucket=grouped.source, key=grouped.group[2])
        assert grouped.group[2] in fresh["url"]
