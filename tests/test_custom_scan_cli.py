"""``scan --model``: the model must run before anything is paid; a sweep stops what it started."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from custom_helpers import admin_call, trained_model
from helpers import jpeg, list_keys, seed

from asyncfilter import ConfigError, ScanConfig, start_model
from asyncfilter._custom._registry import Registry
from asyncfilter.cli._scan_model import config_for_model
from asyncfilter.testing import TEST_CREDENTIALS, CustomLabelsAdmin, EmulatorProcess, MotoServer


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASYNCFILTER_STATE_DIR", str(tmp_path))
    return tmp_path


async def robins_answered_by_the_model(
    s3: Any, admin: CustomLabelsAdmin, source: str, count: int
) -> None:
    keys = [f"{i:03d}.jpg" for i in range(count)]
    await seed(s3, source, {k: jpeg(k) for k in keys})
    answer = [{"Name": "Robin", "Confidence": 93.0}]
    await admin_call(
        admin.add_labels, [{"bucket": source, "key": k, "labels": answer} for k in keys]
    )


def cli_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | TEST_CREDENTIALS | {"ASYNCFILTER_STATE_DIR": str(state_dir)}


async def run_scan(args: list[str], state_dir: Path) -> tuple[int, str, str]:
    """The scan CLI in its own process (it installs signal handlers)."""
    done = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", *args], env=cli_env(state_dir), check=False
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def scan_args(moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]) -> list[str]:
    source, dest = buckets
    return [
        "scan", f"s3://{source}", "--dest", f"s3://{dest}", "--label", "Robin",
        "--s3-endpoint-url", moto.endpoint_url,
        "--rekognition-endpoint-url", emulator.endpoint_url,
        "--no-progress",
    ]  # fmt: skip


async def sweep_asking(
    arn: str, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin,
    buckets: tuple[str, str], state_dir: Path,
) -> Process:  # fmt: skip
    """A CLI sweep that starts model ``arn``, once it has sent the model two calls."""
    args = [*scan_args(moto, emulator, buckets), "--model", arn, "--start-model"]
    proc = await anyio.open_process(
        [sys.executable, "-m", "asyncfilter", *args, "--concurrency", "2"], env=cli_env(state_dir)
    )
    with anyio.fail_after(60):  # the sweep never asked the model
        while (await admin_call(admin.state))["versions"][arn]["detect_calls"] < 2:  # noqa: ASYNC110
            await anyio.sleep(0.05)
    return proc


async def stderr_of(proc: Process) -> str:
    assert proc.stderr is not None
    return b"".join([chunk async for chunk in proc.stderr]).decode()


async def test_a_model_that_is_not_running_is_one_line_and_exit_1_before_any_call(
    rek: Any, s3: Any, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin,
    buckets: tuple[str, str], state_dir: Path,
) -> None:  # fmt: skip
    arn = await trained_model(rek, s3, admin, buckets[1])
    await robins_answered_by_the_model(s3, admin, buckets[0], 5)
    code, _, err = await run_scan([*scan_args(moto, emulator, buckets), "--model", arn], state_dir)
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"asyncfilter: error: model {arn} is TRAINING_COMPLETED, not RUNNING")
    assert (await admin_call(admin.state))["versions"][arn]["detect_calls"] == 0
    assert await list_keys(s3, buckets[1], "Robin/") == []


async def test_start_model_starts_it_for_the_sweep_and_stops_it_after(
    rek: Any, s3: Any, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin,
    buckets: tuple[str, str], state_dir: Path,
) -> None:  # fmt: skip
    arn = await trained_model(rek, s3, admin, buckets[1])
    await robins_answered_by_the_model(s3, admin, buckets[0], 6)
    args = [*scan_args(moto, emulator, buckets), "--model", arn, "--start-model"]
    code, out, err = await run_scan(args, state_dir)
    assert code == 0, err
    assert f"starting {arn} for this sweep" in err
    assert f"stopped {arn}" in err
    assert "billed per inference-unit hour while the model runs" in out
    assert "model cost so far: $" in out  # the model's own running cost, instead
    assert "inference-unit hours; stopped)" in out
    assert len(await list_keys(s3, buckets[1], "Robin/")) == 6

    # plan --model reads the model's own ledger and prices its time, not images
    plan_args = ["plan", *scan_args(moto, emulator, buckets)[1:-1], "--model", arn, "--tps", "5"]
    code, out, err = await run_scan(plan_args, state_dir)
    assert code == 0, err
    assert "answered by the ledger 6" in out
    assert "would send 0 DetectCustomLabels calls" in out
    model = (await admin_call(admin.state))["versions"][arn]
    assert model["status"] in ("STOPPING", "STOPPED")
    assert model["detect_calls"] == 6
    record = await Registry(state_dir / "models.json").get(arn)
    assert record is not None
    assert not record.running

    # the model's sweep kept its own ledger: a DetectLabels sweep of the same source is not
    # answered from it, and that sweep's ledger is refused for --model
    code, _, err = await run_scan(scan_args(moto, emulator, buckets), state_dir)
    assert code == 0, err
    assert emulator.stats()["calls"] == 6
    before = set(await anyio.to_thread.run_sync(lambda: list(state_dir.glob("*.sqlite"))))
    assert len(before) == 2
    refused = 0
    for ledger in sorted(before):
        args = [*scan_args(moto, emulator, buckets), "--model", arn, "--state", str(ledger)]
        code, _, err = await run_scan(args, state_dir)
        if code == 2:
            refused += 1
            assert "holds answers of another detector (detect-labels)" in err, err
    assert refused == 1


async def test_ctrl_c_during_a_sweep_that_started_the_model_stops_it(
    rek: Any, s3: Any, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin,
    buckets: tuple[str, str], state_dir: Path,
) -> None:  # fmt: skip
    arn = await trained_model(rek, s3, admin, buckets[1])
    await robins_answered_by_the_model(s3, admin, buckets[0], 60)
    await admin_call(emulator.configure, latency_ms=200)
    proc = await sweep_asking(arn, moto, emulator, admin, buckets, state_dir)
    proc.send_signal(signal.SIGINT)
    err = await stderr_of(proc)
    assert await proc.wait() == 130, err
    assert f"stopped {arn}" in err
    model = (await admin_call(admin.state))["versions"][arn]
    assert model["status"] in ("STOPPING", "STOPPED")
    assert model["detect_calls"] < 60


def test_a_model_sweep_keeps_its_own_ledger_and_refuses_a_per_image_budget() -> None:
    arn = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1"
    config = ScanConfig(source="s3://src-bucket/a/", dest="s3://dst-bucket", labels=("Robin",))
    config = dataclasses.replace(config, state="/tmp/detect-labels.sqlite")
    own = config_for_model(config, arn, explicit_state=False)
    assert own.state is not None
    assert own.state != config.state
    assert config_for_model(config, arn, explicit_state=True).state == config.state
    assert config_for_model(config, None, explicit_state=False) is config
    with pytest.raises(ConfigError, match="--budget-usd prices DetectLabels calls per image"):
        config_for_model(dataclasses.replace(config, budget_usd=5.0), arn, explicit_state=False)


async def test_a_second_ctrl_c_still_stops_the_model_the_sweep_started(
    rek: Any, s3: Any, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin,
    buckets: tuple[str, str], state_dir: Path,
) -> None:  # fmt: skip
    arn = await trained_model(rek, s3, admin, buckets[1])
    await robins_answered_by_the_model(s3, admin, buckets[0], 20)
    await admin_call(emulator.configure, latency_ms=5000)  # calls in flight outlast the test
    proc = await sweep_asking(arn, moto, emulator, admin, buckets, state_dir)
    proc.send_signal(signal.SIGINT)
    await anyio.sleep(0.3)
    assert proc.returncode is None  # still waiting for the calls in flight
    proc.send_signal(signal.SIGINT)
    err = await stderr_of(proc)
    assert await proc.wait() == 130, err
    assert f"stopped {arn} on the way out" in err
    model = (await admin_call(admin.state))["versions"][arn]
    assert model["status"] in ("STOPPING", "STOPPED")
    record = await Registry(state_dir / "models.json").get(arn)
    assert record is not None
    assert not record.running


async def test_a_model_the_user_started_is_left_running_with_a_reminder_of_its_cost(
    rek: Any, s3: Any, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin,
    buckets: tuple[str, str], state_dir: Path,
) -> None:  # fmt: skip
    arn = await trained_model(rek, s3, admin, buckets[1])
    await robins_answered_by_the_model(s3, admin, buckets[0], 4)
    await start_model(rek, arn, units=2, registry=Registry(state_dir / "models.json"), poll_s=0.02)
    args = [*scan_args(moto, emulator, buckets), "--model", arn, "--start-model"]
    code, _, err = await run_scan(args, state_dir)
    assert code == 0, err
    assert "starting" not in err
    assert f"{arn} is still running (this sweep did not start it): $8.00 an hour" in err
    assert (await admin_call(admin.state))["versions"][arn]["status"] == "RUNNING"
    assert len(await list_keys(s3, buckets[1], "Robin/")) == 4
