"""Starting, stopping and watching a model: the calls that cost money while a model runs.

Every start asyncfilter makes is written down (:mod:`._registry`) with its units and the
``max_hours`` deadline, so :func:`model_states` can say what a model has cost so far and stop
one whose deadline has passed. A model asyncfilter did not start is reported, never stopped
behind the user's back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import anyio

from .._errors import ConfigError
from ._calls import call
from ._errors import CustomLabelsError, ModelNotRunning
from ._pricing import PRICES, CustomLabelsPrices
from ._project import VersionRef, describe_version
from ._registry import ModelRecord, Registry

STARTABLE = frozenset({"TRAINING_COMPLETED", "STOPPED"})
LIVE = frozenset({"STARTING", "RUNNING"})
STOPPED = frozenset({"STOPPED", "FAILED", "TRAINING_COMPLETED"})
"""States that are (or are about to be) billed."""

OnStatus = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ModelState:
    """A model as the service describes it, with what asyncfilter's record adds."""

    arn: str
    status: str
    message: str
    units: int | None
    started_by_asyncfilter: bool
    unit_hours: float | None
    """Inference-unit hours of the starts asyncfilter made (``None``: it made none)."""
    cost_usd: float | None
    deadline: float | None
    stopped_for_deadline: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "status": self.status,
            "message": self.message,
            "units": self.units,
            "started_by_asyncfilter": self.started_by_asyncfilter,
            "unit_hours": self.unit_hours,
            "cost_usd": self.cost_usd,
            "deadline": self.deadline,
            "stopped_for_deadline": self.stopped_for_deadline,
        }


def _state(
    description: dict[str, Any],
    record: ModelRecord | None,
    now: float,
    prices: CustomLabelsPrices,
    *,
    stopped_for_deadline: bool = False,
) -> ModelState:
    hours = record.unit_hours(now) if record is not None and record.sessions else None
    return ModelState(
        arn=str(description["ProjectVersionArn"]),
        status=str(description["Status"]),
        message=str(description.get("StatusMessage") or ""),
        units=description.get("MinInferenceUnits"),
        started_by_asyncfilter=hours is not None,
        unit_hours=hours,
        cost_usd=prices.inference(hours) if hours is not None else None,
        deadline=record.deadline if record is not None else None,
        stopped_for_deadline=stopped_for_deadline,
    )


async def wait_for(
    client: Any,
    arn: str,
    until: Collection[str],
    *,
    poll_s: float = 10.0,
    on_status: OnStatus | None = None,
) -> dict[str, Any]:
    """Describe the model until its status is in ``until``: soon at first (a state may last
    a moment), then every ``poll_s``."""
    delay = min(0.05, poll_s)
    while True:
        description = await describe_version(client, arn)
        if on_status is not None:
            on_status(description)
        if description["Status"] in until:
            return description
        await anyio.sleep(delay)
        delay = min(delay * 2, poll_s)


async def start_model(
    client: Any,
    arn: str,
    *,
    units: int = 1,
    max_hours: float | None = None,
    registry: Registry | None = None,
    wait: bool = True,
    poll_s: float = 10.0,
    on_status: OnStatus | None = None,
    prices: CustomLabelsPrices = PRICES,
) -> ModelState:
    """StartProjectVersion with ``units`` inference units, recorded with its deadline.

    A model already RUNNING is left as it is (the deadline, if given, is recorded for it).
    With ``wait`` this returns once the model is RUNNING; a start that fails raises
    :class:`CustomLabelsError` with the service's message.
    """
    VersionRef.parse(arn)
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ConfigError(f"units must be a whole number >= 1, got {units!r}")
    if max_hours is not None and not max_hours > 0:
        raise ConfigError(f"max_hours must be a positive number of hours, got {max_hours!r}")
    registry = registry if registry is not None else Registry()
    deadline = time.time() + max_hours * 3600 if max_hours is not None else None
    description = await describe_version(client, arn)
    if description["Status"] == "STOPPING":
        description = await wait_for(client, arn, {"STOPPED"}, poll_s=poll_s, on_status=on_status)
    status = description["Status"]
    if status in STARTABLE:
        await call(
            f"StartProjectVersion {arn}",
            client.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=units),
        )
        await registry.started(arn, units, deadline)
    elif status in LIVE:
        if max_hours is not None:
            await registry.set_deadline(arn, deadline)
    else:
        raise CustomLabelsError(
            f"model {arn} is {status} and cannot be started"
            + (f": {description.get('StatusMessage')}" if description.get("StatusMessage") else "")
        )
    if wait:
        description = await wait_for(
            client, arn, {"RUNNING", "FAILED", "STOPPED"}, poll_s=poll_s, on_status=on_status
        )
        if description["Status"] != "RUNNING":
            await registry.stopped(arn)
            raise CustomLabelsError(
                f"model {arn} did not start: {description['Status']}: "
                f"{description.get('StatusMessage') or 'no message'}"
            )
    else:
        description = await describe_version(client, arn)
    return _state(description, await registry.get(arn), time.time(), prices)


async def stop_model(
    client: Any,
    arn: str,
    *,
    registry: Registry | None = None,
    wait: bool = True,
    poll_s: float = 10.0,
    on_status: OnStatus | None = None,
    prices: CustomLabelsPrices = PRICES,
    stopped_for_deadline: bool = False,
) -> ModelState:
    """StopProjectVersion, if the model is STARTING or RUNNING; its record is closed."""
    registry = registry if registry is not None else Registry()
    description = await describe_version(client, arn)
    if description["Status"] in LIVE:
        await call(f"StopProjectVersion {arn}", client.stop_project_version(ProjectVersionArn=arn))
        await registry.stopped(arn)
        if wait:
            description = await wait_for(
                client, arn, {"STOPPED", "FAILED"}, poll_s=poll_s, on_status=on_status
            )
        else:
            description = await describe_version(client, arn)
    elif description["Status"] == "STOPPING":
        if wait:  # stopped already (by a sweep that did not wait): wait for it
            description = await wait_for(
                client, arn, {"STOPPED", "FAILED"}, poll_s=poll_s, on_status=on_status
            )
    else:
        await registry.stopped(arn)  # it stopped some other way: close the record now
    return _state(
        description,
        await registry.get(arn),
        time.time(),
        prices,
        stopped_for_deadline=stopped_for_deadline,
    )


async def model_states(
    client: Any,
    arns: Collection[str] = (),
    *,
    registry: Registry | None = None,
    enforce_deadlines: bool = True,
    prices: CustomLabelsPrices = PRICES,
) -> list[ModelState]:
    """The models ``arns`` (default: every model asyncfilter started), with their cost so far.

    With ``enforce_deadlines`` a model asyncfilter started whose ``max_hours`` deadline has
    passed is stopped here (without waiting for STOPPED) and reported so.
    """
    registry = registry if registry is not None else Registry()
    records = await registry.all()
    wanted = list(arns) or sorted(records)
    states = []
    for arn in wanted:
        record = records.get(arn)
        try:
            description = await describe_version(client, arn)
        except CustomLabelsError as exc:
            if arn in arns:
                raise
            # a model in the record that the service no longer knows (deleted, another
            # account): say so and go on with the others
            description = {"ProjectVersionArn": arn, "Status": "UNKNOWN", "StatusMessage": str(exc)}
        now = time.time()
        overdue = (
            enforce_deadlines
            and record is not None
            and record.deadline is not None
            and record.deadline <= now
            and description["Status"] in LIVE
        )
        if overdue:
            states.append(
                await stop_model(
                    client, arn, registry=registry, wait=False, prices=prices,
                    stopped_for_deadline=True,
                )
            )  # fmt: skip
        else:
            if record is not None and record.running and description["Status"] in STOPPED:
                # stopped by someone else (the console, a sweep's last resort): close the
                # record now, so its cost stops growing; it was billed until some time before
                await registry.stopped(arn, at=now)
                record = await registry.get(arn)
            states.append(_state(description, record, now, prices))
    return states


async def check_model_running(client: Any, arn: str) -> dict[str, Any]:
    """The model's description, or :class:`ModelNotRunning` saying how to start it."""
    description = await describe_version(client, arn)
    if description["Status"] != "RUNNING":
        raise ModelNotRunning(
            f"model {arn} is {description['Status']}, not RUNNING: start it with "
            f"`asyncfilter model start {arn}` (it costs "
            f"${PRICES.inference_per_unit_hour:.2f} per inference-unit hour while it runs)",
            code=None,
        )
    return description
