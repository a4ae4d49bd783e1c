"""The review manifest: the review band as a list a person (or a labelling job) works from.

Each line has ``source-ref`` (the copy in the review location), which makes the file a valid
SageMaker Ground Truth input manifest for a human review job, and what Rekognition said: the
class, the detected label, the confidence and the boxes.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from .._results import instance_to_dict
from ._format import Built, ExportContext
from ._records import CopiedImage


def review_manifest(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    del ctx  # one line an image, whatever the classes
    data = b"".join(
        orjson.dumps(
            {
                "source-ref": r.uri,
                "source": f"s3://{r.source_bucket}/{r.source_key}",
                "class-name": r.class_name,
                "detected": r.detected,
                "confidence": round(r.confidence / 100, 4),
                "instances": [instance_to_dict(i) for i in r.instances],
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        for r in records
    )
    return Built(files=[("review.manifest", data)], images=len(records))
