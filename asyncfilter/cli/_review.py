"""``asyncfilter review``: serve the review page of a ledger until interrupted."""

from __future__ import annotations

import signal
import sys
import warnings
from typing import Any

import anyio
import click

from .._errors import ConfigError
from ._logging import configure_logging


@click.command()
@click.option(
    "--state",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The ledger of the sweep whose images to review.",
)
@click.option("--name", help="Only this class (copy folder).")
@click.option(
    "--outcome",
    type=click.Choice(["review", "hit", "miss"]),
    default="review",
    show_default=True,
    help="review: the band between the two thresholds; hit: spot-check the hits; miss: hunt "
    "false negatives among the misses, shown from the source: those whose stored answer holds "
    "a wanted label below the band (kept by a sweep with --miss-floor), then those with only "
    "its broader label (Bird for Robin), each most confident first.",
)
@click.option(
    "--dest",
    metavar="s3://DEST[/PREFIX]",
    help="Where accepted images go (default: the destination the ledger's sweep recorded).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0 picks a free port.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@click.option(
    "--url-expires",
    type=click.IntRange(1, 604800),
    default=900,
    show_default=True,
    help="Seconds a presigned image URL lives (the page renews expired ones).",
)
@click.option("--region", help="AWS region (default: the AWS chain).")
@click.option("--profile", help="AWS profile (default: the AWS chain).")
@click.option("--s3-endpoint-url", help="S3 endpoint (default: AWS_ENDPOINT_URL_S3).")
@click.option("--expected-bucket-owner", metavar="ACCOUNT_ID",
              help="Sent as ExpectedBucketOwner on every S3 call.")  # fmt: skip
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
def review(**opts: Any) -> int:
    """Serve a page to accept or reject the review band, one image or a grid at a time.

    Accepted images are moved to where the hits are (DEST/<name>/<key>), rejected ones to
    _rejected/<name>/<key> beside the review folder; every decision is kept in the ledger.
    With --outcome miss, accepted misses are copied from the source (never changed) to
    DEST/<name>/<key>, rejected ones to DEST/_rejected/<name>/<key>; undo deletes the copy.
    When `asyncfilter dupes` has grouped near-copies, an image's group is shown with it and
    one key decides the whole group.
    """
    from ..review import open_review

    configure_logging("console", opts["log_level"])
    if opts["host"] not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"asyncfilter: warning: serving on {opts['host']}: anyone who can reach it and has "
            "the printed URL (it holds the token) can change verdicts",
            err=True,
        )

    async def serve() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the host warning: given above
            async with open_review(
                opts["state"],
                outcome=opts["outcome"],
                name=opts["name"],
                dest=opts["dest"],
                host=opts["host"],
                port=opts["port"],
                url_expires_s=opts["url_expires"],
                region=opts["region"],
                profile=opts["profile"],
                s3_endpoint_url=opts["s3_endpoint_url"],
                expected_bucket_owner=opts["expected_bucket_owner"],
            ) as review:
                await _until_stopped(review, opts)

    try:
        anyio.run(serve, backend="asyncio")
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise ConfigError(f"cannot serve on {opts['host']}:{opts['port']}: {exc}") from None
    return 0


async def _until_stopped(review: Any, opts: dict[str, Any]) -> None:
    store = review.store
    click.echo(
        f"reviewing {store.total:,} images ({store.done:,} done) of "
        f"{', '.join(store.names) or 'no class'} in {opts['state']}"
    )
    if store.note:
        click.echo(store.note)
    if store.groups:
        click.echo(f"{store.groups:,} near-copy groups: shown together, A / X decide a group")
    click.echo(f"open {review.url}")
    click.echo("press Ctrl+C to stop (every acknowledged decision is already saved)")
    sys.stdout.flush()
    if opts["open_browser"] and review.url:
        import webbrowser

        webbrowser.open(review.url)
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            break
    click.echo("stopping: finishing the moves still pending ...")
    await review.applier.apply_pending()
    click.echo(
        f"{store.done:,} of {store.total:,} decided; {review.applier.stats.moved:,} images "
        "moved in S3 this run"
    )
