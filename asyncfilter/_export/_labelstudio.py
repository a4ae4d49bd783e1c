"""Label Studio tasks with pre-annotations, so a person can review what the sweep decided.

Each task shows the copied image (``data.image`` is its ``s3://`` URL, which Label Studio serves
through an S3 source storage) with a prediction: a rectangle per box in percent of the image,
and a choice of the class for the whole image, each with Rekognition's confidence as
``score``. ``labelstudio.xml`` is the labelling configuration these tasks are written for.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import orjson

from ._format import Built, ExportContext, clipped_instances
from ._records import CopiedImage

NOT_PREFIX = "Not "


def labelstudio(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    built = Built()
    tasks = []
    for record in records:
        result: list[dict[str, Any]] = []
        size = (
            {"original_width": record.size.width, "original_height": record.size.height}
            if record.size
            else {}
        )
        for n, (instance, left, top, width, height) in enumerate(clipped_instances(record)):
            result.append(
                {
                    "id": f"box{n}",
                    "from_name": "label",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    **size,
                    "image_rotation": 0,
                    "value": {
                        "x": left * 100,
                        "y": top * 100,
                        "width": width * 100,
                        "height": height * 100,
                        "rotation": 0,
                        "rectanglelabels": [record.class_name],
                    },
                    "score": round(instance.confidence / 100, 4),
                }
            )
        built.boxes += len(result)
        result.append(
            {
                "id": "class",
                "from_name": "class",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": [record.class_name]},
                "score": round(record.confidence / 100, 4),
            }
        )
        tasks.append(
            {
                "data": {
                    "image": record.uri,
                    "outcome": record.outcome.value,
                    "source": f"s3://{record.source_bucket}/{record.source_key}",
                    "detected": record.detected,
                    **({"group": record.group} if record.group is not None else {}),
                },
                "predictions": [
                    {
                        "model_version": f"rekognition-detectlabels-{record.model_version or '?'}",
                        "score": round(record.confidence / 100, 4),
                        "result": result,
                    }
                ],
            }
        )
    built.images = len(tasks)
    built.files.append(("labelstudio.json", orjson.dumps(tasks, option=orjson.OPT_INDENT_2)))
    built.files.append(("labelstudio.xml", _config(ctx).encode()))
    return built


def _config(ctx: ExportContext) -> str:
    names = sorted(ctx.classes, key=ctx.classes.__getitem__)
    labels = "".join(f'    <Label value="{html.escape(n)}"/>\n' for n in names)
    choices = "".join(
        f'    <Choice value="{html.escape(value)}"/>\n'
        for n in names
        for value in (n, NOT_PREFIX + n)
    )
    return (
        "<View>\n"
        '  <Image name="image" value="$image"/>\n'
        '  <RectangleLabels name="label" toName="image">\n'
        f"{labels}"
        "  </RectangleLabels>\n"
        '  <Choices name="class" toName="image" choice="single">\n'
        f"{choices}"
        "  </Choices>\n"
        "</View>\n"
    )
