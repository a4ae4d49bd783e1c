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
from typing import Any, Protocol

import anyio
from aiohttp import web
from botocore.exceptions import ClientError

from ._custom_manifests import (
    DEFAULT_MIN_CONFIDENCE,
    INVALID_MANIFEST,
    Line,
    evaluate,
    image_ok,
    too_many_invalid,
    training_failure,
    validate_manifest,
)
from ._custom_state import (
    CustomLabelsSettings,
    Dataset,
    Project,
    Version,
)
from ._labels import LabelStore, filter_labels
from ._service_errors import ServiceError, check_image


class _Images(Protocol):
    """What this half takes from the emulator it is part of: its settings (latency), its
    S3 client and its reading of an ``Image`` parameter, shared with DetectLabels."""

    @property
    def settings(self) -> Any: ...

    async def _s3_client(self) -> Any: ...

    async def _image(
        self, image: dict[str, Any], region: str | None
    ) -> tuple[str, str, bytes | None]: ...


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
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class CustomLabelsService:
    """The Custom Labels half of :class:`RekognitionEmulator`; it owns its state and routes."""

    def __init__(self, emulator: _Images) -> None:
        self._emulator = emulator
        self.settings = CustomLabelsSettings()
        self.store = LabelStore()
        self._offset = 0.0
        self._projects: dict[str, Project] = {}
        self._versions: dict[str, Version] = {}
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
        self._projects[name] = Project(arn, name, now)
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

    def _project(self, arn: Any) -> Project:
        for project in self._projects.values():
            if project.arn == arn:
                return project
        raise ServiceError("ResourceNotFoundException", f"The project {arn} was not found.")

    def _dataset(self, arn: Any) -> tuple[Project, Dataset]:
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
        project.datasets[kind] = Dataset(
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

    async def _read_manifest(self, bucket: str, key: str) -> tuple[list[Line], int, str | None]:
        """The manifest's valid lines, its error-line count, and why the data set fails."""
        s3 = await self._emulator._s3_client()
        try:
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as stream:
                data: bytes = await stream.read()
        except ClientError:  # missing bucket or key, no permission: the service says only this
            return [], 0, INVALID_MANIFEST
        lines, errors, failure = validate_manifest(data)
        if failure is None and lines and self.settings.check_images:
            bad = await self._bad_images(s3, lines)
            if bad:
                lines = [line for line in lines if (line.bucket, line.key) not in bad]
                errors += len(bad)
                failure = too_many_invalid(len(lines), errors)
        return lines, errors, failure

    async def _bad_images(self, s3: Any, lines: list[Line]) -> set[tuple[str, str]]:
        """The lines' images the service could not train on: missing, not JPEG/PNG, over
        15 MB, or sides outside 64-4,096 px (ERROR_INVALID_IMAGE and its kin: error lines)."""
        bad: set[tuple[str, str]] = set()
        todo = iter({(line.bucket, line.key) for line in lines})

        async def worker() -> None:
            for where in todo:
                if not await image_ok(s3, *where):
                    bad.add(where)

        async with anyio.create_task_group() as tg:
            for _ in range(16):
                tg.start_soon(worker)
        return bad

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
        self._versions[arn] = Version(
            arn=arn,
            name=name,
            project=project,
            created=now,
            output={k: str(v) for k, v in output.items() if k in ("S3Bucket", "S3KeyPrefix")},
            train=train,
            test=test,
            ready_at=now + self.settings.training_s,
            failure=self.settings.training_failure or training_failure(train.lines, test.lines),
        )
        return {"ProjectVersionArn": arn}

    async def _finish_training(self, version: Version, at: float) -> None:
        version.training_end = at
        if version.failure is not None:
            version.status, version.message = "TRAINING_FAILED", version.failure
            return
        summary, f1 = evaluate(version.arn, version.train.lines, version.test.lines, self.store, at)
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

    def _version(self, arn: Any) -> Version:
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
        latency = self._emulator.settings.latency_ms / 1000.0
        if latency:  # the emulator's latency setting applies to inference too
            await asyncio.sleep(latency)
        min_conf = float(params.get("MinConfidence", DEFAULT_MIN_CONFIDENCE))
        max_results = params.get("MaxResults")
        if not 0 <= min_conf <= 100 or (max_results is not None and int(max_results) < 0):
            raise ServiceError("InvalidParameterException", "MinConfidence or MaxResults invalid")
        # an image fails as it would for DetectLabels (the same ServiceError)
        bucket, key, content = await self._emulator._image(params.get("Image") or {}, region)
        answer = self.store.lookup(bucket, key)
        if answer.error:
            raise ServiceError(answer.error, answer.message or f"{answer.error} for {key}")
        if content is not None:
            check_image(content)
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
