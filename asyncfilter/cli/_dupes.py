"""``asyncfilter dupes``: group the copied images into near-copies (see _near_duplicates)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import anyio
import click
import orjson

from .._errors import ConfigError
from .._near_groups import DEFAULT_DISTANCE, MAX_DISTANCE
from ._aws_options import aws_options

if TYPE_CHECKING:
    from .._near_duplicates import NearDuplicatesReport, ReadEstimate


@click.command(name="dupes")
@click.option(
    "--state",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The ledger whose copied images to group.",
)
@click.option("--name", "names", multiple=True, help="Only this class (copy folder); repeatable.")
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(["hit", "review"]),
    help="Copied images to group (default: hits and review images).",
)
@click.option(
    "--distance",
    type=click.IntRange(0, MAX_DISTANCE),
    default=DEFAULT_DISTANCE,
    show_default=True,
    help="Largest Hamming distance (of 64 bits) between near-copies' perceptual hashes: "
    "higher finds heavier edits, and more unrelated look-alikes.",
)
@click.option("--yes", "-y", is_flag=True, help="Read the images without asking first.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@aws_options(s3=True, owner=True)
def dupes(**opts: Any) -> int:
    """Find near-copies (resized, re-encoded, lightly cropped, mirrored) among copied images.

    Each image not hashed yet is read once from its copy (a GET; the bytes are announced
    first), its perceptual hash stored in the ledger, and every image's group stored there
    too, for `asyncfilter export --one-per-group` and splits that keep a group on one side.

    \b
    Examples:
      asyncfilter dupes --state robins.sqlite --name Robin
      asyncfilter dupes --state robins.sqlite --distance 6 --json --yes
    """
    from .._near_duplicates import find_near_duplicates

    asked = {"ask": not opts["yes"]}

    def confirm(estimate: ReadEstimate) -> bool:
        click.echo(
            f"to read: {estimate.images:,} images not hashed yet, {_bytes(estimate.bytes)}",
            err=True,
        )
        if not asked["ask"]:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("pass --yes to read the images (no terminal to ask on)")
        return click.confirm("read them from S3?", default=True, err=True)

    report: NearDuplicatesReport = anyio.run(
        lambda: find_near_duplicates(
            opts["state"],
            outcomes=opts["outcomes"] or ("hit", "review"),
            names=opts["names"] or None,
            distance=opts["distance"],
            confirm=confirm,
            region=opts["region"],
            profile=opts["profile"],
            s3_endpoint_url=opts["s3_endpoint_url"],
            expected_bucket_owner=opts["expected_bucket_owner"],
        ),
        backend="asyncio",
    )
    if opts["as_json"]:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        click.echo(dupes_text(report))
    return 0


def dupes_text(report: NearDuplicatesReport) -> str:
    if report.declined:
        return "nothing read: no groups"
    lines = [
        f"images {report.images:,}  read and hashed now {report.hashed:,}  "
        f"distance {report.distance}",
        f"groups of near-copies {len(report.groups):,} holding {report.grouped_images:,} images "
        f"(one per group would leave out {report.redundant_images:,})"
        + (f"; largest {len(report.groups[0].images)}" if report.groups else ""),
    ]
    for group in report.groups[:5]:
        shown = ", ".join(group.images[:3]) + (" ..." if len(group.images) > 3 else "")
        lines.append(f"group {group.id} ({len(group.images)}): {shown}")
    for uri, reason in sorted(report.unreadable.items()):
        lines.append(f"warning: not hashed {uri}: {reason}")
    return "\n".join(lines)


def _bytes(n: int) -> str:
    if n < 1000:
        return f"{n:,} bytes"
    size, unit = n / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if size < 1000:
            break
        size, unit = size / 1000, bigger
    return f"{size:,.1f} {unit}"
