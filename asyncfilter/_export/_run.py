"""The export: from the ledger to the files training tools import, without paying a call.

It reads the ledger's copied images, reads the pixel size of those that need one from the
image header (a ranged GET, remembered in the ledger for next time), builds every format in
memory, checks the training tools' limits, and only then writes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from .._clients import open_plain_s3, session_for
from .._errors import ConfigError
from .._ledger import Ledger
from .._near_groups import keep_order
from .._results import Outcome
from ._catalog import FORMAT_HELP
from ._coco import coco
from ._format import Builder, Built, ExportContext, ManifestLimits
from ._groundtruth import classification, detection
from ._labelstudio import labelstudio
from ._records import CopiedImage, class_ids, records_from_rows
from ._review import review_manifest
from ._sink import is_s3, local_root, write_files
from ._sizes import read_sizes
from ._verification import verification
from ._yolo import yolo


@dataclass(frozen=True, slots=True)
class _Format:
    build: Builder | None
    outcomes: frozenset[Outcome]
    """What it exports unless told otherwise."""
    needs_sizes: bool
    verdicts: tuple[str | None, ...] = ("accepted", None)
    """Which images by a person's verdict: rejected ones only where the format says so."""


#: The class rejected images get in a classification manifest with ``negatives``.
NEGATIVE_PREFIX = "not-"
_HITS = frozenset({Outcome.HIT})
FORMATS: dict[str, _Format] = {
    "gt-classification": _Format(classification, _HITS, needs_sizes=False),
    "gt-detection": _Format(detection, _HITS, needs_sizes=True),
    "coco": _Format(coco, _HITS, needs_sizes=True),
    "yolo": _Format(yolo, _HITS, needs_sizes=False),
    "labelstudio": _Format(labelstudio, frozenset({Outcome.REVIEW}), needs_sizes=True),
    "review": _Format(review_manifest, frozenset({Outcome.REVIEW}), needs_sizes=False),
    "gt-verification": _Format(
        verification, frozenset(), needs_sizes=False, verdicts=("accepted", "rejected")
    ),
    "jsonl": _Format(None, frozenset(Outcome), needs_sizes=False),
}
"""Every export format by name. ``jsonl`` is the whole ledger, one object a line."""
assert list(FORMATS) == list(FORMAT_HELP), "the catalog and the registry list the same formats"


@dataclass(frozen=True, slots=True)
class FormatReport:
    """What one format holds."""

    images: int
    boxes: int
    excluded: dict[str, int]
    """Images left out, by reason (``no_boxes``, ``size_unknown``, ``over_box_limit``)."""
    files: list[str]


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an export wrote."""

    formats: dict[str, FormatReport]
    header_reads: int = 0
    """Images whose header was read from S3 for their pixel size (the rest were known)."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """``s3://`` URL to the reason its header could not be read."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "formats": {
                name: {
                    "images": f.images,
                    "boxes": f.boxes,
                    "excluded": f.excluded,
                    "files": f.files,
                }
                for name, f in self.formats.items()
            },
            "header_reads": self.header_reads,
            "unreadable": self.unreadable,
        }


async def export(
    state: str | Path,
    formats: Sequence[str],
    to: str,
    *,
    outcomes: Collection[Outcome | str] | None = None,
    names: Collection[str] | None = None,
    s3_client: Any | None = None,
    session: Any | None = None,
    region: str | None = None,
    profile: str | None = None,
    s3_endpoint_url: str | None = None,
    expected_bucket_owner: str | None = None,
    job_name: str = "asyncfilter",
    limits: ManifestLimits | None = None,
    negatives: bool = False,
    one_per_group: bool = False,
) -> ExportReport:
    """Write ``formats`` from the ledger at ``state`` to the folder or ``s3://`` prefix ``to``.

    Only copied images are exported: hits by default, the review band for ``labelstudio``;
    ``outcomes`` chooses for every format, ``names`` limits the classes (copy folders).
    With ``negatives``, ``gt-classification`` also lists the images a person rejected on the
    review page, as a second class ``not-<name>`` (Custom Labels needs two classes to train a
    classifier); ``gt-verification`` lists every image a person judged. Rejected images are
    left out of every other format. Rekognition is never called. S3 is read only for pixel
    sizes not yet in the ledger and written only when ``to`` is an ``s3://`` URL.

    Near-copy groups (``asyncfilter dupes``) in the ledger are written as a ``group`` field
    (jsonl rows, COCO images, Label Studio tasks); ``one_per_group`` keeps one image per group
    instead (a hit before a review image, then the highest confidence), and refuses images
    never grouped.

    Raises :class:`~asyncfilter.ExportError` (nothing written) when a format's limits would be
    exceeded or the output cannot be written, :class:`~asyncfilter.ConfigError` for bad input.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(
            f"unknown export format {', '.join(unknown) or '(none)'}; choose from "
            + ", ".join(FORMATS)
        )
    if negatives and "gt-classification" not in formats:
        raise ConfigError("--negatives adds a class to gt-classification: export that format")
    chosen = _outcomes(outcomes)
    if one_per_group and "jsonl" in formats:
        raise ConfigError("one image per group applies to manifests, not jsonl (the whole ledger)")
    async with AsyncExitStack() as stack:
        ledger = await Ledger.open(state)
        stack.push_async_callback(ledger.aclose)
        everything = "jsonl" in formats
        rows = await (
            ledger.rows() if everything else ledger.copied_rows([o.value for o in Outcome])
        )
        selected = {
            name: records_from_rows(
                rows, chosen or FORMATS[name].outcomes, names, verdicts=FORMATS[name].verdicts
            )
            for name in formats
        }
        if negatives:
            selected["gt-classification"] += [
                replace(r, class_name=f"{NEGATIVE_PREFIX}{r.class_name}")
                for r in records_from_rows(rows, frozenset(), names, verdicts=("rejected",))
            ]
        groups = await ledger.image_groups()
        if groups or one_per_group:
            selected = {
                name: _grouped(records, groups, one_per_group) for name, records in selected.items()
            }
            for row in rows:
                row["group"] = groups.get((row["dest_bucket"], row["dest_key"]))
        sizing = {
            (r.bucket, r.key): r
            for name, records in selected.items()
            if FORMATS[name].needs_sizes
            for r in records
            if r.size is None and r.instances  # only boxes need pixels
        }

        async def client() -> Any:
            nonlocal s3_client, session
            if s3_client is None:
                session = session or session_for(profile=profile, region=region)
                s3_client = await open_plain_s3(stack, session, endpoint_url=s3_endpoint_url)
            return s3_client

        unreadable: dict[str, str] = {}
        if sizing:
            sizes, failed = await read_sizes(
                await client(), list(sizing.values()), expected_owner=expected_bucket_owner
            )
            # the ledger is keyed by the source object, the sizes by the copy they were read from
            await ledger.save_sizes(
                [
                    (sizing[w].source_bucket, sizing[w].source_key, s.width, s.height, s.depth)
                    for w, s in sizes.items()
                ]
            )
            unreadable = {f"s3://{b}/{k}": reason for (b, k), reason in failed.items()}
            selected = {
                name: [r.with_size(sizes.get((r.bucket, r.key), r.size)) for r in records]
                for name, records in selected.items()
            }
        limits = limits or ManifestLimits()
        root = local_root(to)
        built = {
            name: _build(name, records, rows, ExportContext({}, job_name, limits, root))
            for name, records in selected.items()
        }
        files = [f for b in built.values() for f in b.files]
        written = await write_files(
            to,
            files,
            s3=await client() if is_s3(to) else None,
            expected_owner=expected_bucket_owner,
        )
    reports, at = {}, 0
    for name, b in built.items():
        reports[name] = FormatReport(
            b.images, b.boxes, dict(b.excluded), written[at : at + len(b.files)]
        )
        at += len(b.files)
    return ExportReport(reports, header_reads=len(sizing), unreadable=unreadable)


def _grouped(
    records: list[CopiedImage], groups: dict[tuple[str, str], int], one_per_group: bool
) -> list[CopiedImage]:
    """``records`` with their near-copy group; with ``one_per_group``, only each group's
    first by :func:`~asyncfilter._near_groups.keep_order` (in the records' own order)."""
    records = [r.with_group(groups.get((r.bucket, r.key))) for r in records]
    if not one_per_group:
        return records
    never = [r.uri for r in records if r.group is None]
    if never:
        raise ConfigError(
            f"one image per group: {len(never)} images were never grouped (e.g. {never[0]}); "
            "run `asyncfilter dupes` on this ledger first, with the same --outcome and --name"
        )
    best: dict[int, CopiedImage] = {}
    for r in records:
        assert r.group is not None
        held = best.get(r.group)
        order = keep_order(r.outcome.value, r.confidence, r.bucket, r.key)
        if held is None or order < keep_order(
            held.outcome.value, held.confidence, held.bucket, held.key
        ):
            best[r.group] = r
    kept = {id(r) for r in best.values()}
    return [r for r in records if id(r) in kept]


def _outcomes(outcomes: Collection[Outcome | str] | None) -> frozenset[Outcome] | None:
    if outcomes is None:
        return None
    try:
        return frozenset(Outcome(o) for o in outcomes)
    except ValueError as exc:
        raise ConfigError(f"unknown outcome: {exc}") from None


def _build(
    name: str, records: list[CopiedImage], rows: list[dict[str, Any]], ctx: ExportContext
) -> Built:
    spec = FORMATS[name]
    if spec.build is None:  # the ledger itself
        return Built(files=[("ledger.jsonl", ledger_jsonl(rows))], images=len(rows))
    return spec.build(records, replace(ctx, classes=class_ids(records)))


def ledger_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """The ``jsonl`` format: every ledger row, raw responses included, one a line."""
    return b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows)
