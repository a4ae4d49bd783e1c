"""Near-copies over HTTP: a sweep copies real photographs and their edits (moto, the emulator),
then `dupes` reads each copy once, groups them, and exports keep one image per group."""

from __future__ import annotations

import itertools
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from helpers import labels_entries, robin, seed

from asyncfilter import (
    ConfigError,
    ReadEstimate,
    export,
    find_near_duplicates,
    scan,
)
from asyncfilter._ledger import SCHEMA_VERSION, Ledger
from asyncfilter.cli import main
from asyncfilter.testing import EmulatorProcess, MotoServer
from asyncfilter.testing._photos import Photo, near_copy_set

#: The copy an export keeps of each group: the most confident.
BEST = "q35"


@cache
def photos() -> tuple[Photo, ...]:
    return tuple(near_copy_set())


def confidence(key: str) -> float:
    return 99.0 if f"/{BEST}." in key else 90.0


@pytest.fixture
async def swept(
    s3: Any,
    moto: MotoServer,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> tuple[str, str]:
    """A ledger where every photograph of the set was a hit, copied to DEST/Robin/<key>."""
    source, dest = buckets
    await seed(s3, source, {p.key: p.data for p in photos()})
    entries = labels_entries(source, {p.key: [robin(confidence(p.key))] for p in photos()})
    await anyio.to_thread.run_sync(emulator.add_labels, entries)
    state = str(tmp_path / "ledger.sqlite")
    report = await scan(config_for(state=state))
    assert report.stats.hits == len(photos())
    return state, dest


def pairs(groups: list[set[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


async def test_copies_are_read_once_and_grouped_by_picture(
    swept: tuple[str, str], moto: MotoServer
) -> None:
    state, dest = swept
    # declined: nothing read, nothing stored
    declined = await find_near_duplicates(
        state, confirm=lambda e: False, s3_endpoint_url=moto.endpoint_url
    )
    assert declined.declined
    assert (declined.hashed, declined.to_read.images) == (0, len(photos()))
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM image_hashes").fetchone() == (0,)

    estimates: list[ReadEstimate] = []

    def confirm(estimate: ReadEstimate) -> bool:
        estimates.append(estimate)
        return True

    report = await find_near_duplicates(state, confirm=confirm, s3_endpoint_url=moto.endpoint_url)
    # it said beforehand: every copy, and the bytes of every copy (a copy has its source's size)
    assert estimates == [ReadEstimate(len(photos()), sum(len(p.data) for p in photos()))]
    assert report.hashed == report.images == len(photos())
    assert report.unreadable == {}
    found = [{u.removeprefix(f"s3://{dest}/Robin/") for u in g.images} for g in report.groups]
    truth: dict[str, set[str]] = {}
    for p in photos():
        truth.setdefault(p.picture, set()).add(p.key)
    expected = [keys for keys in truth.values() if len(keys) > 1]
    # precision and recall of the grouping, pair by pair, are both 1
    assert pairs(found) == pairs(expected)
    assert len(report.groups) == 6
    assert {len(g.images) for g in report.groups} == {10}
    assert all(f"/{BEST}." in g.images[0] for g in report.groups)  # the one to keep first

    # the groups are in the ledger, one id per group, every image grouped
    ledger = await Ledger.open(state)
    try:
        stored = await ledger.image_groups()
    finally:
        await ledger.aclose()
    assert len(stored) == len(photos())
    for group in report.groups:
        ids = {stored[dest, u.removeprefix(f"s3://{dest}/")] for u in group.images}
        assert ids == {group.id}
    assert len(set(stored.values())) == len(truth)

    # hashed once: a second run reads nothing and finds the same groups at any distance asked
    again = await find_near_duplicates(
        state, confirm=lambda e: pytest.fail(f"asked to read {e}"), s3_endpoint_url="http://x"
    )
    assert (again.hashed, again.to_read) == (0, ReadEstimate(0, 0))
    assert again.groups == report.groups
    tight = await find_near_duplicates(state, distance=0)
    assert tight.hashed == 0
    assert tight.grouped_images < report.grouped_images


async def test_a_copy_gone_or_not_an_image_is_reported_and_left_out(
    swept: tuple[str, str], moto: MotoServer, s3: Any
) -> None:
    state, dest = swept
    first = await find_near_duplicates(state, s3_endpoint_url=moto.endpoint_url)
    assert first.hashed == len(photos())
    # a later sweep recorded other versions of two sources; one copy is gone, one is no image
    with sqlite3.connect(state) as db:
        db.execute(
            "UPDATE objects SET etag = 'another' WHERE key IN (?, ?)",
            ("chelsea/mirror.jpg", "others/moon.jpg"),
        )
    await s3.delete_object(Bucket=dest, Key="Robin/chelsea/mirror.jpg")
    await s3.put_object(Bucket=dest, Key="Robin/others/moon.jpg", Body=b"<html>oops</html>")
    report = await find_near_duplicates(state, s3_endpoint_url=moto.endpoint_url)
    gone, broken = f"s3://{dest}/Robin/chelsea/mirror.jpg", f"s3://{dest}/Robin/others/moon.jpg"
    assert report.to_read.images == 2
    assert set(report.unreadable) == {gone, broken}
    assert "NoSuchKey" in report.unreadable[gone]
    assert "not an image" in report.unreadable[broken]
    assert report.hashed == 0
    chelsea = next(g for g in report.groups if "chelsea" in g.images[0])
    assert len(chelsea.images) == 9
    assert gone not in chelsea.images
    ledger = await Ledger.open(state)
    try:
        stored = await ledger.image_groups()
    finally:
        await ledger.aclose()
    # their old groups are not kept for versions never hashed
    assert (dest, "Robin/chelsea/mirror.jpg") not in stored
    assert (dest, "Robin/others/moon.jpg") not in stored
    assert len(stored) == len(photos()) - 2


async def test_exports_keep_one_image_per_group_or_all_with_their_group(
    swept: tuple[str, str], moto: MotoServer, tmp_path: Path
) -> None:
    state, _ = swept
    with pytest.raises(ConfigError, match="run `asyncfilter dupes`"):
        await export(state, ["gt-classification"], str(tmp_path / "x"), one_per_group=True)
    report = await find_near_duplicates(state, s3_endpoint_url=moto.endpoint_url)

    one = await export(state, ["gt-classification"], str(tmp_path / "one"), one_per_group=True)
    manifest = await anyio.Path(one.formats["gt-classification"].files[0]).read_bytes()
    lines = [orjson.loads(line) for line in manifest.splitlines()]
    refs = {line["source-ref"] for line in lines}
    pictures = {p.picture for p in photos()}
    assert len(refs) == len(pictures)  # one per group, singletons kept
    for group in report.groups:
        assert set(group.images) & refs == {group.images[0]}
        assert f"/{BEST}." in group.images[0]

    every = await export(state, ["labelstudio"], str(tmp_path / "all"), outcomes=["hit"])
    tasks = orjson.loads(await anyio.Path(every.formats["labelstudio"].files[0]).read_bytes())
    assert len(tasks) == len(photos())
    group_of = {t["data"]["image"]: t["data"]["group"] for t in tasks}
    for group in report.groups:
        assert {group_of[u] for u in group.images} == {group.id}
    assert len(set(group_of.values())) == len(pictures)


async def test_dupes_on_the_command_line(
    swept: tuple[str, str],
    moto: MotoServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    state, _ = swept
    base = ["dupes", "--state", state, "--s3-endpoint-url", moto.endpoint_url]

    def run(args: list[str]) -> int:
        with pytest.raises(SystemExit) as exited:
            main(args)
        return int(exited.value.code or 0)

    # no terminal to ask on: it says what it would read and refuses without --yes
    assert await anyio.to_thread.run_sync(run, base) == 2
    err = capsys.readouterr().err
    assert f"to read: {len(photos())} images not hashed yet" in err
    assert "pass --yes" in err
    assert await anyio.to_thread.run_sync(run, [*base, "--yes", "--json", "--name", "Robin"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert (out["images"], out["hashed"], out["groups"], out["largest"]) == (
        len(photos()), len(photos()), 6, 10
    )  # fmt: skip
    assert out["redundant_images"] == 6 * 9
    assert await anyio.to_thread.run_sync(run, base) == 0  # nothing to read: nothing to ask
    text = capsys.readouterr().out
    assert "groups of near-copies 6 holding 60 images" in text
    assert await anyio.to_thread.run_sync(run, [*base, "--distance", "99"]) == 2

    # and the export keeps one image per group
    exported = ["export", "--state", state, "--one-per-group", "--json"]
    to = str(tmp_path / "one")
    assert (
        await anyio.to_thread.run_sync(
            run, [*exported, "--format", "gt-classification", "--to", to]
        )
        == 0
    )
    written = orjson.loads(capsys.readouterr().out)
    assert written["formats"]["gt-classification"]["images"] == len({p.picture for p in photos()})
    assert await anyio.to_thread.run_sync(run, exported) == 2  # (not the whole ledger)
    assert "--one-per-group applies to manifests" in capsys.readouterr().err


async def test_a_version_3_ledger_gains_the_hash_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    ledger = await Ledger.open(path)  # made at the current version, then set back to 3
    await ledger.aclose()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE review_events")  # (version 5)
        db.execute("DROP TABLE review_state")
        db.execute("DROP INDEX objects_by_confidence")
        db.execute("DROP TABLE image_hashes")  # (version 4)
        db.execute("PRAGMA user_version = 3")
    ledger = await Ledger.open(path)
    try:
        assert await ledger.image_groups() == {}
    finally:
        await ledger.aclose()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION == 5
