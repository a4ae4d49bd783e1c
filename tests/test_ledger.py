"""Never pay twice: the ledger, resume, the response cache, budget, plan and export."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from helpers import admin, jpeg, labels_entries, list_keys, robin, seed, seed_robins

from asyncfilter import StopReason, scan
from asyncfilter._ledger import SCHEMA_VERSION, Ledger, LedgerError
from asyncfilter._plan import plan
from asyncfilter.testing import EmulatorProcess, MotoServer, make_image

BIRDISH = [
    {"Name": "Songbird", "Confidence": 91.0, "Parents": [{"Name": "Bird"}]},
    {"Name": "Branch", "Confidence": 70.0},
]


async def test_another_label_or_a_higher_threshold_makes_no_paid_call(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    robins = await seed_robins(s3, emulator, buckets[0], 30, every=3, others=BIRDISH)
    state = str(tmp_path / "ledger.sqlite")
    first = await scan(config_for(state=state, threshold=60))
    assert first.stats.paid_calls == 30
    assert first.stats.hits == len(robins)
    calls = (await admin(emulator.stats))["calls"]

    # "bird" now matches robins and songbirds through their parents: all from stored answers
    again = await scan(config_for(state=state, labels=("bird",), threshold=85, name="birds"))
    assert (await admin(emulator.stats))["calls"] == calls
    assert again.stats.paid_calls == 0
    assert again.stats.cached == 30
    assert again.stats.hits == 30
    assert again.stats.saved_usd == pytest.approx(0.03)
    assert len(await list_keys(s3, buckets[1], "birds/")) == 30

    # a lower threshold than the stored MinConfidence cannot be answered from the ledger
    lower = await scan(config_for(state=state, threshold=50, name="low"))
    assert lower.stats.paid_calls == 30


async def test_changed_object_is_paid_for_again(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 12, every=3, others=BIRDISH)
    state = str(tmp_path / "ledger.sqlite")
    await scan(config_for(state=state))
    await s3.put_object(Bucket=buckets[0], Key="0004.jpg", Body=make_image(100, 90))
    await admin(emulator.reset)
    report = await scan(config_for(state=state))
    stats = await admin(emulator.stats)
    assert stats["calls_by_object"] == {f"{buckets[0]}/0004.jpg": 1}
    assert report.stats.paid_calls == 1


async def test_hits_already_copied_are_not_copied_again_and_target_spans_runs(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 60, every=3, others=BIRDISH)
    state = str(tmp_path / "ledger.sqlite")
    first = await scan(config_for(state=state, target=4, concurrency=1))
    assert first.stats.hits == 4
    gone = (await list_keys(s3, buckets[1]))[0]
    await s3.delete_object(Bucket=buckets[1], Key=gone)  # a copy we already made
    second = await scan(config_for(state=state, target=7, concurrency=1))
    assert second.stop_reason is StopReason.TARGET
    copied = await list_keys(s3, buckets[1])
    # 4 hits from the first run count again for free (and are not copied again), 3 are new
    assert len(copied) == 6
    assert gone not in copied
    assert second.stats.hits == 7
    assert second.stats.paid_calls == second.stats.calls_started


async def test_scan_cap_and_budget_hold_across_runs(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 40, every=3, others=BIRDISH)
    state = str(tmp_path / "ledger.sqlite")
    first = await scan(config_for(state=state, max_scan=10))
    assert first.stop_reason is StopReason.MAX_SCAN
    second = await scan(config_for(state=state, max_scan=15))
    assert second.stats.paid_calls == 5
    assert (await admin(emulator.stats))["answered"] == 15
    budget = await scan(config_for(state=state, budget_usd=0.018))
    assert budget.stop_reason is StopReason.BUDGET
    assert budget.stats.paid_calls == 3  # $0.018 pays for 18 images, 15 were paid already


async def test_plan_counts_and_pays_nothing(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 20, every=3, others=BIRDISH)
    await seed(s3, buckets[0], {"notes.txt": b"x"})
    state = str(tmp_path / "ledger.sqlite")
    first = await scan(config_for(state=state, max_scan=8))
    await admin(emulator.reset)
    forecast = await plan(config_for(state=state, max_scan=14, tps=4.0))
    assert (await admin(emulator.stats))["calls"] == 0
    # (on a loaded machine a call of the first run may have failed for a moment: it is then
    # not answered, and the plan counts it to send)
    with sqlite3.connect(state) as db:
        (answered,) = db.execute(
            "SELECT count(*) FROM objects WHERE response IS NOT NULL"
        ).fetchone()
    assert answered == first.stats.paid_calls
    assert first.stats.calls_started == 8
    assert forecast.listed == 21
    assert forecast.skipped_by_reason == {"unsupported_type": 1}
    assert forecast.answered_by_ledger == answered
    assert forecast.to_send == 20 - answered
    assert forecast.prior_paid_calls == answered
    assert forecast.would_send == 14 - answered
    assert forecast.estimated_cost_usd == pytest.approx(0.001 * (14 - answered))
    assert forecast.estimated_seconds == pytest.approx((14 - answered) / 4.0)


async def test_corrupt_and_foreign_ledgers_are_refused_and_left_untouched(
    config_for: Any, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xde\xad" * 2000)
    before = corrupt.read_bytes()
    with pytest.raises(LedgerError, match="corrupt or not a database"):
        await scan(config_for(state=str(corrupt)))
    assert corrupt.read_bytes() == before

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE photos (id INTEGER)")
    before = foreign.read_bytes()
    with pytest.raises(LedgerError, match="is not an asyncfilter ledger"):
        await scan(config_for(state=str(foreign)))
    assert foreign.read_bytes() == before


def downgrade_to_version_4(db: sqlite3.Connection) -> None:
    """Turn a ledger of today's schema into what version 4 wrote (before the review page)."""
    db.execute("DROP TABLE review_events")
    db.execute("DROP TABLE review_state")
    db.execute("DROP INDEX objects_by_confidence")
    db.execute("PRAGMA user_version = 4")


def downgrade_to_version_2(db: sqlite3.Connection) -> None:
    """Turn a ledger of today's schema into what version 2 wrote."""
    downgrade_to_version_4(db)
    db.execute("DROP TABLE image_hashes")  # (version 4)
    db.execute("DROP TABLE copies")
    db.execute("DROP TABLE meta")
    for column in ("retryable", "detector", "verdict", "verdict_at"):
        db.execute(f"ALTER TABLE objects DROP COLUMN {column}")
    db.execute("PRAGMA user_version = 2")


async def test_a_version_2_ledger_keeps_its_copies_and_a_new_destination_gets_its_own(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    robins = await seed_robins(s3, emulator, buckets[0], 9, every=3, others=BIRDISH)
    state = tmp_path / "ledger.sqlite"
    await scan(config_for(state=str(state)))
    with sqlite3.connect(state) as db:
        downgrade_to_version_2(db)
    await admin(emulator.reset)
    again = await scan(config_for(state=str(state)))
    assert again.stats.paid_calls == 0
    assert again.stats.hits == len(robins)
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        copies = db.execute("SELECT count(*) FROM copies").fetchone()[0]
    assert copies == len(robins)  # the copies version 2 knew were carried over


async def test_a_version_1_ledger_is_migrated_and_its_answers_still_count(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 6, every=3, others=BIRDISH)
    state = tmp_path / "ledger.sqlite"
    await scan(config_for(state=str(state)))
    with sqlite3.connect(state) as db:  # what the first release wrote
        downgrade_to_version_2(db)
        for column in ("match_instances", "folder", "image_width", "image_height", "image_depth"):
            db.execute(f"ALTER TABLE objects DROP COLUMN {column}")
        db.execute("PRAGMA user_version = 1")
    await admin(emulator.reset)
    report = await scan(config_for(state=str(state)))
    assert report.stats.paid_calls == 0
    assert report.stats.cached == 6
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with sqlite3.connect(state) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(LedgerError, match="schema version 99"):
        await scan(config_for(state=str(state)))


async def test_a_second_sweep_on_the_same_ledger_is_refused(
    config_for: Any, tmp_path: Path
) -> None:
    state = tmp_path / "ledger.sqlite"
    held = await Ledger.open(state)
    try:
        with pytest.raises(LedgerError, match="in use by another asyncfilter sweep"):
            await scan(config_for(state=str(state)))
    finally:
        await held.aclose()


async def test_export_writes_every_object_with_its_response(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 6, every=3, others=BIRDISH)
    state = tmp_path / "ledger.sqlite"
    await scan(config_for(state=str(state)))
    proc = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", "export", "--state", str(state)], check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 6
    assert {r["outcome"] for r in rows} == {"hit", "miss"}
    assert all(r["response"]["Labels"] for r in rows)
    assert all(r["copied"] for r in rows if r["outcome"] == "hit")


async def test_kill_9_mid_sweep_then_resume_pays_each_decided_object_once(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    keys = [f"{i:04d}.jpg" for i in range(160)]
    robins = {k for i, k in enumerate(keys) if i % 4 == 0}
    await seed(s3, source, {k: jpeg(k) for k in keys})
    await admin(
        emulator.add_labels,
        labels_entries(source, {k: [robin()] if k in robins else [] for k in keys}),
    )
    await admin(emulator.configure, latency_ms=60, jitter_ms=20)
    state = tmp_path / "ledger.sqlite"
    env = dict(os.environ)
    env["AWS_ENDPOINT_URL_S3"] = moto.endpoint_url
    env["AWS_ENDPOINT_URL_REKOGNITION"] = emulator.endpoint_url
    command = [sys.executable, "-m", "asyncfilter", "scan", f"s3://{source}",
               "--dest", f"s3://{dest}", "--label", "robin", "--state", str(state),
               "--concurrency", "8", "--tps", "100", "--json"]  # fmt: skip

    def kill_midway() -> None:
        with subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            deadline = time.monotonic() + 60
            while emulator.stats()["answered"] < 50:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()

    await anyio.to_thread.run_sync(kill_midway)
    with sqlite3.connect(state) as db:
        recorded = {k for (k,) in db.execute("SELECT key FROM objects")}
    assert 0 < len(recorded) < len(keys)
    answered_before = dict((await admin(emulator.stats))["answered_by_object"])

    done = await anyio.run_process(command, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    summary = orjson.loads(done.stdout)
    answered = (await admin(emulator.stats))["answered_by_object"]
    twice = {name for name, n in answered.items() if n > 1}
    # nothing the ledger had recorded was paid for again: only calls answered before the kill
    # and not yet committed (the writer's last batch), or in flight at the kill (at most one
    # per worker, 8), were repeated, and none more than once
    recorded_names = {f"{source}/{k}" for k in recorded}
    assert not recorded_names & twice
    assert max(answered.values()) <= 2
    assert len(twice - (set(answered_before) - recorded_names)) <= 8
    assert set(answered_before) | set(answered) == {f"{source}/{k}" for k in keys}
    assert summary["cached"] == len(recorded)
    assert summary["paid_calls"] == len(keys) - len(recorded)
    # no hit lost: every robin ended in the destination
    assert set(await list_keys(s3, dest)) == {f"robin/{k}" for k in robins}


async def test_plan_command_prints_the_forecast_as_json(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 9, every=3, others=BIRDISH)
    env = dict(os.environ)
    env["AWS_ENDPOINT_URL_S3"] = moto.endpoint_url
    proc = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", "plan", f"s3://{buckets[0]}",
         "--dest", f"s3://{buckets[1]}", "--label", "robin", "--json", "--tps", "3",
         "--state", str(tmp_path / "l.sqlite")],
        env=env,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    forecast = orjson.loads(proc.stdout)
    assert forecast["to_send"] == 9
    assert forecast["estimated_cost_usd"] == pytest.approx(0.009)
    assert forecast["estimated_seconds"] == pytest.approx(3.0)
    assert (await admin(emulator.stats))["calls"] == 0
