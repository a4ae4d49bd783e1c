"""The ``asyncfilter`` command: ``scan``, ``plan``, ``export``, and, to try it all without
AWS, ``playground``, ``emulator`` and ``demo``.

Exit codes: 0 finished or stopped by a rule; 1 aborted by an error; 2 bad usage or
configuration; 130 interrupted. Every error is one line on stderr, before anything is paid.

Modules that need the AWS stack are imported inside the commands that use them, so that
``asyncfilter --help`` answers at once.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import anyio
import click
import orjson

from .._config import S3Location, ScanConfig
from .._errors import ConfigError, ExportError, SweepAborted
from .._export import FORMAT_HELP
from .._results import Report, StopReason
from ._aws_options import aws_options
from ._dupes import dupes as dupes_command
from ._logging import configure_logging
from ._model import model as model_command
from ._review import review as review_command
from ._train import train as train_command

if TYPE_CHECKING:
    from rich.console import Console

    from .._export import ExportReport
    from .._scan import Sweep

EXIT_OK, EXIT_ABORTED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_positive = click.IntRange(min=1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="asyncfilter")
def cli() -> None:
    """Keep only the images in S3 that Amazon Rekognition says show what you want."""


cli.add_command(model_command)
cli.add_command(train_command)


def sweep_options(command: Any) -> Any:
    """The options ``scan`` and ``plan`` share: a plan is a scan that does not pay."""
    options = [
        click.argument("source", metavar="s3://SOURCE[/PREFIX]"),
        click.option("--dest", required=True, metavar="s3://DEST[/PREFIX]", help="Where hits go."),
        click.option("--label", "labels", multiple=True, required=True,
                     help="Wanted label (repeatable)."),
        click.option("--threshold", type=click.FloatRange(0, 100), default=80.0,
                     show_default=True,
                     help="Confidence (0-100) a wanted label needs for a hit; sent as "
                     "MinConfidence."),
        click.option("--review-threshold", type=click.FloatRange(0, 100),
                     help="Copy images whose best wanted label is at least this confident, but "
                     "below --threshold, to a review location (not counted toward --target)."),
        click.option("--miss-floor", type=click.FloatRange(0, 100),
                     help="Also keep labels down to this confidence in the stored answers (sent "
                     "as MinConfidence; outcomes unchanged), so `review --outcome miss` can show "
                     "misses whose wanted label was seen below the band."),
        click.option("--review-dest", metavar="s3://BUCKET[/PREFIX]",
                     help="Where review images go (default: DEST[/PREFIX]/_review)."),
        click.option("--name", help="Folder name for hits (default: the first label)."),
        click.option("--target", type=_positive, help="Stop after copying this many hits."),
        click.option("--max-scan", type=_positive,
                     help="Never make more than this many paid calls (across resumed runs)."),
        click.option("--budget-usd", type=click.FloatRange(min=0, min_open=True),
                     help="Stop before the estimated spend would pass this (across runs)."),
        click.option("--miss-cutoff", type=_positive,
                     help="Stop after this many misses in a row: catches a typo or a wrong "
                     "bucket fast; it cannot judge the data (see --min-hit-rate)."),
        click.option("--min-hit-rate", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                     help="Stop once the hit rate is below this share with 95% confidence "
                     "(anytime-valid; e.g. 0.05)."),
        click.option("--order", type=click.Choice(["random", "listing"]),
                     help="Sweep in a random order (default with a ledger: every prefix is a "
                     "fair sample, so the estimate holds) or in listing order (streams at once)."),
        click.option("--seed", type=int,
                     help="The random order's seed (default: derived from the sweep, so a "
                     "resume continues the same order)."),
        click.option("--concurrency", type=_positive, default=32, show_default=True,
                     help="DetectLabels calls in flight at once (the rate is set by --tps)."),
        click.option("--tps", type=click.FloatRange(min=0, min_open=True), default=50.0,
                     show_default=True,
                     help="DetectLabels calls per second (keep it at or under your quota)."),
        click.option("--fixed-rate", is_flag=True,
                     help="Keep --tps fixed instead of halving it on throttling (AIMD)."),
        click.option("--max-labels", type=_positive, help="MaxLabels sent to DetectLabels."),
        click.option("--queue-size", type=_positive,
                     help="Listed keys buffered ahead of the workers."),
        click.option("--page-size", type=click.IntRange(1, 1000), default=1000,
                     show_default=True, help="Keys per ListObjectsV2 page."),
        click.option("--list-concurrency", type=_positive, default=64, show_default=True,
                     help="ListObjectsV2 paginators listing parts of SOURCE at once."),
        click.option("--inventory", metavar="s3://BUCKET/PREFIX/.../manifest.json",
                     help="List SOURCE from this S3 Inventory report (or the newest under an "
                     "inventory destination) instead of ListObjectsV2."),
        click.option("--s3-max-attempts", type=_positive, default=5, show_default=True,
                     help="Attempts per S3 request before a listing aborts or a copy fails."),
        click.option("--max-error-rate", type=click.FloatRange(0, 1, min_open=True),
                     help="Abort when more than this share of the last 50 images failed."),
        click.option("--no-dedupe", is_flag=True,
                     help="Pay for every object, even copies of the same bytes (same size and "
                     "ETag), which are otherwise answered once."),
        click.option("--state", type=click.Path(dir_okay=False),
                     help="The ledger file (default: one per source under ~/.cache/asyncfilter)."),
        click.option("--no-state", is_flag=True,
                     help="Keep no ledger: nothing is resumed or reused, every image is paid."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("--log-format", type=click.Choice(["auto", "console", "json"]),
                     default="auto", show_default=True,
                     help="Logs on stderr: console on a terminal, JSON lines elsewhere."),
        click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
                     default="warning", show_default=True,
                     help="info: start, stop rules, summary; debug: every page, retry and image."),
    ]  # fmt: skip
    command = aws_options(s3=True, rekognition=True, owner=True)(command)  # listed last
    for option in reversed(options):
        command = option(command)
    return command


def loop_options() -> dict[str, Any]:
    """uvloop when it is installed (the ``fast`` extra): the sweep's client spends its CPU in
    the event loop and in botocore, and uvloop's loop costs less per request (measured in
    ``make bench``). ``ASYNCFILTER_LOOP=asyncio`` keeps the standard loop."""
    if os.environ.get("ASYNCFILTER_LOOP", "auto") == "asyncio":
        return {}
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


def config_from(opts: dict[str, Any]) -> ScanConfig:
    """Build and validate the configuration (ConfigError: exit 2, nothing paid)."""
    state = None
    if not opts["no_state"]:
        source = S3Location.parse(opts["source"], what="source")
        # the S3 service is part of the ledger's identity: the same bucket name at another
        # endpoint (MinIO, another provider) is another bucket
        endpoint = (
            opts["s3_endpoint_url"]
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        from .._ledger import default_state_path

        state = opts["state"] or str(default_state_path(source.bucket, source.prefix, endpoint))
    return ScanConfig(
        source=opts["source"],
        dest=opts["dest"],
        labels=tuple(opts["labels"]),
        threshold=opts["threshold"],
        review_threshold=opts["review_threshold"],
        review=opts["review_dest"],
        miss_floor=opts.get("miss_floor"),
        name=opts["name"],
        target=opts["target"],
        max_scan=opts["max_scan"],
        budget_usd=opts["budget_usd"],
        miss_cutoff=opts["miss_cutoff"],
        min_hit_rate=opts["min_hit_rate"],
        order=opts["order"],
        seed=opts["seed"],
        concurrency=opts["concurrency"],
        tps=opts["tps"],
        adaptive=not opts["fixed_rate"],
        max_labels=opts["max_labels"],
        queue_size=opts["queue_size"],
        page_size=opts["page_size"],
        list_concurrency=opts["list_concurrency"],
        inventory=opts["inventory"],
        s3_max_attempts=opts["s3_max_attempts"],
        expected_bucket_owner=opts["expected_bucket_owner"],
        max_error_rate=opts["max_error_rate"],
        dedupe=not opts["no_dedupe"],
        state=state,
        region=opts["region"],
        profile=opts["profile"],
        s3_endpoint_url=opts["s3_endpoint_url"],
        rekognition_endpoint_url=opts["rekognition_endpoint_url"],
    )


_FORMAT_CHOICE = click.Choice(list(FORMAT_HELP))


@cli.command()
@sweep_options
@click.option("--results", type=click.Path(dir_okay=False), help="Write per-image JSON Lines here.")
@click.option("--progress/--no-progress", default=None, help="Live progress (default: on a TTY).")
@click.option(
    "--manifest",
    "manifests",
    multiple=True,
    type=_FORMAT_CHOICE,
    help="Export this format from the ledger as the sweep ends (repeatable).",
)
@click.option("--manifest-to", metavar="DIR|s3://BUCKET[/PREFIX]",
              help="Where --manifest writes (default: DEST[/PREFIX]/_manifests).")  # fmt: skip
@click.option(
    "--model",
    metavar="ARN",
    help="Ask this Custom Labels model (DetectCustomLabels) instead of DetectLabels.",
)
@click.option(
    "--start-model",
    is_flag=True,
    help="Start --model for this sweep and stop it however the sweep ends.",
)
@click.option("--model-units", type=_positive, default=1, show_default=True,
              help="Inference units when --start-model starts the model.")  # fmt: skip
def scan(**opts: Any) -> int:
    """Sweep SOURCE, copy images that show a wanted label to DEST/<name>/<key>.

    \b
    Examples:
      # up to 500 robins at 80% confidence, at most $10, 50 calls a second
      asyncfilter scan s3://scraped/robin/ --dest s3://training --label Robin \\
          --threshold 80 --target 500 --budget-usd 10 --tps 50
      # keep a review band (60-80%) for a person, and write a Custom Labels manifest
      asyncfilter scan s3://scraped/robin/ --dest s3://training --label Robin \\
          --review-threshold 60 --manifest gt-classification
      # against the local playground (see `asyncfilter playground`)
      asyncfilter scan s3://demo-scraped --dest s3://demo-training --label Robin
      # with a Custom Labels model (`asyncfilter train`), started and stopped for the sweep
      asyncfilter scan s3://scraped-2/ --dest s3://training --label Robin \\
          --model arn:aws:rekognition:...:project/robins/version/... --start-model

    A ledger (--state) remembers every answer: a second run, a resume after Ctrl-C, or a scan
    with another label or a higher threshold pays nothing twice. See `asyncfilter plan` to
    see what a scan would cost first.
    """
    from ._scan_model import config_for_model

    if opts["start_model"] and not opts["model"]:
        raise ConfigError("--start-model needs --model ARN")
    config = config_for_model(config_from(opts), opts["model"], bool(opts["state"]))
    manifests: tuple[str, ...] = opts["manifests"]
    if manifests and config.state is None:
        raise ConfigError("--manifest exports from the ledger: it cannot be used with --no-state")
    if opts["manifest_to"] and not manifests:
        raise ConfigError("--manifest-to needs at least one --manifest FORMAT")
    to = opts["manifest_to"] or f"s3://{config.dest.bucket}/{config.dest.folder}_manifests/"
    configure_logging(opts["log_format"], opts["log_level"])
    progress = opts["progress"] if opts["progress"] is not None else sys.stderr.isatty()
    code: int = anyio.run(
        _scan,
        config,
        opts["results"],
        opts["as_json"],
        progress,
        (manifests, to),
        (opts["model"], opts["start_model"], opts["model_units"]),
        backend="asyncio",
        backend_options=loop_options(),
    )
    return code


async def _scan(
    config: ScanConfig,
    results: str | None,
    as_json: bool,
    progress: bool,
    manifests: tuple[tuple[str, ...], str] = ((), ""),
    model: tuple[str | None, bool, int] = (None, False, 1),
) -> int:
    from rich.console import Console

    from .._export import export
    from .._scan import open_scan
    from ._output import ResultsWriter, export_text, show_progress, summary_text
    from ._scan_model import MODEL_COST_NOTE, model_cost_line, model_detector

    console = Console(stderr=True)
    writer = ResultsWriter(results) if results else None
    report: Report | None = None
    config_error: ConfigError | None = None
    code = EXIT_OK
    try:
        async with anyio.create_task_group() as tg:
            try:
                async with (
                    model_detector(config, model[0], start=model[1], units=model[2]) as detector,
                    open_scan(config, detector=detector) as sweep,
                ):
                    tg.start_soon(_watch_signals, sweep, console)
                    if progress:
                        tg.start_soon(show_progress, sweep, console, config.target)
                    async for result in sweep:
                        if writer is not None:
                            writer.write(result)
                report = sweep.report
            except SweepAborted as exc:
                report = exc.report
                console.print(
                    f"asyncfilter: error: {exc}", markup=False, highlight=False, soft_wrap=True
                )
                code = EXIT_ABORTED
            except ConfigError as exc:
                config_error = exc  # raised below, outside the task group, as itself
            finally:
                tg.cancel_scope.cancel()
    finally:
        if writer is not None:
            writer.close()
    if config_error is not None:
        raise config_error
    exported: ExportReport | None = None
    formats, to = manifests
    if formats and code == EXIT_OK and config.state is not None:
        # after the sweep has closed the ledger; an export failure keeps the sweep's summary
        try:
            exported = await export(
                config.state,
                formats,
                to,
                names=[config.folder_name],
                region=config.region,
                profile=config.profile,
                s3_endpoint_url=config.s3_endpoint_url,
                expected_bucket_owner=config.expected_bucket_owner,
            )
        except ExportError as exc:
            console.print(
                f"asyncfilter: error: {exc}", markup=False, highlight=False, soft_wrap=True
            )
            code = EXIT_ABORTED
    if report is not None:
        if as_json:
            summary = report.to_dict()
            if exported is not None:
                summary["exports"] = exported.to_dict()
            sys.stdout.buffer.write(orjson.dumps(summary, option=orjson.OPT_APPEND_NEWLINE))
            sys.stdout.flush()
        else:
            click.echo(summary_text(report))
            if exported is not None:
                click.echo(export_text(exported))
            if model[0] is not None:
                click.echo(MODEL_COST_NOTE)
                click.echo(await model_cost_line(model[0]))
        if code == EXIT_OK and report.stop_reason is StopReason.INTERRUPTED:
            code = EXIT_INTERRUPTED
    return code


async def _watch_signals(sweep: Sweep, console: Console) -> None:
    """First SIGINT/SIGTERM: stop gracefully. Second: leave at once."""
    from ._scan_model import last_resort

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        received = 0
        async for _ in signals:
            received += 1
            if received > 1:
                # leave the terminal on a clean line with its cursor back: the live progress
                # line has no newline and hides the cursor while it is drawn
                console.show_cursor(True)
                console.file.write("\n")
                console.file.flush()
                last_resort()  # a model this sweep started is stopped even now
                os._exit(EXIT_INTERRUPTED)
            sweep.request_stop()
            console.print(
                "stopping: finishing the calls and copies in flight (again to quit now)",
                markup=False,
                highlight=False,
            )


@cli.command()
@sweep_options
@click.option(
    "--model",
    metavar="ARN",
    help="Plan a sweep with this Custom Labels model (billed per inference-unit hour).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    metavar="K",
    help="Pay for K answers on a random sample first (kept in the ledger: the sweep "
    "reuses them for free) and estimate the hit rate and what the target will cost.",
)
def plan(**opts: Any) -> int:
    """Show what a scan would send, what the ledger answers already, and the cost.

    Without --sample it makes no DetectLabels call; what the ledger already knows of the
    sweep's random order gives the estimate, when it knows anything.
    """
    from .._plan import plan as make_plan
    from ._estimate_text import estimate_text, forecast_text, sample_text
    from ._scan_model import config_for_model, inference_cost_line, model_identity

    arn: str | None = opts["model"]
    config = config_for_model(config_from(opts), arn, bool(opts["state"]))
    configure_logging(opts["log_format"], opts["log_level"])
    sample = opts["sample"] or 0
    if sample and arn:
        raise ConfigError("--sample asks DetectLabels: with --model, sample with scan --max-scan")
    identity = model_identity(arn) if arn else None
    forecast = anyio.run(
        lambda: make_plan(config, sample=sample, detector_id=identity), backend="asyncio"
    )
    if opts["as_json"]:
        sys.stdout.buffer.write(orjson.dumps(forecast.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
        return EXIT_OK
    skipped = sum(forecast.skipped_by_reason.values())
    if forecast.listing:
        listing = forecast.listing
        click.echo(
            f"listed {listing['keys']:,} keys in {listing['pages']:,} pages in "
            f"{listing['seconds']:.1f} s (listing costs about ${listing['cost_usd']:.4f})"
        )
    click.echo(
        f"listed {forecast.listed:,}  skipped {skipped:,}  answered by the ledger "
        f"{forecast.answered_by_ledger:,}  to send {forecast.to_send:,}"
    )
    seconds = forecast.estimated_seconds
    if arn:  # billed by the model's running time, not per image
        click.echo(inference_cost_line(forecast.would_send, config.tps))
    else:
        click.echo(
            f"would send {forecast.would_send:,} calls: estimated "
            f"${forecast.estimated_cost_usd:,.3f}"
            + (f", about {seconds:,.0f} s at {config.tps:g} calls/s" if seconds is not None else "")
        )
    estimate = forecast.hit_rate
    if estimate is not None and sample:
        click.echo(sample_text(estimate, config.folder_name, forecast.forecast,
                               target=config.target, calls_per_s=config.tps))  # fmt: skip
    elif estimate is not None:
        click.echo("from the ledger's answers: " + estimate_text(estimate))
        if forecast.forecast is not None and config.target is not None:
            click.echo(forecast_text(forecast.forecast, target=config.target,
                                     calls_per_s=config.tps))  # fmt: skip
    if forecast.hint:
        click.echo(forecast.hint)
    for note in forecast.notes:
        click.echo(f"note: {note}")
    return EXIT_OK


@cli.command(name="export")
@click.option(
    "--state",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The ledger file to export.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=_FORMAT_CHOICE,
    help="Repeatable. Default: jsonl, the whole ledger.",
)
@click.option(
    "--to",
    "-o",
    "to",
    metavar="DIR|s3://BUCKET[/PREFIX]",
    help="Where to write (default: stdout for jsonl alone, else required).",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(["hit", "review"]),
    help="Copied images to export (default: hits; review for labelstudio).",
)
@click.option("--name", "names", multiple=True, help="Only this class (copy folder); repeatable.")
@click.option(
    "--negatives",
    is_flag=True,
    help="gt-classification: add the images rejected on the review page as class not-<name>.",
)
@click.option(
    "--job-name",
    default="asyncfilter",
    show_default=True,
    help="Ground Truth's job-name and COCO's contributor.",
)
@click.option(
    "--one-per-group",
    is_flag=True,
    help="Keep one image per near-copy group (see `asyncfilter dupes`): the most confident.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@aws_options(s3=True, owner=True)
def export_command(**opts: Any) -> int:
    """Write the ledger's copied images as training manifests, without a Rekognition call.

    \b
    Formats:
    """
    from .._export import export
    from ._output import export_text

    formats: tuple[str, ...] = opts["formats"] or ("jsonl",)
    to: str | None = opts["to"]
    if to in (None, "-"):
        if opts["one_per_group"]:
            raise ConfigError("--one-per-group applies to manifests: pass --format and --to")
        if formats != ("jsonl",):
            raise ConfigError("--to DIR or s3://BUCKET/PREFIX is required for these formats")
        return _ledger_to_stdout(opts["state"])
    report: ExportReport = anyio.run(
        lambda: export(
            opts["state"],
            formats,
            to,
            outcomes=opts["outcomes"] or None,
            names=opts["names"] or None,
            region=opts["region"],
            profile=opts["profile"],
            s3_endpoint_url=opts["s3_endpoint_url"],
            expected_bucket_owner=opts["expected_bucket_owner"],
            job_name=opts["job_name"],
            negatives=opts["negatives"],
            one_per_group=opts["one_per_group"],
        ),
        backend="asyncio",
    )
    if opts["as_json"]:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        click.echo(export_text(report))
    return EXIT_OK


export_command.help = (export_command.help or "") + "".join(
    f"  {name:<18} {line}\n" for name, line in FORMAT_HELP.items()
)


def _ledger_to_stdout(state: str) -> int:
    from .._export._run import ledger_jsonl
    from .._ledger import Ledger

    async def rows() -> list[dict[str, Any]]:
        ledger = await Ledger.open(state)
        try:
            return await ledger.rows()
        finally:
            await ledger.aclose()

    sys.stdout.buffer.write(ledger_jsonl(anyio.run(rows, backend="asyncio")))
    return EXIT_OK


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0 picks a free port.")
@click.option(
    "--labels",
    "labels_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Labels file (JSON Lines).",
)
@click.option("--s3-endpoint-url", help="Where to read objects from (moto, MinIO, S3).")
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Time each answer takes, as the service's would.",
)
@click.option(
    "--jitter-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Random spread around --latency-ms.",
)
@click.option("--tps", type=click.FloatRange(min=0, min_open=True), help="Quota before throttling.")
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of calls answered with --error-code.",
)
@click.option(
    "--error-code",
    default="InternalServerError",
    show_default=True,
    help="The error injected by --error-rate.",
)
@click.option(
    "--object-check/--no-object-check",
    default=True,
    help="Read each object from S3 to reject what the real service rejects.",
)
@click.option("--seed", type=int, help="Seed for latency and injected faults (repeatable runs).")
def emulator(**opts: Any) -> int:
    """Run the local Rekognition emulator (DetectLabels, Custom Labels) on 127.0.0.1."""
    from ..testing._emulator import EmulatorSettings, RekognitionEmulator
    from ..testing._labels import LabelStore

    try:
        store = LabelStore.from_file(opts["labels_file"]) if opts["labels_file"] else LabelStore()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings = EmulatorSettings(
        latency_ms=opts["latency_ms"],
        jitter_ms=opts["jitter_ms"],
        tps=opts["tps"],
        error_rate=opts["error_rate"],
        error_code=opts["error_code"],
        check_objects=opts["object_check"],
        s3_endpoint_url=opts["s3_endpoint_url"],
        seed=opts["seed"],
    )

    async def serve() -> None:
        async with RekognitionEmulator(store, settings).serve(opts["port"]) as url:
            click.echo(f"Rekognition emulator listening on {url}")
            sys.stdout.flush()
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    return

    anyio.run(serve, backend="asyncio")
    return EXIT_OK


@cli.command()
@click.option("--empty", is_flag=True, help="Start with no buckets (seed your own).")
@click.option(
    "--images",
    type=click.IntRange(50, 3000),
    default=300,
    show_default=True,
    help="How many demo images to seed.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="How long the emulator takes to answer, like the real service.",
)
@click.option(
    "--tps",
    type=click.FloatRange(min=0, min_open=True),
    default=40.0,
    show_default=True,
    help="The emulator's quota: calls above it are throttled.",
)
def playground(empty: bool, images: int, latency_ms: float, tps: float) -> int:
    """Run local S3 (moto) and the Rekognition emulator until Ctrl-C, to try asyncfilter by
    hand: prints the environment to export and a scan line to paste in another terminal."""
    from ..testing._playground import run_playground

    return run_playground(images=images, seeded=not empty, latency_ms=latency_ms, tps=tps,
                          echo=click.echo)  # fmt: skip


@cli.command()
@click.option(
    "--images",
    type=click.IntRange(50, 3000),
    default=300,
    show_default=True,
    help="How many images the demo bucket holds.",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Seed for the demo's images and labels."
)
@click.option("--review", is_flag=True, help="Then serve the review page of its band.")
def demo(images: int, seed: int, review: bool) -> int:
    """A real sweep over HTTP against local moto S3 and the emulator: no AWS account needed."""
    from ..testing._demo import run_demo

    return run_demo(images=images, seed=seed, review_page=review)


cli.add_command(review_command)


cli.add_command(dupes_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: turn every expected failure into one line and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="asyncfilter", standalone_mode=False)
    except click.exceptions.Abort:
        code = EXIT_INTERRUPTED
    except click.ClickException as exc:
        click.echo(f"asyncfilter: error: {exc.format_message()}", err=True)
        code = EXIT_USAGE
    except ConfigError as exc:
        click.echo(f"asyncfilter: error: {exc}", err=True)
        code = EXIT_USAGE
    except (SweepAborted, ExportError) as exc:
        click.echo(f"asyncfilter: error: {exc}", err=True)
        code = EXIT_ABORTED
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    sys.exit(code if isinstance(code, int) else EXIT_OK)
