"""YOLO (Ultralytics / Darknet) labels: one ``.txt`` per image, normalised centre boxes.

The layout mirrors the copies' keys: once ``s3://DEST/Robin/a.jpg`` is fetched to
``images/Robin/a.jpg``, its labels are where Ultralytics looks for them, found the way it finds
them: the *last* ``/images/`` of the image's path replaced by ``/labels/`` and the extension by
``.txt`` (so ``images/raw/images/x.jpg`` has ``images/raw/labels/x.txt``). Two images that
would share a label file (``pair.jpg`` and ``pair.png`` in one folder) are refused before
anything is written.
``train.txt`` lists exactly the images that have boxes, because YOLO would take any other image
it finds as background (no object at all), which a hit is not. ``data.yaml`` names the classes
and says how to fetch the images.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence

from .._errors import ExportError
from ._format import Built, ExportContext, clipped_instances
from ._records import CopiedImage


def yolo(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    built = Built()
    listed: list[str] = []
    owners: dict[str, str] = {}
    buckets: set[str] = set()
    for record in records:
        lines = [
            f"{ctx.classes[record.class_name]} {left + width / 2:.6f} {top + height / 2:.6f} "
            f"{width:.6f} {height:.6f}"
            for _, left, top, width, height in clipped_instances(record)
        ]
        if not lines:
            built.excluded["no_boxes"] += 1
            continue
        image = f"images/{record.key}"
        label = label_path(image)
        if label in owners:
            raise ExportError(
                f"YOLO cannot tell apart s3://{owners[label]} and s3://{record.bucket}/"
                f"{record.key}: both would use the label file {label}; rename one, or export "
                "another format"
            )
        owners[label] = f"{record.bucket}/{record.key}"
        built.files.append((f"yolo/{label}", ("\n".join(lines) + "\n").encode()))
        listed.append(f"./{image}")
        buckets.add(record.bucket)
        built.boxes += len(lines)
    built.images = len(listed)
    built.files.append(("yolo/train.txt", "".join(f"{path}\n" for path in listed).encode()))
    built.files.append(("yolo/data.yaml", _data_yaml(ctx, sorted(buckets)).encode()))
    return built


def label_path(image: str) -> str:
    """Where Ultralytics looks for the labels of ``image`` (its ``img2label_paths`` rule)."""
    head, sep, tail = f"/{image}".rpartition("/images/")
    path = f"{head}/labels/{tail}"[1:] if sep else image
    return posixpath.splitext(path)[0] + ".txt"


def _data_yaml(ctx: ExportContext, buckets: list[str]) -> str:
    fetch = [
        f'#   while read -r p; do aws s3 cp "s3://{bucket}/${{p#./images/}}" "$p"; done < train.txt'
        for bucket in buckets
    ]
    # JSON strings are YAML strings: names survive quotes, colons and unicode
    names = "".join(
        f"  {i}: {json.dumps(name)}\n"
        for name, i in sorted(ctx.classes.items(), key=lambda item: item[1])
    )
    # Ultralytics resolves a relative `path` against its datasets folder, not this file: an
    # absolute one works from any directory. Written to S3, the folder is not known yet.
    root = (
        f"path: {json.dumps(posixpath.join(ctx.local_root, 'yolo'))}\n"
        if ctx.local_root
        else "# path: the absolute folder this file is in, once downloaded\n"
    )
    return (
        "# Written by asyncfilter from Amazon Rekognition DetectLabels boxes.\n"
        "# Fetch the images next to their labels first:\n"
        + "".join(f"{line}\n" for line in fetch)
        + root
        + "train: train.txt\nval: train.txt\nnames:\n"
        + names
    )
