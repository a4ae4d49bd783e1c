"""Helpers for the Custom Labels tests: a trained model in the emulator, the CLI in a thread."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from helpers import JPEG, admin, unique

from asyncfilter.cli import main
from asyncfilter.testing import CustomLabelsAdmin

#: A blocking admin call, off the event loop (named apart from the ``admin`` fixture).
admin_call = admin


def classification_line(bucket: str, key: str, label: str) -> dict[str, Any]:
    return {
        "source-ref": f"s3://{bucket}/{key}",
        "class": 0,
        "class-metadata": {"class-name": label, "type": "groundtruth/image-classification"},
    }


async def trained_model(
    rek: Any,
    s3: Any,
    admin: CustomLabelsAdmin,
    bucket: str,
    *,
    labels: Sequence[str] = ("Robin", "other"),
) -> str:
    """A model trained in the emulator (every state lasts a moment); its version ARN."""
    await admin_call(admin.fast, 0.01)
    project = (await rek.create_project(ProjectName=f"p-{unique()}"))["ProjectArn"]
    for kind in ("TRAIN", "TEST"):
        keys = {f"_trained/{lb}/{kind}-{i}.jpg": lb for lb in labels for i in range(2)}
        for key in keys:
            await s3.put_object(Bucket=bucket, Key=key, Body=JPEG)
        lines = [classification_line(bucket, key, lb) for key, lb in keys.items()]
        key = f"manifests/{unique()}.manifest"
        await s3.put_object(Bucket=bucket, Key=key, Body="\n".join(map(json.dumps, lines)).encode())
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}
        await rek.create_dataset(ProjectArn=project, DatasetType=kind, DatasetSource=source)
    with anyio.fail_after(10):
        while True:
            described = await rek.describe_projects()
            datasets = [
                d
                for p in described["ProjectDescriptions"]
                if p["ProjectArn"] == project
                for d in p["Datasets"]
            ]
            if all(d["Status"] == "CREATE_COMPLETE" for d in datasets):
                break
            await anyio.sleep(0.02)
        arn: str = (
            await rek.create_project_version(
                ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": bucket}
            )
        )["ProjectVersionArn"]
        while True:
            versions = await rek.describe_project_versions(ProjectArn=project)
            if versions["ProjectVersionDescriptions"][0]["Status"] != "TRAINING_IN_PROGRESS":
                return arn
            await anyio.sleep(0.02)


async def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``asyncfilter ARGS`` in a worker thread (the CLI runs its own event loop)."""

    def run() -> int:
        try:
            main(args)
        except SystemExit as exited:
            return int(exited.code or 0)
        return 0

    code = await anyio.to_thread.run_sync(run)
    out, err = capsys.readouterr()
    return code, out, err
