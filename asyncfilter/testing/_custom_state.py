"""The Custom Labels emulator's resources and settings: what each project, data set and model
version holds, and how each describes itself in the service's response shapes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._custom_manifests import Line


@dataclass(slots=True)
class CustomLabelsSettings:
    """How long each state lasts, in seconds of the emulator's clock, and injected failures."""

    dataset_s: float = 0.5
    training_s: float = 3.0
    starting_s: float = 1.0
    stopping_s: float = 0.5
    check_images: bool = True
    """Read every manifest image from S3: one the service could not train on (missing, not
    JPEG/PNG, over 15 MB, sides outside 64-4,096 px) is an error line."""
    training_failure: str | None = None
    """When set, every training ends ``TRAINING_FAILED`` with this as its StatusMessage."""

    def update(self, changes: Mapping[str, Any]) -> None:
        names = {f.name for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown custom-labels setting {name!r}")
            if name.endswith("_s") and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"custom-labels setting {name} must be a number >= 0")
            setattr(self, name, value)


@dataclass(slots=True)
class Dataset:
    arn: str
    kind: str
    created: float
    ready_at: float
    final_status: str
    message: str
    message_code: str
    manifest: tuple[str, str]
    lines: list[Line]
    errors: int
    status: str = "CREATE_IN_PROGRESS"

    def describe(self) -> dict[str, Any]:
        labels = {label for line in self.lines for label in line.labels}
        done = self.status != "CREATE_IN_PROGRESS"
        return {
            "CreationTimestamp": self.created,
            "LastUpdatedTimestamp": self.ready_at if done else self.created,
            "Status": self.status,
            "StatusMessage": self.message if done else "The dataset is being created.",
            "StatusMessageCode": self.message_code if done else "SUCCESS",
            "DatasetStats": {
                "LabeledEntries": sum(1 for line in self.lines if line.labels) if done else 0,
                "TotalEntries": len(self.lines) + self.errors if done else 0,
                "TotalLabels": len(labels) if done else 0,
                "ErrorEntries": self.errors if done else 0,
            },
        }


@dataclass(slots=True)
class Project:
    arn: str
    name: str
    created: float
    datasets: dict[str, Dataset] = field(default_factory=dict)


@dataclass(slots=True)
class Version:
    arn: str
    name: str
    project: Project
    created: float
    output: dict[str, str]
    train: Dataset
    test: Dataset
    ready_at: float
    failure: str | None
    status: str = "TRAINING_IN_PROGRESS"
    message: str = "The model is being trained."
    training_end: float | None = None
    evaluation: dict[str, Any] | None = None
    min_units: int | None = None
    max_units: int | None = None
    running_since: float | None = None
    running_seconds: float = 0.0
    detect_calls: int = 0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ProjectVersionArn": self.arn,
            "CreationTimestamp": self.created,
            "Status": self.status,
            "StatusMessage": self.message,
            "OutputConfig": self.output,
            "Feature": "CUSTOM_LABELS",
            "TrainingDataResult": _data_result(self.train),
            "TestingDataResult": _data_result(self.test),
        }
        if self.training_end is not None:
            out["TrainingEndTimestamp"] = self.training_end
            out["BillableTrainingTimeInSeconds"] = round(self.training_end - self.created)
        if self.evaluation is not None:
            out["EvaluationResult"] = self.evaluation
        if self.min_units is not None:
            out["MinInferenceUnits"] = self.min_units
        if self.max_units is not None:
            out["MaxInferenceUnits"] = self.max_units
        return out


def _data_result(dataset: Dataset) -> dict[str, Any]:
    bucket, key = dataset.manifest
    assets = {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}]}
    return {"Input": assets, "Output": assets}
