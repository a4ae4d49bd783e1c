"""Rekognition Custom Labels in the emulator: projects, data sets, model versions, inference.

The real service is slow (training takes an hour, starting a model minutes) and costs money
while a model runs, so the loop asyncfilter drives (train, start, sweep, stop) can only be
tested against a stand-in that keeps its state machines:

- data set ``CREATE_IN_PROGRESS`` → ``CREATE_COMPLETE`` | ``CREATE_FAILED``
- model ``TRAINING_IN_PROGRESS`` → ``TRAINING_COMPLETED`` | ``TRAINING_FAILED``, then
  ``STARTING`` → ``RUNNING`` → ``STOPPING`` → ``STOPPED``

Transitions are driven by a clock (wall time plus an offset that ``POST
/_emulator/custom-labels/advance`` moves on), with durations in :class:`CustomLabelsSettings`,
so a test either sets them to a tenth of a second or advances the clock instead of sleeping.

Manifests are read from S3 and validated as the service does: unreadable or empty manifests,
images in two buckets and too many invalid lines fail the data set (``DescribeDataset``
``StatusMessage``); a line without ``source-ref`` or label is an error entry; a classification
model with fewer than two labels, test labels unknown to training, an output bucket that cannot
be written, or an injected failure end training in ``TRAINING_FAILED``. ``DetectCustomLabels``
answers from its own :class:`LabelStore` (the labels file shape, with ``CustomLabel`` entries:
``Name``, ``Confidence``, ``Geometry``), and the evaluation scores each test image against that
same store (an image it has no entry for counts as recognised correctly), so F1 is computed,
never made up. The evaluation summary file is written to the ``OutputConfig`` location.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from botocore.exceptions import ClientError

from ._labels import LabelStore, filter_labels

if TYPE_CHECKING:
    from ._emulator import RekognitionEmulator

ACCOUNT_ID = "123456789012"
OPERATIONS = (
    "CreateProject",
    "DescribeProjects",
    "CreateDataset",
    "DescribeDataset",
    "DeleteDataset",
    "CreateProjectVersion",
    "DescribeProjectVersions",
    "StartProjectVersion",
    "StopProjectVersion",
    "DetectCustomLabels",
)
TARGETS = frozenset(f"RekognitionService.{op}" for op in OPERATIONS)
MAX_MANIFEST_LINES = 250_000
MAX_MANIFEST_BYTES = 1024**3
MAX_INVALID_SHARE = 0.2
"""Share of invalid lines above which a data set fails (the service does not publish its own)."""
DEFAULT_MIN_CONFIDENCE = 50.0
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(slots=True)
class CustomLabelsSettings:
    """How long each state lasts, in seconds of the emulator's clock, and injected failures."""

    dataset_s: float = 0.5
    training_s: float = 3.0
    starting_s: float = 1.0
    stopping_s: float = 0.5
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


class ServiceError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(slots=True)
class _Line:
    """One valid manifest line: the image and the labels it carries."""

    bucket: str
    key: str
    labels: tuple[str, ...]
    kind: str
    """``classification`` or ``detection``."""


@dataclass(slots=True)
class _Dataset:
    arn: str
    kind: str
    created: float
    ready_at: float
    final_status: str
    message: str
    message_code: str
    manifest: tuple[str, str]
    lines: list[_Line]
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
class _Project:
    arn: str
    name: str
    created: float
    datasets: dict[str, _Dataset] = field(default_factory=dict)


@dataclass(slots=True)
class _Version:
    arn: str
    name: str
    project: _Project
    created: float
    output: dict[str, str]
    train: _Dataset
    test: _Dataset
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


def _data_result(dataset: _Dataset) -> dict[str, Any]:
    bucket, key = dataset.manifest
    assets = {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}]}
    return {"Input": assets, "Output": assets}


class CustomLabelsService:
    """The Custom Labels half of :class:`RekognitionEmulator`; it owns its state and routes."""

    def __init__(self, emulator: RekognitionEmulator) -> None:
        self._emulator = emulator
        self.settings = CustomLabelsSettings()
        self.store = LabelStore()
        self._offset = 0.0
        self._projects: dict[str, _Project] = {}
        self._versions: dict[str, _Version] = {}
        self._lock = asyncio.Lock()

    def register(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/custom-labels/settings", self._admin_settings)
        app.router.add_post("/_emulator/custom-labels/advance", self._admin_advance)
        app.router.add_post("/_emulator/custom-labels/labels", self._admin_labels)
        app.router.add_get("/_emulator/custom-labels/state", self._admin_state)

    def reset(self, *, labels: bool = False) -> None:
        """Forget every project and model, and go back to the default durations."""
        self.settings = CustomLabelsSettings()
        self._offset = 0.0
        self._projects.clear()
        self._versions.clear()
        if labels:
            self.store = LabelStore()

    def now(self) -> float:
        return time.time() + self._offset

    # --- admin ------------------------------------------------------------------------------

    async def _admin_settings(self, request: web.Request) -> web.Response:
        try:
            self.settings.update(await request.json())
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(dataclasses.asdict(self.settings))

    async def _admin_advance(self, request: web.Request) -> web.Response:
        seconds = float((await request.json()).get("seconds", 0.0))
        if seconds < 0:
            return web.json_response({"error": "seconds must be >= 0"}, status=400)
        self._offset += seconds
        async with self._lock:
            await self._tick()
        return web.json_response({"offset": self._offset})

    async def _admin_labels(self, request: web.Request) -> web.Response:
        try:
            self.store.add_jsonl(await request.text(), source="request")
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    async def _admin_state(self, request: web.Request) -> web.Response:
        async with self._lock:
            await self._tick()
        now = self.now()
        return web.json_response(
            {
                "projects": sorted(self._projects),
                "versions": {
                    v.arn: {
                        "status": v.status,
                        "running_seconds": v.running_seconds
                        + (now - v.running_since if v.running_since is not None else 0.0),
                        "detect_calls": v.detect_calls,
                        "min_units": v.min_units,
                    }
                    for v in self._versions.values()
                },
            }
        )

    # --- the wire ---------------------------------------------------------------------------

    async def handle(self, request: web.Request, target: str, region: str) -> dict[str, Any]:
        """Answer one json-1.1 request; raises :class:`ServiceError` for an error answer."""
        try:
            params = json.loads(await request.read() or b"{}")
        except ValueError:
            raise ServiceError("SerializationException", "request body is not JSON") from None
        operation = target.removeprefix("RekognitionService.")
        if operation == "DetectCustomLabels":
            return await self._detect(params, region)
        async with self._lock:
            await self._tick()
            handler = getattr(self, f"_op_{_snake(operation)}")
            result: dict[str, Any] = await handler(params, region)
            return result

    async def _tick(self) -> None:
        """Move every resource whose time has come to its next state."""
        now = self.now()
        for project in self._projects.values():
            for dataset in project.datasets.values():
                if dataset.status == "CREATE_IN_PROGRESS" and now >= dataset.ready_at:
                    dataset.status = dataset.final_status
        for version in self._versions.values():
            if now < version.ready_at:
                continue
            if version.status == "TRAINING_IN_PROGRESS":
                await self._finish_training(version, version.ready_at)
            elif version.status == "STARTING":
                version.status, version.message = "RUNNING", "The model is running."
                version.running_since = version.ready_at
            elif version.status == "STOPPING":
                version.status, version.message = "STOPPED", "The model is stopped."

    # --- projects and data sets -------------------------------------------------------------

    async def _op_create_project(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        name = _name(params.get("ProjectName"), "ProjectName")
        if name in self._projects:
            raise ServiceError("ResourceInUseException", f"The project {name} already exists.")
        now = self.now()
        arn = f"arn:aws:rekognition:{region}:{ACCOUNT_ID}:project/{name}/{int(now * 1000)}"
        self._projects[name] = _Project(arn, name, now)
        return {"ProjectArn": arn}

    async def _op_describe_projects(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        names = params.get("ProjectNames")
        projects = [p for p in self._projects.values() if names is None or p.name in names]
        return {
            "ProjectDescriptions": [
                {
                    "ProjectArn": p.arn,
                    "CreationTimestamp": p.created,
                    "Status": "CREATED",
                    "Feature": "CUSTOM_LABELS",
                    "Datasets": [
                        {
                            "CreationTimestamp": d.created,
                            "DatasetType": d.kind,
                            "DatasetArn": d.arn,
                            "Status": d.status,
                            "StatusMessage": d.describe()["StatusMessage"],
                            "StatusMessageCode": d.describe()["StatusMessageCode"],
                        }
                        for d in p.datasets.values()
                    ],
                }
                for p in projects
            ]
        }

    def _project(self, arn: Any) -> _Project:
        for project in self._projects.values():
            if project.arn == arn:
                return project
        raise ServiceError("ResourceNotFoundException", f"The project {arn} was not found.")

    def _dataset(self, arn: Any) -> tuple[_Project, _Dataset]:
        for project in self._projects.values():
            for dataset in project.datasets.values():
                if dataset.arn == arn:
                    return project, dataset
        raise ServiceError("ResourceNotFoundException", f"The dataset {arn} was not found.")

    async def _op_create_dataset(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        project = self._project(params.get("ProjectArn"))
        kind = params.get("DatasetType")
        if kind not in ("TRAIN", "TEST"):
            raise ServiceError("InvalidParameterException", "DatasetType must be TRAIN or TEST")
        if kind in project.datasets:
            raise ServiceError(
                "ResourceAlreadyExistsException",
                f"The project already has a {kind} dataset.",
            )
        s3obj = ((params.get("DatasetSource") or {}).get("GroundTruthManifest") or {}).get(
            "S3Object"
        ) or {}
        if "Bucket" not in s3obj or "Name" not in s3obj:
            raise ServiceError(
                "InvalidParameterException", "DatasetSource.GroundTruthManifest.S3Object is needed"
            )
        manifest = (str(s3obj["Bucket"]), str(s3obj["Name"]))
        lines, errors, failure = await self._read_manifest(*manifest)
        now = self.now()
        arn = f"{project.arn.rsplit('/', 1)[0]}/dataset/{kind.lower()}/{int(now * 1000)}"
        project.datasets[kind] = _Dataset(
            arn=arn,
            kind=kind,
            created=now,
            ready_at=now + self.settings.dataset_s,
            final_status="CREATE_FAILED" if failure else "CREATE_COMPLETE",
            message=failure or "The dataset was successfully created from the manifest file.",
            message_code="CLIENT_ERROR" if failure else "SUCCESS",
            manifest=manifest,
            lines=lines,
            errors=errors,
        )
        return {"DatasetArn": arn}

    async def _op_describe_dataset(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        _, dataset = self._dataset(params.get("DatasetArn"))
        return {"DatasetDescription": dataset.describe()}

    async def _op_delete_dataset(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        project, dataset = self._dataset(params.get("DatasetArn"))
        if dataset.status == "CREATE_IN_PROGRESS":
            raise ServiceError("ResourceInUseException", "The dataset is being created.")
        del project.datasets[dataset.kind]
        return {}

    async def _read_manifest(self, bucket: str, key: str) -> tuple[list[_Line], int, str | None]:
        """The manifest's valid lines, its error-line count, and why the data set fails."""
        invalid = "The manifest file extension or contents are invalid."
        s3 = await self._emulator._s3_client()
        try:
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as stream:
                data: bytes = await stream.read()
        except ClientError:  # missing bucket or key, no permission: the service says only this
            return [], 0, invalid
        if len(data) > MAX_MANIFEST_BYTES:
            return [], 0, "The manifest file size exceeds the maximum supported size."
        raw = [line for line in data.splitlines() if line.strip()]
        if not raw:
            return [], 0, "The manifest file is empty."
        if len(raw) > MAX_MANIFEST_LINES:
            return [], 0, "The manifest file has too many rows."
        lines: list[_Line] = []
        errors = 0
        for text in raw:
            try:
                entry = json.loads(text)
            except ValueError:
                return [], 0, invalid
            line = _parse_line(entry) if isinstance(entry, dict) else None
            if line is None:
                errors += 1  # ERROR_MISSING_SOURCE_REF, ERROR_NO_LABEL_ATTRIBUTES...
            else:
                lines.append(line)
        if len({line.bucket for line in lines}) > 1:
            return [], 0, "The manifest file contains images from multiple S3 buckets."
        if not lines or errors / len(raw) > MAX_INVALID_SHARE:
            return lines, errors, "The manifest file contains too many invalid rows."
        return lines, errors, None

    # --- training ---------------------------------------------------------------------------

    async def _op_create_project_version(
        self, params: dict[str, Any], region: str
    ) -> dict[str, Any]:
        project = self._project(params.get("ProjectArn"))
        name = _name(params.get("VersionName"), "VersionName")
        output = params.get("OutputConfig") or {}
        if not output.get("S3Bucket"):
            raise ServiceError("InvalidParameterException", "OutputConfig.S3Bucket is required")
        if params.get("TrainingData") or params.get("TestingData"):
            raise ServiceError(
                "InvalidParameterException",
                "TrainingData and TestingData cannot be given for a project with datasets.",
            )
        train, test = project.datasets.get("TRAIN"), project.datasets.get("TEST")
        if train is None or test is None:
            raise ServiceError(
                "InvalidParameterException",
                "The project needs a training and a test dataset before a model is trained.",
            )
        for dataset in (train, test):
            if dataset.status != "CREATE_COMPLETE":
                raise ServiceError(
                    "ResourceInUseException",
                    f"The {dataset.kind} dataset is {dataset.status}, not CREATE_COMPLETE.",
                )
        arn = f"{project.arn.rsplit('/', 1)[0]}/version/{name}/{int(self.now() * 1000)}"
        if any(v.project is project and v.name == name for v in self._versions.values()):
            raise ServiceError("ResourceInUseException", f"The version {name} already exists.")
        now = self.now()
        self._versions[arn] = _Version(
            arn=arn,
            name=name,
            project=project,
            created=now,
            output={k: str(v) for k, v in output.items() if k in ("S3Bucket", "S3KeyPrefix")},
            train=train,
            test=test,
            ready_at=now + self.settings.training_s,
            failure=self.settings.training_failure or _training_failure(train, test),
        )
        return {"ProjectVersionArn": arn}

    async def _finish_training(self, version: _Version, at: float) -> None:
        version.training_end = at
        if version.failure is not None:
            version.status, version.message = "TRAINING_FAILED", version.failure
            return
        summary, f1 = self._evaluate(version, at)
        bucket = version.output["S3Bucket"]
        prefix = version.output.get("S3KeyPrefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        key = f"{prefix}EvaluationSummary-{version.project.name}-{version.name}.json"
        s3 = await self._emulator._s3_client()
        try:
            await s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(summary).encode())
        except ClientError:
            version.status = "TRAINING_FAILED"
            version.message = f"The output S3 bucket {bucket} could not be written."
            return
        version.status, version.message = "TRAINING_COMPLETED", "The model is ready to run."
        version.evaluation = {
            "F1Score": f1,
            "Summary": {"S3Object": {"Bucket": bucket, "Name": key}},
        }

    def _evaluate(self, version: _Version, at: float) -> tuple[dict[str, Any], float]:
        """Score each test image against the store and write the service's summary shape."""
        labels = sorted({label for line in version.train.lines for label in line.labels})
        pairs: list[tuple[str, str | None]] = []  # (truth, predicted)
        for line in version.test.lines:
            truth = line.labels[0] if line.labels else ""
            known = self.store.by_bucket_key.get((line.bucket, line.key)) or self.store.by_key.get(
                line.key
            )
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
        precision_all = sum(
            i["Metrics"]["Precision"] * i["NumberOfTestingImages"] for i in per_label
        )
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
                "NumberOfTestingImages": len(version.test.lines),
                "NumberOfTrainingImages": len(version.train.lines),
                "ProjectVersionArn": version.arn,
            },
            "LabelEvaluationResults": per_label,
        }
        return summary, f1_all

    async def _op_describe_project_versions(
        self, params: dict[str, Any], region: str
    ) -> dict[str, Any]:
        project = self._project(params.get("ProjectArn"))
        names = params.get("VersionNames")
        versions = [
            v
            for v in self._versions.values()
            if v.project is project and (names is None or v.name in names)
        ]
        versions.sort(key=lambda v: v.created, reverse=True)
        return {"ProjectVersionDescriptions": [v.describe() for v in versions]}

    # --- running ----------------------------------------------------------------------------

    def _version(self, arn: Any) -> _Version:
        version = self._versions.get(str(arn))
        if version is None:
            raise ServiceError("ResourceNotFoundException", f"The model {arn} was not found.")
        return version

    async def _op_start_project_version(
        self, params: dict[str, Any], region: str
    ) -> dict[str, Any]:
        version = self._version(params.get("ProjectVersionArn"))
        units = params.get("MinInferenceUnits")
        if not isinstance(units, int) or units < 1:
            raise ServiceError("InvalidParameterException", "MinInferenceUnits must be >= 1")
        if version.status not in ("TRAINING_COMPLETED", "STOPPED"):
            raise ServiceError(
                "ResourceInUseException", f"The model is {version.status} and cannot be started."
            )
        version.min_units, version.max_units = units, params.get("MaxInferenceUnits")
        version.status, version.message = "STARTING", "The model is starting."
        version.ready_at = self.now() + self.settings.starting_s
        return {"Status": "STARTING"}

    async def _op_stop_project_version(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        version = self._version(params.get("ProjectVersionArn"))
        if version.status not in ("RUNNING", "STARTING"):
            raise ServiceError(
                "ResourceInUseException", f"The model is {version.status} and cannot be stopped."
            )
        now = self.now()
        if version.running_since is not None:
            version.running_seconds += now - version.running_since
            version.running_since = None
        version.status, version.message = "STOPPING", "The model is stopping."
        version.ready_at = now + self.settings.stopping_s
        return {"Status": "STOPPING"}

    async def _detect(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        async with self._lock:
            await self._tick()
            version = self._version(params.get("ProjectVersionArn"))
            if version.status != "RUNNING":
                raise ServiceError(
                    "ResourceNotReadyException",
                    f"ProjectVersion {version.arn} is not ready: it is {version.status}.",
                )
            version.detect_calls += 1
        min_conf = float(params.get("MinConfidence", DEFAULT_MIN_CONFIDENCE))
        max_results = params.get("MaxResults")
        if not 0 <= min_conf <= 100 or (max_results is not None and int(max_results) < 0):
            raise ServiceError("InvalidParameterException", "MinConfidence or MaxResults invalid")
        from ._emulator import ServiceError as ImageError
        from ._emulator import _check_image

        try:
            bucket, key, content = await self._emulator._image(params.get("Image") or {}, region)
            answer = self.store.lookup(bucket, key)
            if answer.error:
                raise ServiceError(answer.error, answer.message or f"{answer.error} for {key}")
            if content is not None:
                _check_image(content)
        except ImageError as exc:  # the image failed as it would for DetectLabels
            raise ServiceError(exc.code, exc.message, exc.status) from None
        return {"CustomLabels": filter_labels(answer.labels, min_conf, max_results)}


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _name(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or set(value) - _NAME_CHARS:
        raise ServiceError(
            "InvalidParameterException",
            f"{field_name} must be 1-255 characters of letters, digits, '_', '.' and '-'",
        )
    return value


def _parse_line(entry: Mapping[str, Any]) -> _Line | None:
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
            return _Line(bucket, key, (str(meta["class-name"]),), "classification")
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
            return _Line(bucket, key, found, "detection")
    return None


def _training_failure(train: _Dataset, test: _Dataset) -> str | None:
    """Why training this pair of data sets ends in TRAINING_FAILED, if it does."""
    labels = {label for line in train.lines for label in line.labels}
    classification = any(line.kind == "classification" for line in train.lines)
    if classification and len(labels) < 2:
        return (
            "The training dataset has too few labels: an image classification model needs at "
            f"least 2 labels and it has {len(labels)}."
        )
    if not labels:
        return "The training dataset has no labeled images."
    unknown = sorted({label for line in test.lines for label in line.labels} - labels)
    if unknown:
        return "The testing dataset has labels that are not in the training dataset: " + ", ".join(
            unknown
        )
    return None


class CustomLabelsAdmin:
    """A small blocking client for the emulator's Custom Labels admin endpoints."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def _call(self, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.endpoint_url}/_emulator/custom-labels/{path}",
            data=body,
            method="POST" if body is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change :class:`CustomLabelsSettings`, e.g. ``configure(training_s=0.1)``."""
        result: dict[str, Any] = self._call("settings", json.dumps(settings).encode())
        return result

    def fast(self, seconds: float = 0.05) -> None:
        """Every state lasts ``seconds``: for tests and demos."""
        self.configure(
            dataset_s=seconds, training_s=seconds, starting_s=seconds, stopping_s=seconds
        )

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock on: every state whose time has come moves on."""
        self._call("advance", json.dumps({"seconds": seconds}).encode())

    def add_labels(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Answers for DetectCustomLabels, in the labels-file shape with CustomLabel entries."""
        self._call("labels", "\n".join(json.dumps(e) for e in entries).encode())

    def state(self) -> dict[str, Any]:
        """Projects and models: each model's status, running seconds and inference calls."""
        result: dict[str, Any] = self._call("state")
        return result
