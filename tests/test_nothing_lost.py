"""Nothing lost, nothing misreported: the paths that lost data or money, or told the user
something untrue, when the tool was tried as its users would (over real HTTP)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog
from helpers import admin, list_keys, seed_robins

from asyncfilter import (
    DestinationError,
    ImageResult,
    Outcome,
    ScanConfig,
    ServiceUnreachable,
    StopReason,
    open_scan,
    scan,
)
from asyncfilter._ledger import Ledger, LedgerError, default_state_path
from asyncfilter.testing import (
    EmulatorProcess,
    MotoServer,
    S3FaultProxy,
    S3FaultSettings,
    free_port,
    moto_server,
)

TREE = [{"Name": "Tree", "Confidence": 99.0}]


def ledger_rows(state: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(state) as db:
        return db.execute(query).fetchall()


# --- 1. a second destination ----------------------------------------------------------------


async def test_a_second_destination_gets_every_hit_from_the_ledger_for_free(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, train_a = buckets
    train_b = f"dst-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(Bucket=train_b)
    robins = await seed_robins(s3, emulator, source, 10, others=TREE)
    state = tmp_path / "ledger.sqlite"
    first = await scan(config_for(state=str(state)))
    assert first.stats.hits == len(robins)
    calls = (await admin(emulator.stats))["calls"]

    second = await scan(config_for(state=str(state), dest=f"s3://{train_b}"))
    assert (await admin(emulator.stats))["calls"] == calls  # answers from the ledger
    assert second.stats.paid_calls == 0
    assert second.stats.hits == len(robins)
    assert sorted(await list_keys(s3, train_b)) == sorted(f"Robin/{k}" for k in robins)
    copies = ledger_rows(state, "SELECT dest_bucket, count(*) FROM copies GROUP BY dest_bucket")
    assert dict(copies) == {train_a: len(robins), train_b: len(robins)}

    # and a third run into either destination copies nothing again
    await s3.delete_object(Bucket=train_b, Key=f"Robin/{sorted(robins)[0]}")
    third = await scan(config_for(state=str(state), dest=f"s3://{train_b}"))
    assert third.stats.hits == len(robins)
    assert len(await list_keys(s3, train_b)) == len(robins) - 1  # trusted the ledger, as before


# --- 2. the ledger's identity includes the S3 service ----------------------------------------


def test_the_default_ledger_differs_per_s3_service() -> None:
    aws = default_state_path("photos", "robin/")
    assert default_state_path("photos", "robin/", "https://s3.eu-west-1.amazonaws.com") == aws
    minio = default_state_path("photos", "robin/", "http://127.0.0.1:9000")
    other = default_state_path("photos", "robin/", "http://127.0.0.1:9001")
    assert len({aws, minio, other}) == 3


async def test_a_ledger_opened_against_another_s3_service_is_refused(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 4, others=TREE)
    state = tmp_path / "ledger.sqlite"
    await scan(config_for(state=str(state)))
    with moto_server() as other:  # another service, with a bucket of the same name
        session_config = config_for(state=str(state), s3_endpoint_url=other.endpoint_url)
        with pytest.raises(LedgerError, match="records objects of the S3 service at"):
            await scan(session_config)
    calls = (await admin(emulator.stats))["calls"]
    assert calls == 4  # the refusal came before any call


# --- 3. temporary failures are never final ---------------------------------------------------


async def test_temporary_failures_are_retried_by_the_next_run_and_never_counted_as_saved(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    robins = await seed_robins(s3, emulator, buckets[0], 10, others=TREE)
    state = tmp_path / "ledger.sqlite"
    cfg = config_for(state=str(state), max_attempts=2)
    # a first run in which every call's connection is dropped...
    await admin(emulator.configure, reset_rate=1.0)
    with pytest.raises(ServiceUnreachable) as dropped:  # the 10th failure in a row says so
        await scan(cfg)
    assert dropped.value.report is not None
    assert dropped.value.report.stats.errors == 10
    # ...then one in which every call is a bare 500 whose code is on no list
    await admin(emulator.configure, reset_rate=0.0, error_rate=1.0, error_code="ServiceFault",
                error_status=500)  # fmt: skip
    with pytest.raises(ServiceUnreachable) as failed:
        await scan(cfg)
    assert failed.value.report is not None
    assert failed.value.report.errors_by_code == {"ServiceFault": 10}, "dropped calls were final"
    flags = ledger_rows(state, "SELECT DISTINCT outcome, retryable FROM objects")
    assert flags == [("error", 1)]

    await admin(emulator.configure, error_rate=0.0)
    healed = await scan(cfg)
    assert healed.stats.paid_calls == 10
    assert healed.stats.hits == len(robins)
    assert healed.stats.cached == 0
    assert healed.stats.saved_usd == 0


async def test_a_ledger_without_retry_flags_retries_bare_5xx_and_dropped_connections(
    tmp_path: Path,
) -> None:
    from asyncfilter._ledger import _retryable

    assert _retryable(None, "500")
    assert _retryable(None, "503")
    assert _retryable(None, "ConnectionClosedError")
    assert _retryable(None, "EndpointConnectionError")
    assert not _retryable(None, "InvalidImageFormatException")
    assert not _retryable(0, "ThrottlingException")  # the flag, once written, decides


# --- 4. cancelling the task that runs a sweep ------------------------------------------------


async def test_cancelling_scan_records_every_call_already_sent(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 60, others=TREE)
    await admin(emulator.configure, latency_ms=400)
    state = tmp_path / "ledger.sqlite"
    task = asyncio.ensure_future(scan(config_for(state=str(state), concurrency=8)))
    with anyio.fail_after(60):
        while (await admin(emulator.stats))["in_flight"] < 8:  # noqa: ASYNC110 - another process
            await anyio.sleep(0.02)
    task.cancel()  # what an async service does on shutdown or a DELETE
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = await admin(emulator.stats)
    assert stats["in_flight"] == 0
    answered = {name.split("/", 1)[1] for name in stats["answered_by_object"]}
    assert answered, "no call was answered"
    stored = ledger_rows(state, "SELECT key FROM objects WHERE response IS NOT NULL")
    assert {key for (key,) in stored} == answered
    # a resumed sweep pays only for what was never answered
    await admin(emulator.configure, latency_ms=0)
    resumed = await scan(config_for(state=str(state)))
    assert resumed.stats.paid_calls == 60 - len(answered)


async def test_cancelling_open_scan_records_every_call_already_sent(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await seed_robins(s3, emulator, buckets[0], 40, others=TREE)
    await admin(emulator.configure, latency_ms=400)
    state = tmp_path / "ledger.sqlite"
    seen: list[ImageResult] = []
    with anyio.CancelScope() as scope:
        async with open_scan(config_for(state=str(state), concurrency=8)) as sweep:
            async for result in sweep:
                seen.append(result)
                if len(seen) == 3:
                    scope.cancel()
    stats = await admin(emulator.stats)
    answered = {name.split("/", 1)[1] for name in stats["answered_by_object"]}
    stored = ledger_rows(state, "SELECT key FROM objects WHERE response IS NOT NULL")
    assert {key for (key,) in stored} == answered
    assert len(answered) > 3


# --- 5. aborts keep what they paid for --------------------------------------------------------


async def test_an_abort_records_every_paid_call_and_the_next_run_copies_without_paying(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, _ = buckets
    robins = await seed_robins(s3, emulator, source, 40, others=TREE)
    missing = f"gone-{uuid.uuid4().hex[:12]}"
    state = tmp_path / "ledger.sqlite"
    seen: list[ImageResult] = []
    cfg = config_for(state=str(state), dest=f"s3://{missing}", preflight=False, concurrency=8)
    with pytest.raises(DestinationError) as caught:
        await scan(cfg, on_result=seen.append)
    report = caught.value.report
    assert report is not None
    assert report.stop_reason is StopReason.ABORTED
    stats = await admin(emulator.stats)
    assert stats["answered"] == report.stats.paid_calls == report.stats.calls_started
    assert len(seen) == report.stats.decided == stats["answered"]
    stored = ledger_rows(state, "SELECT count(*) FROM objects WHERE response IS NOT NULL")
    assert stored == [(stats["answered"],)]

    await s3.create_bucket(Bucket=missing)
    done = await scan(config_for(state=str(state), dest=f"s3://{missing}"))
    assert done.stats.paid_calls == 40 - stats["answered"]
    assert sorted(await list_keys(s3, missing)) == sorted(f"Robin/{k}" for k in robins)


async def test_a_preflight_abort_carries_a_report(
    config_for: Any, emulator: EmulatorProcess
) -> None:
    with pytest.raises(DestinationError) as caught:
        await scan(config_for(dest=f"s3://gone-{uuid.uuid4().hex[:12]}"))
    report = caught.value.report
    assert report is not None
    assert report.stop_reason is StopReason.ABORTED
    assert report.stats.decided == 0
    assert report.error is not None
    assert "does not exist" in report.error


# --- 6. a stop ends the retry backoff at once ------------------------------------------------


async def test_a_stop_ends_retry_backoff_at_once_and_records_the_images(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str]
) -> None:
    await seed_robins(s3, emulator, buckets[0], 6, others=TREE)
    await admin(emulator.configure, error_rate=1.0, error_code="ServiceUnavailable",
                error_status=503)  # fmt: skip
    # backoff of up to an hour: only a cancelled sleep ends this sweep within the bound below
    cfg = config_for(concurrency=2, retry_base_s=3600.0, retry_cap_s=3600.0)
    seen: list[ImageResult] = []
    with anyio.fail_after(30):
        async with open_scan(cfg) as sweep:
            while sweep.stats().retries < 2:  # noqa: ASYNC110 - a counter, not an event
                await anyio.sleep(0.02)
            sweep.request_stop()
            seen.extend([r async for r in sweep])
    assert sweep.report.stop_reason is StopReason.INTERRUPTED
    assert [r.error_code for r in seen] == ["Interrupted", "Interrupted"]
    assert all(r.retryable for r in seen)


# --- 7. a sweep that cannot work stops ---------------------------------------------------------


async def test_an_unreachable_detector_stops_the_sweep_with_one_line(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str]
) -> None:
    await seed_robins(s3, emulator, buckets[0], 30, others=TREE)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cfg = config_for(rekognition_endpoint_url=closed, retry_base_s=0.01, retry_cap_s=0.02)
    with anyio.fail_after(60), pytest.raises(ServiceUnreachable, match="cannot reach") as caught:
        await scan(cfg)
    report = caught.value.report
    assert report is not None
    assert report.stats.errors < 30  # it did not grind through the bucket
    assert report.error_examples["EndpointConnectionError"]


async def test_the_same_temporary_failure_on_every_image_from_the_start_stops_the_sweep(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str]
) -> None:
    await seed_robins(s3, emulator, buckets[0], 40, others=TREE)
    await admin(emulator.configure, error_rate=1.0, error_code="ServiceUnavailable",
                error_status=503)  # fmt: skip
    cfg = config_for(max_attempts=2, concurrency=2)
    with pytest.raises(ServiceUnreachable, match="the first 10 images all failed") as caught:
        await scan(cfg)
    report = caught.value.report
    assert report is not None
    assert 10 <= report.stats.errors < 40
    assert report.stats.retries >= 10
    assert report.error_examples["ServiceUnavailable"].startswith("Injected by the emulator")


# --- 8. logs: the host decides ---------------------------------------------------------------


async def test_a_library_sweep_prints_nothing_to_the_hosts_stdout(
    s3: Any,
    emulator: EmulatorProcess,
    config_for: Any,
    buckets: tuple[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    await seed_robins(s3, emulator, buckets[0], 6, others=TREE)
    structlog.reset_defaults()  # a host that never configured structlog
    missing = f"s3://gone-{uuid.uuid4().hex[:12]}"
    with pytest.raises(DestinationError):  # an abort mid-sweep, which logs an error
        await scan(config_for(dest=missing, preflight=False))
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


# --- 10. a destination one may only write to --------------------------------------------------


async def test_a_write_only_destination_passes_the_preflight_and_the_first_copy_decides(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    robins = await seed_robins(s3, emulator, source, 6, others=TREE)
    proxy = S3FaultProxy(moto.endpoint_url, S3FaultSettings(deny_list_buckets=frozenset({dest})))
    async with proxy.serve() as endpoint:
        report = await scan(config_for(s3_endpoint_url=endpoint))
        assert proxy.injected["denied"] >= 1  # the HeadBucket on the destination
    assert report.stop_reason is StopReason.COMPLETED
    assert report.stats.hits == len(robins)
    assert len(await list_keys(s3, dest)) == len(robins)


async def test_the_ledger_answers_a_new_destination_from_every_earlier_run(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    """Opening the ledger directly: every copy of every object is known, per destination."""
    source, dest = buckets
    await seed_robins(s3, emulator, source, 4, others=TREE)
    state = tmp_path / "ledger.sqlite"
    await scan(config_for(state=str(state)))
    ledger = await Ledger.open(state)
    try:
        known = await ledger.lookup(source, ["0000.jpg", "0001.jpg"])
    finally:
        await ledger.aclose()
    assert known["0000.jpg"].copied_to(dest, "Robin/0000.jpg")
    assert not known["0000.jpg"].copied_to("elsewhere", "Robin/0000.jpg")
    assert known["0001.jpg"].outcome is Outcome.MISS


def test_config_rejects_a_non_positive_call_grace() -> None:
    with pytest.raises(ValueError, match="call_grace_s"):
        ScanConfig(source="s3://a-b", dest="s3://c-d", labels=("x",), call_grace_s=0)
