"""``scan --model ARN [--start-model]``: a sweep that asks a Custom Labels model.

The model must be RUNNING before anything is listed or paid (one line and exit 1 otherwise).
With ``--start-model`` the sweep starts it and stops it however the sweep ends (finished,
stopped by a rule, an error, a first Ctrl-C); a model that was already running is left running,
since asyncfilter did not start it.

The ledger never takes one detector's answer for another's, but it keeps one answer an object:
so a ``--model`` sweep keeps its own ledger (by default one per source and model), and refuses
one holding DetectLabels answers, which it would replace.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
import click

from .._config import ScanConfig
from .._custom._calls import open_rekognition
from .._custom._models import start_model, stop_model
from .._custom._pricing import PRICES
from .._custom._project import describe_version
from .._custom._registry import Registry
from .._detection import Detector
from .._detection_custom import CustomLabelsDetector, check_model_running
from .._errors import ConfigError
from .._ledger import default_state_path
from .._models import DETECT_LABELS

MODEL_POLL_S = 10.0
_LAST_RESORT: list[Callable[[], None]] = []
"""Stops to make before the process exits at once (a second Ctrl-C): see :func:`last_resort`."""
MODEL_COST_NOTE = (
    "note: DetectCustomLabels is billed per inference-unit hour while the model runs, not per "
    "image: the estimated cost above is DetectLabels' and does not apply; "
    "`asyncfilter model status` shows the model's"
)


def config_for_model(config: ScanConfig, arn: str | None, explicit_state: bool) -> ScanConfig:
    """The sweep's configuration with a ledger of the model's own (see the module doc)."""
    if arn is None:
        return config
    if config.budget_usd is not None:
        raise ConfigError(
            "--budget-usd prices DetectLabels calls per image; a custom model is billed per "
            "inference-unit hour while it runs: bound it with `model start --max-hours`"
        )
    if config.state is None or explicit_state:
        return config
    source = config.source
    state = default_state_path(source.bucket, f"{source.prefix}\x00custom-labels:{arn}")
    return dataclasses.replace(config, state=str(state))


async def check_ledger_detector(state: str | None, arn: str) -> None:
    """Refuse a ledger holding another detector's answers: the ledger keeps one answer an
    object, so the model's sweep would replace the answers DetectLabels was paid for."""
    if state is None:
        return
    path = Path(await anyio.Path(state).expanduser())
    if not await anyio.Path(path).is_file():
        return
    try:
        async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as db:
            async with db.execute("PRAGMA table_info(objects)") as cursor:
                columns = {row[1] async for row in cursor}
            column = "detector" if "detector" in columns else "NULL"
            query = f"SELECT DISTINCT {column} FROM objects WHERE response IS NOT NULL"
            async with db.execute(query) as cursor:
                found = {row[0] or DETECT_LABELS async for row in cursor}
    except sqlite3.Error:
        return  # not a ledger we can read: the sweep's own open says why
    others = sorted(found - {CustomLabelsDetector.identity_of(arn)})
    if others:
        raise ConfigError(
            f"--state {state} holds answers of another detector ({', '.join(others)}), which a "
            "sweep with --model would replace: pass another --state, or leave --state out "
            "for the model's own ledger"
        )


@asynccontextmanager
async def model_detector(
    config: ScanConfig, arn: str | None, *, start: bool, units: int
) -> AsyncIterator[Detector | None]:
    """The sweep's detector for ``--model`` (``None`` without it), started and stopped as asked."""
    if arn is None:
        yield None
        return
    await check_ledger_detector(config.state, arn)
    async with AsyncExitStack() as stack:
        client = await open_rekognition(
            stack,
            region=config.region,
            profile=config.profile,
            endpoint_url=config.rekognition_endpoint_url,
        )
        started = False
        try:
            if start and (await describe_version(client, arn))["Status"] not in (
                "RUNNING",
                "STARTING",
            ):
                click.echo(
                    f"starting {arn} for this sweep ({units} unit(s), "
                    f"${PRICES.inference_per_unit_hour * units:.2f} an hour); it is stopped "
                    "when the sweep ends",
                    err=True,
                )
                started = True
                stop_now = _blocking_stop(config, arn)
                _LAST_RESORT.append(stop_now)
                await start_model(client, arn, units=units, poll_s=MODEL_POLL_S)
            description = await check_model_running(client, arn)
            yield CustomLabelsDetector(client, arn)
            if not started:
                # the user's model, left as it was: say what it keeps costing
                units_running = int(description.get("MinInferenceUnits") or 1)
                click.echo(
                    f"{arn} is still running (this sweep did not start it): "
                    f"${PRICES.inference_per_unit_hour * units_running:.2f} an hour; stop it "
                    f"with `asyncfilter model stop {arn}`",
                    err=True,
                )
        finally:
            if started:
                _LAST_RESORT.remove(stop_now)
                with anyio.CancelScope(shield=True):
                    state = await stop_model(client, arn, wait=False)
                    cost = f": ${state.cost_usd:,.2f} so far" if state.cost_usd is not None else ""
                    click.echo(f"stopped {arn} ({state.status}){cost}", err=True)


def last_resort() -> None:
    """Stop every model this process started, with blocking calls: for the moment before
    ``os._exit`` (a second Ctrl-C), when no coroutine will run again. A model left running
    would cost $4 an hour until someone noticed; a second or two here is the cheaper wait."""
    for stop in _LAST_RESORT:
        stop()


def _blocking_stop(config: ScanConfig, arn: str) -> Callable[[], None]:
    def stop() -> None:
        from botocore.config import Config
        from botocore.session import Session

        from .._clients import region_from_env

        try:
            client = Session(profile=config.profile).create_client(
                "rekognition",
                region_name=region_from_env(config.region),
                endpoint_url=config.rekognition_endpoint_url,
                config=Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 2}),
            )
            client.stop_project_version(ProjectVersionArn=arn)
            Registry()._update(lambda data: _close(data, arn))
            click.echo(f"stopped {arn} on the way out", err=True)
        except Exception as exc:  # exiting anyway: say what to do, never a traceback
            click.echo(
                f"could not stop {arn} ({type(exc).__name__}): stop it with "
                f"`asyncfilter model stop {arn}`",
                err=True,
            )

    return stop


def _close(data: dict[str, Any], arn: str) -> None:
    sessions = (data.get(arn) or {}).get("sessions") or []
    if sessions and sessions[-1][1] is None:
        sessions[-1][1] = time.time()


async def model_cost_line(arn: str) -> str:
    """What the model has cost so far while asyncfilter ran it (its record of starts and stops;
    the service does not say), or that it was not started by asyncfilter."""
    record = await Registry().get(arn)
    if record is None or not record.sessions:
        return (
            "model cost: not started by asyncfilter, so unknown here "
            f"(${PRICES.inference_per_unit_hour:g} per inference-unit hour while it runs)"
        )
    hours = record.unit_hours(time.time())
    state = "running" if record.running else "stopped"
    return (
        f"model cost so far: ${hours * PRICES.inference_per_unit_hour:,.2f} "
        f"({hours:,.2f} inference-unit hours; {state})"
    )


def model_identity(arn: str) -> str:
    """What the ledger calls the model's answers."""
    return CustomLabelsDetector.identity_of(arn)


def inference_cost_line(calls: int, tps: float | None) -> str:
    """``plan --model``: the calls take the model's time, and its time is what is billed."""
    rate = PRICES.inference_per_unit_hour
    if not tps:
        return (
            f"would send {calls:,} DetectCustomLabels calls, billed per inference-unit hour "
            f"(${rate:g}) while the model runs, not per image"
        )
    hours = calls / tps / 3600
    return (
        f"would send {calls:,} DetectCustomLabels calls: about {calls / tps:,.0f} s at "
        f"{tps:g} calls/s, ${hours * rate:,.2f} of one inference unit's time (${rate:g} an "
        "hour while the model runs, however many calls it answers; starting it takes minutes)"
    )
