"""``asyncfilter model start|stop|status``: a running model costs money by the hour.

``start --max-hours H`` records a deadline; ``model status`` (run it by hand or from cron) stops
every model asyncfilter started whose deadline has passed. Nothing here stops a model that
asyncfilter did not start.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import click
import orjson

from .._custom._pricing import PRICES
from ._aws_options import aws_options

if TYPE_CHECKING:  # the AWS stack is imported when a command runs, not for --help
    from .._custom._models import ModelState

T = TypeVar("T")


def model_options(command: Any) -> Any:
    """The AWS options of a ``model`` command, and how often it polls while waiting."""
    command = click.option(
        "--poll-seconds", type=click.FloatRange(min=0.01), default=10.0, show_default=True,
        help="How often to ask the service while waiting.",
    )(command)  # fmt: skip
    return aws_options(rekognition=True)(command)


def with_client(opts: dict[str, Any], work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(client)`` with a Custom Labels client built from the options."""

    from .._custom._calls import open_rekognition

    async def run() -> T:
        async with AsyncExitStack() as stack:
            client = await open_rekognition(
                stack,
                region=opts["region"],
                profile=opts["profile"],
                endpoint_url=opts["rekognition_endpoint_url"],
            )
            return await work(client)

    result: T = anyio.run(run, backend="asyncio")
    return result


def status_printer(
    every_s: float = 600.0, clock: Callable[[], float] = time.monotonic
) -> Callable[[dict[str, Any]], None]:
    """Print a model's status on stderr when it changes, and every ``every_s`` while it does
    not (training takes hours: a silent terminal looks like a hung one)."""
    last = [""]
    since = [clock(), clock()]  # when the status began, when it was last said

    def show(description: dict[str, Any]) -> None:
        status, now = str(description["Status"]), clock()
        if status != last[0]:
            last[0], since[0], since[1] = status, now, now
            click.echo(f"  {status}", err=True)
        elif now - since[1] >= every_s:
            since[1] = now
            click.echo(f"  still {status} after {(now - since[0]) / 60:.0f} min", err=True)

    return show


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def state_line(state: ModelState, now: float | None = None) -> str:
    now = time.time() if now is None else now
    parts = [state.arn, state.status]
    if state.units:
        parts.append(f"{state.units} unit{'s' if state.units != 1 else ''}")
    if state.cost_usd is not None and state.unit_hours is not None:
        parts.append(f"{state.unit_hours:.3f} unit-hours, ${state.cost_usd:,.2f} so far")
    elif state.status in ("RUNNING", "STARTING"):
        parts.append(
            f"not started by asyncfilter: cost so far unknown, "
            f"${PRICES.inference_per_unit_hour:.2f} per unit-hour while it runs"
        )
    if state.stopped_for_deadline:
        parts.append("STOPPED BY asyncfilter: its --max-hours deadline had passed")
    elif state.deadline is not None:
        left = (state.deadline - now) / 3600
        parts.append(f"deadline {_when(state.deadline)} ({left:+.1f} h)")
    return "  ".join(parts)


@click.group()
def model() -> None:
    """Start, stop and watch Custom Labels models (a running model costs money by the hour)."""


@model.command()
@click.argument("arn")
@click.option(
    "--units",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Inference units (each one billed per hour).",
)
@click.option(
    "--max-hours",
    type=click.FloatRange(min=0, min_open=True),
    help="Record a deadline: `asyncfilter model status` stops the model after it.",
)
@click.option("--no-wait", is_flag=True, help="Return once StartProjectVersion is accepted.")
@click.option("--json", "as_json", is_flag=True, help="Print the model(s) as JSON.")
@model_options
def start(**opts: Any) -> int:
    """StartProjectVersion: the model answers DetectCustomLabels once RUNNING."""
    from .._custom._models import start_model

    arn: str = opts["arn"]
    click.echo(
        f"starting {arn} with {opts['units']} inference unit(s): "
        f"${PRICES.inference_per_unit_hour * opts['units']:.2f} an hour until it is stopped",
        err=True,
    )
    state = with_client(
        opts,
        lambda client: start_model(
            client,
            arn,
            units=opts["units"],
            max_hours=opts["max_hours"],
            wait=not opts["no_wait"],
            poll_s=opts["poll_seconds"],
            on_status=status_printer(),
        ),
    )
    _print_states([state], opts["as_json"])
    if not opts["as_json"]:
        click.echo(f"stop it with: asyncfilter model stop {arn}")
        if state.deadline is not None:
            click.echo(
                f"`asyncfilter model status` stops it once {_when(state.deadline)} has passed "
                "(run it from cron to be sure)"
            )
    return 0


@model.command()
@click.argument("arn")
@click.option("--no-wait", is_flag=True, help="Return once StopProjectVersion is accepted.")
@click.option("--json", "as_json", is_flag=True, help="Print the model(s) as JSON.")
@model_options
def stop(**opts: Any) -> int:
    """StopProjectVersion: billing ends once the model is stopped."""
    from .._custom._models import stop_model

    state = with_client(
        opts,
        lambda client: stop_model(
            client,
            opts["arn"],
            wait=not opts["no_wait"],
            poll_s=opts["poll_seconds"],
            on_status=status_printer(),
        ),
    )
    _print_states([state], opts["as_json"])
    return 0


@model.command()
@click.argument("arns", nargs=-1, metavar="[ARN]...")
@click.option("--no-enforce", is_flag=True,
              help="Only report: do not stop models past their --max-hours deadline.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the model(s) as JSON.")
@model_options
def status(**opts: Any) -> int:
    """The models asyncfilter started (or those given): status and cost so far.

    Stops every model asyncfilter started whose --max-hours deadline has passed.
    """
    from .._custom._models import model_states
    from .._custom._registry import Registry

    registry = Registry()
    states = with_client(
        opts,
        lambda client: model_states(
            client, opts["arns"], registry=registry, enforce_deadlines=not opts["no_enforce"]
        ),
    )
    if not states and not opts["as_json"]:
        click.echo(f"no model started by asyncfilter (record: {registry.path})")
    _print_states(states, opts["as_json"])
    return 0


def _print_states(states: list[ModelState], as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps([s.to_dict() for s in states], option=orjson.OPT_APPEND_NEWLINE)
        )
        sys.stdout.flush()
        return
    for state in states:
        click.echo(state_line(state))
