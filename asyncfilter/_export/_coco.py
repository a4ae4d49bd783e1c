"""COCO object detection JSON: images, annotations with pixel ``bbox`` and ``area``, categories.

``file_name`` is the copy's key in its bucket and ``coco_url`` its ``s3://`` URL, so the file
loads as it is (pycocotools, FiftyOne, Detectron2) and the images can be fetched beside it.
Each annotation keeps Rekognition's confidence as ``score``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from ._format import Built, ExportContext, iso_time, pixel_boxes
from ._records import CopiedImage


def coco(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    built = Built()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for record in records:
        found = pixel_boxes(record, built)
        if found is None:
            continue
        size, boxes = found
        image_id = len(images) + 1
        images.append(
            {
                "id": image_id,
                "file_name": record.key,
                "width": size.width,
                "height": size.height,
                "coco_url": record.uri,
                "date_captured": iso_time(record.decided_at),
                **({"group": record.group} if record.group is not None else {}),
            }
        )
        for (left, top, width, height), confidence in boxes:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": ctx.classes[record.class_name] + 1,
                    "bbox": [left, top, width, height],
                    "area": width * height,
                    "iscrowd": 0,
                    "score": round(confidence / 100, 4),
                }
            )
    document = {
        "info": {
            "description": "asyncfilter export of Amazon Rekognition DetectLabels boxes",
            "version": "1.0",
            "date_created": iso_time(time.time()),
            "contributor": ctx.job_name,
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i + 1, "name": name, "supercategory": "object"}
            for name, i in sorted(ctx.classes.items(), key=lambda item: item[1])
        ],
    }
    built.images, built.boxes = len(images), len(annotations)
    built.files.append(("coco.json", orjson.dumps(document, option=orjson.OPT_INDENT_2)))
    return built
