"""Systemic faults: a listing that fails for good, wrong S3 credentials, no permission to list,
and a source bucket in another region than Rekognition. Each is injected for real, on the wire,
by :class:`asyncfilter.testing.S3FaultProxy` in front of moto or by the emulator itself."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from helpers import admin, list_keys, seed_robins
from test_cli import cli_env, scan_argv

from asyncfilter import CredentialsError, ImageResult, SourceError, scan
from asyncfilter.testing import EmulatorProcess, MotoServer, S3FaultProxy, S3FaultSettings


async def test_listing_that_fails_for_good_stops_and_keeps_what_was_decided(
    s3: Any,
    moto: MotoServer,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> None:
    source, dest = buckets
    await seed_robins(s3, emulator, source, 40)
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(list_fail_after=1))
    results: list[ImageResult] = []
    ledger = tmp_path / "ledger.sqlite"
    async with proxy.serve() as url:
        cfg = config_for(
            s3_endpoint_url=url,
            page_size=10,
            s3_max_attempts=2,
            state=str(ledger),
            concurrency=4,
            order="listing",  # streaming: the first page is decided while the second is listed
            list_concurrency=1,  # one paginator: "the second page" is one request
        )
        with pytest.raises(SourceError, match=rf"listing s3://{source} failed: SlowDown") as err:
            await scan(cfg, on_result=results.append)
    assert proxy.injected["list"] == 2  # the second page, tried twice, then given up
    report = err.value.report
    assert report is not None
    # the first page was decided and kept: in the report, the results and the ledger alike
    assert 0 < len(results) <= 10
    assert report.stats.decided == len(results)
    with sqlite3.connect(ledger) as db:
        stored = {key for (key,) in db.execute("SELECT key FROM objects WHERE outcome != ''")}
    assert stored == {r.object.key for r in results}
    hits = {r.dest_key for r in results if r.outcome.value == "hit"}
    assert set(await list_keys(s3, dest)) == hits
    # nothing was paid for that did not end in a recorded outcome
    calls = (await admin(emulator.stats))["calls_by_object"]
    assert {name.split("/", 1)[1] for name in calls} <= stored


async def test_wrong_s3_credentials_stop_before_paying(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    await seed_robins(s3, emulator, buckets[0], 10)
    settings = S3FaultSettings(access_keys=frozenset({"the-real-key"}))
    async with S3FaultProxy(moto.endpoint_url, settings).serve() as url:
        with pytest.raises(CredentialsError, match="S3 rejected the credentials"):
            await scan(config_for(s3_endpoint_url=url))
        # without the preflight, the listing is where they are found out
        with pytest.raises(CredentialsError, match="S3 rejected the credentials"):
            await scan(config_for(s3_endpoint_url=url, preflight=False))
    assert (await admin(emulator.stats))["calls"] == 0
    assert await list_keys(s3, buckets[1]) == []


async def test_no_permission_to_list_stops_before_paying(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    await seed_robins(s3, emulator, source, 10)
    async with S3FaultProxy(moto.endpoint_url, S3FaultSettings(deny_list=True)).serve() as url:
        with pytest.raises(SourceError, match=f"access to source bucket '{source}' denied"):
            await scan(config_for(s3_endpoint_url=url))
        with pytest.raises(
            SourceError, match=f"no permission to list source bucket '{source}': Access Denied"
        ):
            await scan(config_for(s3_endpoint_url=url, preflight=False))
    assert (await admin(emulator.stats))["calls"] == 0
    assert await list_keys(s3, dest) == []


@pytest.fixture
async def eu_bucket(s3: Any) -> str:
    name = f"eu-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return name


async def test_source_in_another_region_is_refused_before_paying(
    s3: Any,
    moto: MotoServer,
    emulator: EmulatorProcess,
    eu_bucket: str,
    buckets: tuple[str, str],
    config_for: Any,
) -> None:
    robins = await seed_robins(s3, emulator, eu_bucket, 6)
    source = f"s3://{eu_bucket}"
    with pytest.raises(SourceError, match=r"is in eu-west-1 but Rekognition is called in us-east"):
        await scan(config_for(source=source))
    assert (await admin(emulator.stats))["calls"] == 0

    # What the check saves: Rekognition cannot read the bucket, and every image fails
    results: list[ImageResult] = []
    await scan(config_for(source=source, preflight=False), on_result=results.append)
    assert {r.error_code for r in results} == {"InvalidS3ObjectException"}

    # In the bucket's own region the same sweep works (the copy crosses regions, as S3 allows)
    results.clear()
    await scan(config_for(source=source, region="eu-west-1"), on_result=results.append)
    hits = sorted(r.object.key for r in results if r.outcome.value == "hit")
    assert hits == sorted(robins)
    assert sorted(await list_keys(s3, buckets[1])) == [f"Robin/{k}" for k in hits]


async def test_cli_region_mismatch_is_one_line_and_exit_1(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, eu_bucket: str, buckets: tuple[str, str]
) -> None:
    await seed_robins(s3, emulator, eu_bucket, 2)
    proc = await anyio.run_process(
        [*scan_argv(eu_bucket, buckets[1]), "--region", "us-east-1", "--no-state"],
        env=cli_env(moto, emulator),
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines()[-1] == (
        f"asyncfilter: error: source bucket {eu_bucket!r} is in eu-west-1 but Rekognition is "
        "called in us-east-1; DetectLabels reads only buckets in its own region "
        "(pass --region eu-west-1)"
    )
    assert (await admin(emulator.stats))["calls"] == 0


async def test_cli_listing_failure_keeps_results_and_summary(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    await seed_robins(s3, emulator, source, 30)
    results = tmp_path / "out.jsonl"
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(list_fail_after=1))
    async with proxy.serve() as url:
        env = cli_env(moto, emulator) | {"AWS_ENDPOINT_URL_S3": url}
        argv = scan_argv(source, dest, "--page-size", "10", "--s3-max-attempts", "2", "--json",
                         "--list-concurrency", "1")  # fmt: skip
        proc = await anyio.run_process(
            [*argv, "--results", str(results), "--no-state"], env=env, check=False
        )
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines()[-1] == (
        f"asyncfilter: error: listing s3://{source} failed: SlowDown: "
        "Please reduce your request rate."
    )
    summary = orjson.loads(proc.stdout)
    assert summary["stop_reason"] == "aborted"
    lines = results.read_bytes().splitlines()
    assert 0 < len(lines) == summary["decided"] <= 10


async def test_a_listing_that_fails_for_good_in_random_order_stops_before_any_call(
    s3: Any,
    moto: MotoServer,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> None:
    """A random order lists everything first: a listing that fails stops it before it pays."""
    source, _ = buckets
    await seed_robins(s3, emulator, source, 30)
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(list_fail_after=1))
    async with proxy.serve() as url:
        cfg = config_for(s3_endpoint_url=url, page_size=10, s3_max_attempts=2,
                         state=str(tmp_path / "l.sqlite"))  # fmt: skip
        with pytest.raises(SourceError, match="SlowDown") as err:
            await scan(cfg)
    assert err.value.report is not None
    assert err.value.report.stats.decided == 0
    assert (await anyio.to_thread.run_sync(emulator.stats))["calls"] == 0
    names = {p.name async for p in anyio.Path(tmp_path).iterdir()}
    left = names - {"l.sqlite", "l.sqlite.lock", "l.sqlite-wal", "l.sqlite-shm"}
    assert not left, f"the scratch listing was left behind: {left}"
