"""``asyncfilter train``: a Custom Labels model from a ledger, with the cost asked first.

Exit codes as everywhere: 0 trained; 1 the service refused or training failed (its message as
it is); 2 bad input (the pre-flight checks, with the fix); 130 interrupted, which leaves
training running on the service (it cannot be cancelled there) and says how to follow it.
"""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import click
import orjson

from .._errors import ConfigError
from ._aws_options import aws_options
from ._model import status_printer

if TYPE_CHECKING:  # the AWS stack is imported when a command runs, not for --help
    from .._custom._evaluation import TrainingResult
    from .._custom._training import TrainingPlan

EXIT_INTERRUPTED = 130


@click.command()
@click.option("--state", type=click.Path(dir_okay=False), help="The sweep's ledger (read only).")
@click.option("--name", help="The class to train: the folder the sweep copied hits into.")
@click.option("--project", required=True, help="Custom Labels project (created, or reused).")
@click.option(
    "--negatives",
    multiple=True,
    metavar="rejected|misses|LABEL",
    help="The other class(es): images a reviewer rejected, a sample of misses, or "
    "another folder of the ledger (repeatable).",
)
@click.option(
    "--test-split",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of each label held out for testing.",
)
@click.option("--seed", type=int, help="Makes the miss sample and the split reproducible.")
@click.option(
    "--output",
    metavar="s3://BUCKET[/PREFIX]",
    help="Manifests and training output (default: TRAINING-BUCKET/_train/PROJECT/).",
)
@click.option(
    "--detection",
    is_flag=True,
    help="Train object detection from the stored boxes (default: classification).",
)
@click.option("--version", "version_name", help="Model version name (default: NAME-TIMESTAMP).")
@click.option("--yes", is_flag=True, help="Do not ask before spending.")
@click.option(
    "--status",
    "follow",
    is_flag=True,
    help="Follow the project's latest training instead of starting one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@aws_options(s3=True, rekognition=True)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.01),
    default=30.0,
    show_default=True,
    help="How often to ask the service while waiting.",
)
def train(**opts: Any) -> int:
    """Train a Rekognition Custom Labels model from the images a sweep kept."""
    if not opts["follow"] and not (opts["state"] and opts["name"]):
        raise ConfigError("train needs --state LEDGER and --name CLASS (or --status to follow)")
    started: list[str] = []
    try:
        code: int = anyio.run(_train, opts, started, backend="asyncio")
    except KeyboardInterrupt:
        if started or opts["follow"]:
            click.echo(
                "interrupted: training goes on at the service (it cannot be cancelled and is "
                "billed until it ends); follow it with: asyncfilter train --status "
                f"--project {opts['project']}",
                err=True,
            )
        else:
            click.echo("interrupted before training started: nothing is being trained", err=True)
        return EXIT_INTERRUPTED
    return code


async def _train(opts: dict[str, Any], started: list[str]) -> int:
    from .._clients import open_plain_s3, session_for
    from .._custom._calls import open_rekognition
    from .._custom._evaluation import follow_training, latest_version
    from .._custom._training import plan_training, run_training

    session = session_for(profile=opts["profile"], region=opts["region"])
    async with AsyncExitStack() as stack:
        s3 = await open_plain_s3(stack, session, endpoint_url=opts["s3_endpoint_url"])
        client = await open_rekognition(
            stack, session=session, endpoint_url=opts["rekognition_endpoint_url"]
        )
        if opts["follow"]:
            arn = await latest_version(client, opts["project"])
            click.echo(f"following {arn}", err=True)
            result = await follow_training(
                client, s3, arn, poll_s=opts["poll_seconds"], on_status=status_printer()
            )
        else:
            plan = await plan_training(
                opts["state"],
                opts["name"],
                opts["project"],
                s3=s3,
                negatives=opts["negatives"],
                test_split=opts["test_split"],
                seed=opts["seed"],
                output=opts["output"],
                detection_model=opts["detection"],
                version=opts["version_name"],
            )
            click.echo(plan_text(plan), err=True)
            if not opts["yes"]:
                if not sys.stdin.isatty():
                    raise ConfigError("training is billed: pass --yes to train without a prompt")
                if not click.confirm("start training?", default=False, err=True):
                    click.echo("nothing was trained", err=True)
                    return 0
            result = await run_training(
                plan,
                client=client,
                s3=s3,
                poll_s=opts["poll_seconds"],
                on_event=lambda line: click.echo(line, err=True),
                on_version=started.append,
                on_status=status_printer(),
            )
    if opts["as_json"]:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
        sys.stdout.flush()
    else:
        click.echo(result_text(result))
    return 0


def plan_text(plan: TrainingPlan) -> str:
    dataset, prices = plan.dataset, plan.prices
    kind = "object detection" if dataset.detection else "classification"
    lines = [f"{kind} model {plan.version} in project {plan.project}:"]
    lines.append(f"  {'label':<24} {'train':>7} {'test':>7}")
    for label, (n_train, n_test) in dataset.counts().items():
        lines.append(f"  {label:<24} {n_train:>7,} {n_test:>7,}")
    if dataset.excluded:
        reasons = "; ".join(f"{why}: {n:,}" for why, n in sorted(dataset.excluded.items()))
        lines.append(f"left out {sum(dataset.excluded.values()):,} images ({reasons})")
    if plan.header_reads:
        lines.append(f"read {plan.header_reads:,} image headers from S3 for their size")
    if dataset.copies:
        lines.append(
            f"will copy {len(dataset.copies):,} images into s3://{dataset.bucket}/_train/"
            f"{plan.project}/ (a data set reads one bucket; S3 copies, no Rekognition cost)"
        )
    lines.append(f"manifests: {plan.train_manifest}  {plan.test_manifest}")
    lines.extend(f"warning: {warning}" for warning in dataset.warnings)
    low, high = prices.typical_training_hours
    lines.append(
        f"cost: training is billed at ${prices.training_per_hour:.2f} per hour of training; the "
        f"service decides how long (small sets often take {low:g}-{high:g} h: about "
        f"${low * prices.training_per_hour:.2f}-${high * prices.training_per_hour:.2f})"
    )
    lines.append(
        f"      the trained model costs nothing until started; then "
        f"${prices.inference_per_unit_hour:.2f} per inference-unit hour until stopped"
    )
    return "\n".join(lines)


def result_text(result: TrainingResult) -> str:
    lines = [f"{result.status}: {result.arn}"]
    if result.f1 is not None:
        lines.append(f"F1 {result.f1:.3f}")
    if result.labels:
        lines.append(f"  {'label':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'test':>5}")
        lines.extend(
            f"  {s.label:<24} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.test_images:>5}"
            for s in result.labels
        )
    if result.summary:
        lines.append(f"evaluation summary: {result.summary}")
    if result.training_cost_usd is not None:
        lines.append(
            f"billed training time {result.billable_seconds:,} s: ${result.training_cost_usd:,.2f}"
        )
    lines.append(
        f"next: asyncfilter model start {result.arn} --max-hours 2  (then scan with it; "
        f"stop it with asyncfilter model stop {result.arn})"
    )
    return "\n".join(lines)
