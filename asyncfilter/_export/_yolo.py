"""YOLO (Ultralytics / Darknet) labels: one ``.txt`` per image, normalised centre boxes.

The layout mirrors the copies' keys: the labels of ``s3://DEST/Robin/a.jpg`` are in
``labels/Robin/a.txt``, where YOLO looks for them once the image is at ``images/Robin/a.jpg``.
``train.txt`` lists exactly the images that have boxes, because YOLO would take any other image
it finds as background (no object at all), which a hit is not. ``data.yaml`` names the classes
and says how to fetch the images.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Sequence

from ._format import Built, ExportContext, clipped_instances
from ._records import Record


def yolo(records: Sequence[Record], ctx: ExportContext) -> Built:
    built = Built()
    listed: list[str] = []
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
        stem = posixpath.splitext(record.key)[0]
        built.files.append((f"yolo/labels/{stem}.txt", ("\n".join(lines) + "\n").encode()))
        listed.append(f"./images/{record.key}")
        buckets.add(record.bucket)
        built.boxes += len(lines)
    built.images = len(listed)
    built.files.append(("yolo/train.txt", "".join(f"{path}\n" for path in listed).encode()))
    built.files.append(("yolo/data.yaml", _data_yaml(ctx, sorted(buckets)).encode()))
    return built


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
    return (
        "# Written by asyncfilter from Amazon Rekognition DetectLabels boxes.\n"
        "# Fetch the images next to their labels first:\n"
        + "".join(f"{line}\n" for line in fetch)
        + "path: .\ntrain: train.txt\nval: train.txt\nnames:\n"
        + names
    )
