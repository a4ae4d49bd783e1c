"""SageMaker Ground Truth manifests, the format Rekognition Custom Labels imports.

Both are JSON Lines, one image a line, ``source-ref`` pointing at the copied object. The
classification manifest labels whole images; the object-detection manifest carries integer
pixel boxes and the image size they refer to. Both are checked against Custom Labels' import
limits (lines, bytes, one bucket; 50 boxes an image), so a manifest that would be refused at
import is refused here, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .._errors import ExportError
from ._format import Built, ExportContext, iso_time, pixel_boxes
from ._records import CopiedImage

CLASS_ATTRIBUTE = "class"
BOX_ATTRIBUTE = "bounding-box"


def classification(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    built = Built()
    lines = [
        {
            "source-ref": record.uri,
            CLASS_ATTRIBUTE: ctx.classes[record.class_name],
            f"{CLASS_ATTRIBUTE}-metadata": {
                "confidence": round(record.confidence / 100, 4),
                "job-name": f"labeling-job/{ctx.job_name}",
                "class-name": record.class_name,
                "human-annotated": "yes" if record.human else "no",
                "creation-date": iso_time(record.decided_at),
                "type": "groundtruth/image-classification",
            },
        }
        for record in records
    ]
    built.images = len(lines)
    built.files.append(("classification.manifest", _manifest(lines, records, ctx)))
    return built


def detection(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    built = Built()
    lines: list[dict[str, Any]] = []
    kept: list[CopiedImage] = []
    class_map = {str(i): name for name, i in ctx.classes.items()}
    for record in records:
        found = pixel_boxes(record, built)
        if found is None:
            continue
        size, boxes = found
        annotations = [
            {
                "class_id": ctx.classes[record.class_name],
                "left": left,
                "top": top,
                "width": width,
                "height": height,
            }
            for (left, top, width, height), _ in boxes
        ]
        objects = [{"confidence": round(confidence / 100, 4)} for _, confidence in boxes]
        if len(annotations) > ctx.limits.max_boxes_per_image:
            built.excluded["over_box_limit"] += 1
            continue
        lines.append(
            {
                "source-ref": record.uri,
                BOX_ATTRIBUTE: {
                    "image_size": [
                        {"width": size.width, "height": size.height, "depth": size.depth}
                    ],
                    "annotations": annotations,
                },
                f"{BOX_ATTRIBUTE}-metadata": {
                    "objects": objects,
                    "class-map": class_map,
                    "type": "groundtruth/object-detection",
                    "human-annotated": "yes" if record.human else "no",
                    "creation-date": iso_time(record.decided_at),
                    "job-name": f"labeling-job/{ctx.job_name}",
                },
            }
        )
        kept.append(record)
        built.boxes += len(annotations)
    built.images = len(lines)
    built.files.append(("detection.manifest", _manifest(lines, kept, ctx)))
    return built


def _manifest(
    lines: list[dict[str, Any]], records: Sequence[CopiedImage], ctx: ExportContext
) -> bytes:
    limits = ctx.limits
    if len(lines) > limits.max_lines:
        raise ExportError(
            f"the manifest would have {len(lines):,} lines; Rekognition Custom Labels imports at "
            f"most {limits.max_lines:,} a manifest: export a part at a time (--name, --outcome)"
        )
    buckets = sorted({r.bucket for r in records})
    if len(buckets) > 1:
        raise ExportError(
            "Rekognition Custom Labels reads a manifest's images from one bucket, and these are "
            f"in {', '.join(buckets)}: export hits and review apart (--outcome)"
        )
    data = b"".join(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE) for line in lines)
    if len(data) > limits.max_bytes:
        raise ExportError(
            f"the manifest would be {len(data):,} bytes; Rekognition Custom Labels imports at "
            f"most {limits.max_bytes:,} bytes: export a part at a time (--name, --outcome)"
        )
    return data
