"""The training set, built from a ledger: what Custom Labels would refuse is refused here first.

The class is the sweep's copies in its folder (reviewer-accepted ones first); the other classes
are the negatives asked for: ``rejected`` (images a reviewer rejected), ``misses`` (a sample of
images the sweep did not match, as many as the class has) or another folder's copies. Before
anything is written or paid, every image is checked against Custom Labels' limits (sides of
64-4,096 px, 15 MB; read from the ledger or from the image header), images that would be
refused are left out and counted, and the set as a whole must have what training needs (two
labels for classification, an image per label, at most 250 labels). The split into train and
test is stratified per label and reproducible with its seed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import ConfigError, ExportError
from .._export._format import ExportContext, ManifestLimits
from .._export._groundtruth import classification, detection
from .._export._records import CopiedImage, ImageSize, class_ids
from .._export._sizes import read_sizes
from .._near_groups import split_keeping_groups
from .._results import Outcome
from ._source import ACCEPTED_VERDICTS, Row

MIN_SIDE, MAX_SIDE = 64, 4096
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MAX_LABELS = 250
FEW_IMAGES = 10
NEGATIVE_KINDS = ("rejected", "misses")


@dataclass(slots=True)
class DataSet:
    """The train and test images, and what was left out on the way."""

    name: str
    bucket: str
    """Where every image is trained from (the class's copies are there; others are copied)."""
    train: list[CopiedImage]
    test: list[CopiedImage]
    copies: list[tuple[str, str, str]] = field(default_factory=list)
    """``(source bucket, source key, key in bucket)``: negatives to copy before training."""
    excluded: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    detection: bool = False

    def counts(self) -> dict[str, tuple[int, int]]:
        """Label to (train images, test images)."""
        train = Counter(r.class_name for r in self.train)
        test = Counter(r.class_name for r in self.test)
        return {label: (train[label], test[label]) for label in sorted(train | test)}

    def manifests(self, job_name: str = "asyncfilter") -> tuple[bytes, bytes]:
        """The train and test manifests in Ground Truth format."""
        ctx = ExportContext(classes=class_ids([*self.train, *self.test]), job_name=job_name)
        build = detection if self.detection else classification
        try:
            train, test = build(self.train, ctx), build(self.test, ctx)
        except ExportError as exc:
            raise ConfigError(str(exc)) from exc
        return train.files[0][1], test.files[0][1]


def negative_label(name: str) -> str:
    """The class that rejected images and misses are trained as."""
    return f"not-{name}"


def select(
    rows: Sequence[Row], name: str, negatives: Sequence[str], *, seed: int | None
) -> tuple[list[CopiedImage], list[str]]:
    """The labelled images (where they are now) and warnings; raises ConfigError when the
    class has no image."""
    warnings: list[str] = []
    positives = [
        r
        for r in rows
        if r.copied
        and r.class_name == name
        and r.verdict != "rejected"
        and (r.outcome == "hit" or (r.outcome == "review" and r.verdict in ACCEPTED_VERDICTS))
    ]
    positives.sort(key=lambda r: r.verdict not in ACCEPTED_VERDICTS)  # verified first
    if not positives:
        folders = sorted({r.class_name for r in rows if r.copied and r.class_name})
        raise ConfigError(
            f"--name {name}: the ledger has no copied image of {name!r}"
            + (f" (its classes: {', '.join(folders)})" if folders else " (no copied image at all)")
        )
    images = [_record(r, name) for r in positives]
    rng = random.Random(seed)
    for kind in dict.fromkeys(negatives):
        if kind == name:
            raise ConfigError(f"--negatives {kind}: that is the class being trained")
        if kind == "rejected":
            # a rejected image may have lost its folder since (a later run makes it a miss)
            chosen = [r for r in rows if r.verdict == "rejected" and r.class_name in (name, None)]
            if not chosen:
                warnings.append(
                    f"--negatives rejected: no image of {name} was rejected by a reviewer"
                )
            images += [_record(r, negative_label(name)) for r in chosen]
        elif kind == "misses":
            misses = [r for r in rows if r.outcome == "miss"]
            if not misses:
                warnings.append("--negatives misses: the ledger has no miss to sample")
            chosen = rng.sample(misses, min(len(misses), len(positives)))
            chosen.sort(key=lambda r: (r.bucket, r.key))
            images += [_record(r, negative_label(name)) for r in chosen]
        else:
            chosen = [
                r
                for r in rows
                if r.copied and r.class_name == kind and r.outcome == "hit"
                and r.verdict != "rejected"
            ]  # fmt: skip
            if not chosen:
                raise ConfigError(f"--negatives {kind}: the ledger has no copied image of {kind!r}")
            images += [_record(r, kind) for r in chosen]
    return _dedupe(images), warnings


def _record(row: Row, label: str) -> CopiedImage:
    bucket, key = row.location
    return CopiedImage(
        source_bucket=row.bucket,
        source_key=row.key,
        bucket=bucket,
        key=key,
        outcome=Outcome(row.outcome)
        if row.outcome in Outcome.__members__.values()
        else Outcome.HIT,
        class_name=label,
        detected=label,
        confidence=row.confidence,
        instances=row.instances,
        model_version=row.model_version,
        decided_at=row.decided_at,
        size=ImageSize(row.width, row.height) if row.width and row.height else None,
    )


def _dedupe(images: list[CopiedImage]) -> list[CopiedImage]:
    """One label an image: the first wins (the class before its negatives)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in images:
        if (record.bucket, record.key) not in seen:
            seen.add((record.bucket, record.key))
            out.append(record)
    return out


async def check_images(
    s3: Any, images: list[CopiedImage], bytes_of: dict[tuple[str, str], int]
) -> tuple[list[CopiedImage], Counter[str], int]:
    """The images Custom Labels accepts, the rest counted by reason, and the header reads."""
    sizes, failed = await read_sizes(s3, images)
    kept: list[CopiedImage] = []
    excluded: Counter[str] = Counter()
    for record in images:
        where = (record.bucket, record.key)
        size = record.size or sizes.get(where)
        if size is None:
            excluded[f"unreadable ({failed.get(where, 'no size')})"] += 1
        elif bytes_of.get(where, 0) > MAX_IMAGE_BYTES:
            excluded["over 15 MB"] += 1
        elif not (MIN_SIDE <= size.width <= MAX_SIDE and MIN_SIDE <= size.height <= MAX_SIDE):
            excluded[f"sides outside {MIN_SIDE}-{MAX_SIDE:,} px"] += 1
        else:
            kept.append(record.with_size(size))
    return kept, excluded, len(sizes) + len(failed)


def check_labels(images: Sequence[CopiedImage], name: str, *, detection_model: bool) -> list[str]:
    """Raise ConfigError for a set Custom Labels cannot train; warnings for a weak one."""
    counts = Counter(r.class_name for r in images)
    if not counts.get(name):
        raise ConfigError(
            f"no usable image of {name!r} is left after the checks above: "
            "fix or replace the images that were left out"
        )
    if not detection_model and len(counts) < 2:
        raise ConfigError(
            f"a classification model needs at least 2 labels and the data set has only "
            f"{name!r}: add a second class with --negatives misses (a sample of images the "
            "sweep did not match), --negatives rejected (images a reviewer rejected) or "
            "--negatives LABEL (another class in the ledger); or train --detection from boxes"
        )
    if len(counts) > MAX_LABELS:
        raise ConfigError(
            f"the data set has {len(counts)} labels; Custom Labels trains at most {MAX_LABELS}: "
            "choose fewer --negatives classes"
        )
    return [
        f"label {label!r} has only {n} image{'s' if n != 1 else ''}: Custom Labels "
        f"recommends at least {FEW_IMAGES} a label for a useful model"
        for label, n in sorted(counts.items())
        if n < FEW_IMAGES
    ]


def split(
    images: Sequence[CopiedImage],
    test_split: float,
    seed: int | None,
    groups: Mapping[tuple[str, str], Hashable] | None = None,
) -> tuple[list[CopiedImage], list[CopiedImage], list[str]]:
    """A stratified train/test split: each label split in the same proportion, reproducibly,
    and every near-copy group (``asyncfilter dupes``) whole on one side, so that no test image
    has a near-copy in training (which would inflate every evaluation figure)."""
    if not 0 < test_split < 1:
        raise ConfigError(f"--test-split must be between 0 and 1 (exclusive), got {test_split}")
    ordered = sorted(images, key=lambda r: (r.class_name, r.bucket, r.key))
    by_key = {(r.bucket, r.key): r for r in ordered}
    items = {key: r.class_name for key, r in by_key.items()}
    train_keys, test_keys = split_keeping_groups(items, groups or {}, test_split, seed)
    warnings = [
        f"label {label!r} has one image: it is in training, not in test"
        for label, n in sorted(Counter(items.values()).items())
        if n == 1
    ]
    return [by_key[k] for k in train_keys], [by_key[k] for k in test_keys], warnings


def place(
    images: list[CopiedImage], name: str, project: str
) -> tuple[str, list[CopiedImage], list[tuple[str, str, str]]]:
    """The training bucket (the class's copies must all be in one), and the images placed in
    it: images elsewhere get a key under ``_train/PROJECT/LABEL/`` and are listed to copy."""
    buckets = sorted({r.bucket for r in images if r.class_name == name})
    if len(buckets) > 1:
        raise ConfigError(
            f"the copies of {name!r} are in buckets {', '.join(buckets)}; Custom Labels reads "
            "a data set's images from one bucket: sweep them into one destination first"
        )
    bucket = buckets[0]
    placed: list[CopiedImage] = []
    copies: list[tuple[str, str, str]] = []
    for record in images:
        if record.bucket == bucket:
            placed.append(record)
            continue
        key = f"_train/{project}/{record.class_name}/{record.bucket}/{record.key}"
        copies.append((record.bucket, record.key, key))
        placed.append(replace(record, bucket=bucket, key=key))
    return bucket, placed, copies


def check_manifest_limits(train: Sequence[CopiedImage], test: Sequence[CopiedImage]) -> None:
    limits = ManifestLimits()
    for what, part in (("training", train), ("test", test)):
        if len(part) > limits.max_lines:
            raise ConfigError(
                f"the {what} manifest would have {len(part):,} lines; Custom Labels reads at "
                f"most {limits.max_lines:,}: train on fewer images (fewer --negatives)"
            )
