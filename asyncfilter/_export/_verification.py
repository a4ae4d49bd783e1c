"""The review page's decisions as a SageMaker Ground Truth label-verification manifest.

One line per image a person judged: the label Rekognition gave (``class``, as in the
classification manifest) and the person's verdict on it (``verify-class``: ``"0"`` the label
is right, ``"1"`` it is wrong), typed ``groundtruth/label-verification`` and human-annotated.
``source-ref`` is where the image rests after the verdict (the hits, or ``_rejected/``).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ._format import Built, ExportContext, iso_time
from ._records import CopiedImage

VERIFY_ATTRIBUTE = "verify-class"
VERIFY_CLASSES = {"0": "correct", "1": "incorrect"}


def verification(records: Sequence[CopiedImage], ctx: ExportContext) -> Built:
    judged = [r for r in records if r.verdict in ("accepted", "rejected")]
    lines = []
    for record in judged:
        wrong = record.verdict == "rejected"
        lines.append(
            {
                "source-ref": record.uri,
                "class": ctx.classes[record.class_name],
                "class-metadata": {
                    "confidence": round(record.confidence / 100, 4),
                    "job-name": f"labeling-job/{ctx.job_name}",
                    "class-name": record.class_name,
                    "human-annotated": "no",
                    "creation-date": iso_time(record.decided_at),
                    "type": "groundtruth/image-classification",
                },
                VERIFY_ATTRIBUTE: "1" if wrong else "0",
                f"{VERIFY_ATTRIBUTE}-metadata": {
                    "class-name": VERIFY_CLASSES["1" if wrong else "0"],
                    "class-map": VERIFY_CLASSES,
                    "confidence": 1.0,
                    "type": "groundtruth/label-verification",
                    "job-name": f"labeling-job/{ctx.job_name}-verification",
                    "human-annotated": "yes",
                    "creation-date": iso_time(record.verdict_at or record.decided_at),
                },
            }
        )
    data = b"".join(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE) for line in lines)
    return Built(files=[("verification.manifest", data)], images=len(lines))
