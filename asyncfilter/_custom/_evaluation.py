"""Following a training to its end, and reading its evaluation.

Training is followed with DescribeProjectVersions until TRAINING_COMPLETED or TRAINING_FAILED;
the F1 score is in the description, the per-label precision, recall and F1 in the evaluation
summary file the service writes to the OutputConfig location.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .._errors import ConfigError
from ._calls import call
from ._errors import TrainingFailed
from ._models import OnStatus, wait_for
from ._pricing import PRICES, CustomLabelsPrices
from ._project import check_name, describe_versions, find_project

TRAINING_DONE = frozenset({"TRAINING_COMPLETED", "TRAINING_FAILED"})


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    test_images: int


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """A model version as training left it."""

    arn: str
    status: str
    message: str
    f1: float | None = None
    labels: tuple[LabelScore, ...] = ()
    summary: str | None = None
    """``s3://`` URL of the evaluation summary file."""
    billable_seconds: int | None = None
    training_cost_usd: float | None = None
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "status": self.status,
            "message": self.message,
            "f1": self.f1,
            "labels": [
                {
                    "label": s.label,
                    "precision": s.precision,
                    "recall": s.recall,
                    "f1": s.f1,
                    "test_images": s.test_images,
                }
                for s in self.labels
            ],
            "summary": self.summary,
            "billable_seconds": self.billable_seconds,
            "training_cost_usd": self.training_cost_usd,
        }


async def latest_version(client: Any, project: str) -> str:
    """The project's newest model version (what ``train --status`` follows)."""
    found = await find_project(client, check_name(project, "--project"))
    if found is None:
        raise ConfigError(f"--project: no Custom Labels project named {project!r}")
    versions = await describe_versions(client, found["ProjectArn"])
    if not versions:
        raise ConfigError(f"--project {project}: no model has been trained in it")
    newest = max(versions, key=lambda v: v.get("CreationTimestamp") or 0)
    return str(newest["ProjectVersionArn"])


async def follow_training(
    client: Any,
    s3: Any,
    arn: str,
    *,
    poll_s: float = 30.0,
    on_status: OnStatus | None = None,
    prices: CustomLabelsPrices = PRICES,
) -> TrainingResult:
    """Wait for the training of ``arn`` to end; its evaluation, or TrainingFailed with the
    service's message as it is."""
    described = await wait_for(client, arn, TRAINING_DONE, poll_s=poll_s, on_status=on_status)
    if described["Status"] != "TRAINING_COMPLETED":
        raise TrainingFailed(
            f"training {arn} failed: {described.get('StatusMessage') or described['Status']}"
        )
    billable = described.get("BillableTrainingTimeInSeconds")
    evaluation = described.get("EvaluationResult") or {}
    ref = (evaluation.get("Summary") or {}).get("S3Object") or {}
    labels: tuple[LabelScore, ...] = ()
    summary_url = f"s3://{ref['Bucket']}/{ref['Name']}" if ref.get("Name") else None
    if summary_url is not None:
        labels = await _label_scores(s3, ref["Bucket"], ref["Name"])
    return TrainingResult(
        arn=arn,
        status=str(described["Status"]),
        message=str(described.get("StatusMessage") or ""),
        f1=evaluation.get("F1Score"),
        labels=labels,
        summary=summary_url,
        billable_seconds=billable,
        training_cost_usd=prices.training(billable) if billable is not None else None,
    )


async def _label_scores(s3: Any, bucket: str, key: str) -> tuple[LabelScore, ...]:
    response = await call(f"read s3://{bucket}/{key}", s3.get_object(Bucket=bucket, Key=key))
    async with response["Body"] as body:
        summary = json.loads(await body.read())
    return tuple(
        LabelScore(
            label=str(item["Label"]),
            precision=float(item["Metrics"].get("Precision", 0.0)),
            recall=float(item["Metrics"].get("Recall", 0.0)),
            f1=float(item["Metrics"].get("F1Score", 0.0)),
            test_images=int(item.get("NumberOfTestingImages", 0)),
        )
        for item in summary.get("LabelEvaluationResults", ())
    )
