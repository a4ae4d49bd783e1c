"""Models cost money while they run: start, stop and status, and the --max-hours guard."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from custom_helpers import admin_call, run_cli, trained_model

from asyncfilter import (
    CustomLabelsError,
    ModelNotRunning,
    check_model_running,
    model_states,
    start_model,
    stop_model,
)
from asyncfilter._custom._models import wait_for
from asyncfilter._custom._registry import ModelRecord, Registry
from asyncfilter.cli._model import status_printer
from asyncfilter.testing import CustomLabelsAdmin, EmulatorProcess

POLL = 0.02


@pytest.fixture
async def model(rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]) -> str:
    return await trained_model(rek, s3, admin, buckets[1])


def test_cost_so_far_counts_every_session_by_its_units() -> None:
    record = ModelRecord("arn", ((0.0, 3600.0, 1), (7200.0, None, 2)), deadline=None)
    assert record.unit_hours(now=9000.0) == pytest.approx(1.0 + 2 * 0.5)
    assert record.running


async def test_start_waits_for_running_records_the_start_and_stop_closes_it(
    rek: Any, model: str, registry: Registry, admin: CustomLabelsAdmin
) -> None:
    with pytest.raises(ModelNotRunning, match="asyncfilter model start"):
        await check_model_running(rek, model)
    seen: list[str] = []
    state = await start_model(
        rek, model, units=2, max_hours=1.5, registry=registry, poll_s=POLL,
        on_status=lambda d: seen.append(d["Status"]),
    )  # fmt: skip
    assert state.status == "RUNNING"
    assert seen[-1] == "RUNNING"
    assert state.units == 2
    assert state.started_by_asyncfilter
    assert state.cost_usd is not None
    assert state.deadline == pytest.approx(time.time() + 1.5 * 3600, abs=60)
    assert (await check_model_running(rek, model))["Status"] == "RUNNING"
    record = await registry.get(model)
    assert record is not None
    assert record.running

    again = await start_model(rek, model, registry=registry, poll_s=POLL)
    assert again.status == "RUNNING"  # already running: left alone, no second start
    assert len((await registry.get(model)).sessions) == 1  # type: ignore[union-attr]

    stopped = await stop_model(rek, model, registry=registry, poll_s=POLL)
    assert stopped.status == "STOPPED"
    record = await registry.get(model)
    assert record is not None
    assert not record.running
    assert record.deadline is None
    state_at_emulator = (await admin_call(admin.state))["versions"][model]
    assert state_at_emulator["status"] == "STOPPED"


async def test_status_stops_a_model_past_its_deadline_and_leaves_others_alone(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str], registry: Registry
) -> None:
    ours = await trained_model(rek, s3, admin, buckets[1])
    theirs = await trained_model(rek, s3, admin, buckets[1])
    await start_model(rek, ours, max_hours=1, registry=registry, poll_s=POLL)
    await rek.start_project_version(ProjectVersionArn=theirs, MinInferenceUnits=1)
    await registry.set_deadline(ours, time.time() - 1)  # the hour is up

    states = {s.arn: s for s in await model_states(rek, registry=registry)}
    assert set(states) == {ours}  # only what asyncfilter started is listed by default
    assert states[ours].stopped_for_deadline
    assert states[ours].status in ("STOPPING", "STOPPED")

    both = {s.arn: s for s in await model_states(rek, [ours, theirs], registry=registry)}
    assert not both[theirs].started_by_asyncfilter
    assert both[theirs].cost_usd is None
    assert both[theirs].status in ("STARTING", "RUNNING")  # never stopped behind the user's back


async def test_a_failed_model_cannot_be_started(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str], registry: Registry
) -> None:
    await admin_call(admin.configure, training_failure="An internal service error occurred.")
    arn = await trained_model(rek, s3, admin, buckets[1])
    with pytest.raises(CustomLabelsError, match="TRAINING_FAILED and cannot be started"):
        await start_model(rek, arn, registry=registry, poll_s=POLL)
    assert await registry.get(arn) is None


async def test_the_model_commands_start_report_and_stop(
    model: str,
    emulator: EmulatorProcess,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("ASYNCFILTER_STATE_DIR", str(tmp_path))
    aws = ["--rekognition-endpoint-url", emulator.endpoint_url, "--poll-seconds", str(POLL)]
    code, out, err = await run_cli(["model", "start", model, "--max-hours", "2", *aws], capsys)
    assert code == 0, err
    assert "$4.00 an hour" in err
    assert f"asyncfilter model stop {model}" in out
    assert "RUNNING" in out

    code, out, _ = await run_cli(["model", "status", "--json", *aws], capsys)
    assert code == 0
    [state] = orjson.loads(out)
    assert state["arn"] == model
    assert state["status"] == "RUNNING"
    assert state["cost_usd"] >= 0

    code, out, _ = await run_cli(["model", "stop", model, *aws], capsys)
    assert code == 0
    assert "STOPPED" in out

    code, _, err = await run_cli(["model", "start", "not-an-arn", *aws], capsys)
    assert code == 2
    assert "not a Custom Labels model ARN" in err


async def test_a_model_stopped_elsewhere_has_its_record_closed_so_its_cost_stops_growing(
    rek: Any, model: str, registry: Registry
) -> None:
    await start_model(rek, model, registry=registry, poll_s=POLL)
    await rek.stop_project_version(ProjectVersionArn=model)  # from the console, say
    await wait_for(rek, model, {"STOPPED"}, poll_s=POLL)
    [state] = await model_states(rek, registry=registry)
    assert state.status == "STOPPED"
    record = await registry.get(model)
    assert record is not None
    assert not record.running
    [again] = await model_states(rek, registry=registry)
    assert again.cost_usd == state.cost_usd


def test_the_status_display_speaks_on_change_and_every_so_often_while_waiting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [0.0]
    show = status_printer(every_s=600, clock=lambda: now[0])
    for at, status in [(0, "TRAINING_IN_PROGRESS"), (300, "TRAINING_IN_PROGRESS"),
                       (660, "TRAINING_IN_PROGRESS"), (700, "TRAINING_COMPLETED")]:  # fmt: skip
        now[0] = at
        show({"Status": status})
    assert capsys.readouterr().err.splitlines() == [
        "  TRAINING_IN_PROGRESS",
        "  still TRAINING_IN_PROGRESS after 11 min",
        "  TRAINING_COMPLETED",
    ]
