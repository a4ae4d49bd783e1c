"""What the Custom Labels emulator checks in a manifest, and how it scores a trained model.

Pure functions over a manifest's bytes and its lines, so the rules can be read in one place:
file errors fail the data set, lines without ``source-ref`` or a label are error entries, and
training fails for a classification set with fewer than two labels or test labels the training
set lacks. The evaluation follows the service's summary file (``EvaluationSummary-*.json``:
``AggregatedEvaluationResults``, ``LabelEvaluationResults`` sorted by F1, ``EvaluationDetails``).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._labels import LabelStore, filter_labels

MAX_MANIFEST_LINES = 250_000
MAX_MANIFEST_BYTES = 1024**3
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 64, 4096
MAX_INVALID_SHARE = 0.2
"""Share of invalid lines above which a data set fails (the service does not publish its own)."""
DEFAULT_MIN_CONFIDENCE = 50.0
INVALID_MANIFEST = "The manifest file extension or contents are invalid."


@dataclass(slots=True)
class Line:
    """One valid manifest line: the image and the labels it carries."""

    bucket: str
    key: str
    labels: tuple[str, ...]
    kind: str
    """``classification`` or ``detection``."""


def validate_manifest(data: bytes) -> tuple[list[Line], int, str | None]:
    """The manifest's valid lines, its error-line count, and why the data set fails (if so)."""
    if len(data) > MAX_MANIFEST_BYTES:
        return [], 0, "The manifest file size exceeds the maximum supported size."
    raw = [line for line in data.splitlines() if line.strip()]
    if not raw:
        return [], 0, "The manifest file is empty."
    if len(raw) > MAX_MANIFEST_LINES:
        return [], 0, "The manifest file has too many rows."
    lines: list[Line] = []
    errors = 0
    for text in raw:
        try:
            entry = json.loads(text)
        except ValueError:
            return [], 0, INVALID_MANIFEST
        line = parse_line(entry) if isinstance(entry, dict) else None
        if line is None:
            errors += 1  # ERROR_MISSING_SOURCE_REF, ERROR_NO_LABEL_ATTRIBUTES...
        else:
            lines.append(line)
    if len({line.bucket for line in lines}) > 1:
        return [], 0, "The manifest file contains images from multiple S3 buckets."
    return lines, errors, too_many_invalid(len(lines), errors)


def too_many_invalid(valid: int, errors: int) -> str | None:
    """The data set's failure when too few of its lines are usable, else ``None``."""
    if not valid or errors / (valid + errors) > MAX_INVALID_SHARE:
        return "The manifest file contains too many invalid rows."
    return None


async def image_ok(s3: Any, bucket: str, key: str) -> bool:
    """Whether Custom Labels could train on ``s3://bucket/key`` (read with a ranged GET)."""
    from botocore.exceptions import ClientError
    from PIL import Image

    try:
        head = await s3.head_object(Bucket=bucket, Key=key)
        if int(head.get("ContentLength", 0)) > MAX_IMAGE_BYTES:
            return False
        response = await s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-262143")
        async with response["Body"] as body:
            data: bytes = await body.read()
    except ClientError:
        return False
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
        return False
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError):
        return False
    return MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE


def parse_line(entry: Mapping[str, Any]) -> Line | None:
    """The image and labels of one Ground Truth line, or ``None`` for an error line."""
    ref = entry.get("source-ref")
    if not isinstance(ref, str) or not ref.startswith("s3://") or "/" not in ref[5:]:
        return None
    bucket, key = ref[5:].split("/", 1)
    for name, value in entry.items():
        meta = entry.get(f"{name}-metadata")
        if name.endswith("-metadata") or not isinstance(meta, Mapping):
            continue
        kind = str(meta.get("type", ""))
        if kind == "groundtruth/image-classification" and meta.get("class-name"):
            return Line(bucket, key, (str(meta["class-name"]),), "classification")
        if kind == "groundtruth/object-detection" and isinstance(value, Mapping):
            class_map = meta.get("class-map") or {}
            found = tuple(
                sorted(
                    {
                        str(class_map.get(str(a.get("class_id")), a.get("class_id")))
                        for a in value.get("annotations") or ()
                    }
                )
            )
            return Line(bucket, key, found, "detection")
    return None


def training_failure(train: Sequence[Line], test: Sequence[Line]) -> str | None:
    """Why training this pair of data sets ends in TRAINING_FAILED, if it does."""
    labels = {label for line in train for label in line.labels}
    classification = any(line.kind == "classification" for line in train)
    if classification and len(labels) < 2:
        return (
            "The training dataset has too few labels: an image classification model needs at "
            f"least 2 labels and it has {len(labels)}."
        )
    if not labels:
        return "The training dataset has no labeled images."
    unknown = sorted({label for line in test for label in line.labels} - labels)
    if unknown:
        return "The testing dataset has labels that are not in the training dataset: " + ", ".join(
            unknown
        )
    return None


def evaluate(
    arn: str, train: Sequence[Line], test: Sequence[Line], store: LabelStore, at: float
) -> tuple[dict[str, Any], float]:
    """Score each test image against the store and write the service's summary shape."""
    labels = sorted({label for line in train for label in line.labels})
    pairs: list[tuple[str, str | None]] = []  # (truth, predicted)
    for line in test:
        truth = line.labels[0] if line.labels else ""
        known = store.by_bucket_key.get((line.bucket, line.key)) or store.by_key.get(line.key)
        if known is None:
            predicted: str | None = truth
        else:
            ranked = filter_labels(known.labels, DEFAULT_MIN_CONFIDENCE, None)
            predicted = str(ranked[0]["Name"]) if ranked else None
        pairs.append((truth, predicted))
    per_label: list[dict[str, Any]] = []
    weighted = 0.0
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        support = tp + fn
        weighted += f1 * support
        per_label.append(
            {
                "Label": label,
                "Metrics": {
                    "F1Score": f1,
                    "Precision": precision,
                    "Recall": recall,
                    "Threshold": DEFAULT_MIN_CONFIDENCE / 100,
                },
                "NumberOfTestingImages": support,
            }
        )
    per_label.sort(key=lambda item: item["Metrics"]["F1Score"], reverse=True)
    total = sum(item["NumberOfTestingImages"] for item in per_label) or 1
    f1_all = weighted / total
    precision_all = sum(i["Metrics"]["Precision"] * i["NumberOfTestingImages"] for i in per_label)
    recall_all = sum(i["Metrics"]["Recall"] * i["NumberOfTestingImages"] for i in per_label)
    counts = Counter(pairs)
    truths = Counter(t for t, _ in pairs)
    matrix = [
        {
            "GroundTruthLabel": t,
            "PredictedLabel": p,
            "Value": counts[(t, p)] / truths[t] if truths[t] else 0.0,
        }
        for t in labels
        for p in labels
    ]
    summary = {
        "Version": 1,
        "AggregatedEvaluationResults": {
            "ConfusionMatrix": matrix,
            "F1Score": f1_all,
            "Precision": precision_all / total,
            "Recall": recall_all / total,
        },
        "EvaluationDetails": {
            "EvaluationEndTimestamp": datetime.fromtimestamp(at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%f"
            ),
            "Labels": labels,
            "NumberOfTestingImages": len(test),
            "NumberOfTrainingImages": len(train),
            "ProjectVersionArn": arn,
        },
        "LabelEvaluationResults": per_label,
    }
    return summary, f1_all
