"""The emulator speaks Custom Labels as botocore expects it: real clients, real HTTP, real S3."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aioboto3
import anyio
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError
from helpers import JPEG, seed, unique

from asyncfilter.testing import CustomLabelsAdmin, EmulatorProcess, make_image

LONG = 1000.0  # every state lasts this long unless the test advances the clock


@pytest.fixture
def admin(emulator: EmulatorProcess) -> CustomLabelsAdmin:
    admin = CustomLabelsAdmin(emulator.endpoint_url)
    admin.configure(dataset_s=LONG, training_s=LONG, starting_s=LONG, stopping_s=LONG)
    return admin


@pytest.fixture
async def rek(emulator: EmulatorProcess) -> AsyncIterator[Any]:
    session = aioboto3.Session()
    config = AioConfig(retries={"total_max_attempts": 1})
    async with session.client(
        "rekognition", endpoint_url=emulator.endpoint_url, config=config
    ) as client:
        yield client


def line(bucket: str, key: str, label: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"source-ref": f"s3://{bucket}/{key}"}
    if label is not None:
        entry["class"] = 0
        entry["class-metadata"] = {
            "class-name": label,
            "type": "groundtruth/image-classification",
            "human-annotated": "no",
        }
    return entry


async def put_manifest(s3: Any, bucket: str, key: str, lines: Sequence[dict[str, Any]]) -> None:
    body = "\n".join(json.dumps(entry) for entry in lines).encode()
    await s3.put_object(Bucket=bucket, Key=key, Body=body)


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


async def project_with_datasets(
    rek: Any,
    s3: Any,
    admin: CustomLabelsAdmin,
    bucket: str,
    train: Sequence[dict[str, Any]],
    test: Sequence[dict[str, Any]],
) -> tuple[str, list[dict[str, Any]]]:
    for entry in [*train, *test]:  # the images must exist: the emulator reads them
        if ref := entry.get("source-ref"):
            bucket_name, key = ref[5:].split("/", 1)
            await s3.put_object(Bucket=bucket_name, Key=key, Body=JPEG)
    project = (await rek.create_project(ProjectName=f"p-{unique()}"))["ProjectArn"]
    arns = []
    for kind, lines in (("TRAIN", train), ("TEST", test)):
        await put_manifest(s3, bucket, f"manifests/{kind.lower()}.manifest", lines)
        source = {
            "GroundTruthManifest": {
                "S3Object": {"Bucket": bucket, "Name": f"manifests/{kind.lower()}.manifest"}
            }
        }
        response = await rek.create_dataset(
            ProjectArn=project, DatasetType=kind, DatasetSource=source
        )
        arns.append(response["DatasetArn"])
    pending = await rek.describe_dataset(DatasetArn=arns[0])
    assert pending["DatasetDescription"]["Status"] == "CREATE_IN_PROGRESS"
    await call(admin.advance, LONG)
    descriptions = [
        (await rek.describe_dataset(DatasetArn=arn))["DatasetDescription"] for arn in arns
    ]
    return project, descriptions


def two_labels(bucket: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    train = [line(bucket, f"robin/{i}.jpg", "Robin") for i in range(4)]
    train += [line(bucket, f"other/{i}.jpg", "other") for i in range(4)]
    test = [line(bucket, "robin/t0.jpg", "Robin"), line(bucket, "robin/t1.jpg", "Robin")]
    test += [line(bucket, "other/t0.jpg", "other"), line(bucket, "other/t1.jpg", "other")]
    return train, test


async def version_status(rek: Any, project: str) -> dict[str, Any]:
    described = await rek.describe_project_versions(ProjectArn=project)
    return dict(described["ProjectVersionDescriptions"][0])


async def test_a_model_is_trained_evaluated_started_asked_and_stopped(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    train, test = two_labels(dest)
    await seed(s3, dest, {"robin/t0.jpg": JPEG, "robin/new.jpg": JPEG})
    # the model confuses one test robin for "other": the evaluation must show it
    await call(
        admin.add_labels,
        [
            {
                "bucket": dest,
                "key": "robin/t1.jpg",
                "labels": [{"Name": "other", "Confidence": 90.0}],
            },
            {
                "bucket": dest,
                "key": "robin/new.jpg",
                "labels": [
                    {
                        "Name": "Robin",
                        "Confidence": 91.5,
                        "Geometry": {
                            "BoundingBox": {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4}
                        },
                    },
                    {"Name": "other", "Confidence": 20.0},
                ],
            },
        ],
    )
    project, datasets = await project_with_datasets(rek, s3, admin, dest, train, test)
    assert [d["Status"] for d in datasets] == ["CREATE_COMPLETE", "CREATE_COMPLETE"]
    assert datasets[0]["DatasetStats"] == {
        "LabeledEntries": 8, "TotalEntries": 8, "TotalLabels": 2, "ErrorEntries": 0
    }  # fmt: skip
    described = await rek.describe_projects(ProjectNames=[project.split("/")[1]])
    assert {d["DatasetType"] for d in described["ProjectDescriptions"][0]["Datasets"]} == {
        "TRAIN",
        "TEST",
    }

    arn = (
        await rek.create_project_version(
            ProjectArn=project,
            VersionName="v1",
            OutputConfig={"S3Bucket": dest, "S3KeyPrefix": "out"},
        )
    )["ProjectVersionArn"]
    assert (await version_status(rek, project))["Status"] == "TRAINING_IN_PROGRESS"
    await call(admin.advance, LONG)
    done = await version_status(rek, project)
    assert done["Status"] == "TRAINING_COMPLETED"
    assert done["BillableTrainingTimeInSeconds"] == LONG
    summary_ref = done["EvaluationResult"]["Summary"]["S3Object"]
    assert summary_ref["Name"].startswith("out/EvaluationSummary-")
    body = await (await s3.get_object(Bucket=summary_ref["Bucket"], Key=summary_ref["Name"]))[
        "Body"
    ].read()
    summary = json.loads(body)
    per_label = {r["Label"]: r["Metrics"] for r in summary["LabelEvaluationResults"]}
    assert per_label["Robin"]["Precision"] == 1.0
    assert per_label["Robin"]["Recall"] == 0.5
    assert per_label["other"]["Recall"] == 1.0
    assert per_label["other"]["Precision"] == pytest.approx(2 / 3)
    assert done["EvaluationResult"]["F1Score"] == pytest.approx(
        summary["AggregatedEvaluationResults"]["F1Score"]
    )
    assert done["EvaluationResult"]["F1Score"] < 1.0
    assert summary["EvaluationDetails"]["NumberOfTrainingImages"] == 8

    image = {"S3Object": {"Bucket": dest, "Name": "robin/new.jpg"}}
    with pytest.raises(ClientError) as caught:
        await rek.detect_custom_labels(ProjectVersionArn=arn, Image=image)
    assert caught.value.response["Error"]["Code"] == "ResourceNotReadyException"

    assert (await rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1))[
        "Status"
    ] == "STARTING"
    assert (await version_status(rek, project))["Status"] == "STARTING"
    await call(admin.advance, LONG)
    assert (await version_status(rek, project))["Status"] == "RUNNING"
    found = await rek.detect_custom_labels(ProjectVersionArn=arn, Image=image, MinConfidence=50)
    assert found["CustomLabels"] == [
        {
            "Name": "Robin",
            "Confidence": 91.5,
            "Geometry": {"BoundingBox": {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4}},
        }
    ]
    missing = {"S3Object": {"Bucket": dest, "Name": "nope.jpg"}}
    with pytest.raises(ClientError) as caught:
        await rek.detect_custom_labels(ProjectVersionArn=arn, Image=missing)
    assert caught.value.response["Error"]["Code"] == "InvalidS3ObjectException"

    assert (await rek.stop_project_version(ProjectVersionArn=arn))["Status"] == "STOPPING"
    await call(admin.advance, LONG)
    assert (await version_status(rek, project))["Status"] == "STOPPED"
    state = (await call(admin.state))["versions"][arn]
    assert state["status"] == "STOPPED"
    assert state["detect_calls"] == 2
    assert state["running_seconds"] == pytest.approx(0.0, abs=5.0)  # stopped as soon as asked
    with pytest.raises(ClientError) as caught:
        await rek.detect_custom_labels(ProjectVersionArn=arn, Image=image)
    assert caught.value.response["Error"]["Code"] == "ResourceNotReadyException"


async def test_classification_with_one_label_fails_training_with_the_reason(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    train = [line(dest, f"robin/{i}.jpg", "Robin") for i in range(3)]
    project, datasets = await project_with_datasets(rek, s3, admin, dest, train, train[:1])
    assert datasets[0]["Status"] == "CREATE_COMPLETE"
    await rek.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": dest}
    )
    await call(admin.advance, LONG)
    failed = await version_status(rek, project)
    assert failed["Status"] == "TRAINING_FAILED"
    assert "at least 2 labels" in failed["StatusMessage"]
    assert "EvaluationResult" not in failed


async def test_images_in_two_buckets_fail_the_dataset(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    train, test = two_labels(dest)
    train.append(line(source, "x.jpg", "other"))
    _, datasets = await project_with_datasets(rek, s3, admin, dest, train, test)
    assert datasets[0]["Status"] == "CREATE_FAILED"
    assert (
        datasets[0]["StatusMessage"]
        == "The manifest file contains images from multiple S3 buckets."
    )
    assert datasets[0]["StatusMessageCode"] == "CLIENT_ERROR"
    assert datasets[1]["Status"] == "CREATE_COMPLETE"


async def test_lines_without_source_ref_are_error_entries_and_too_many_fail(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    train, _ = two_labels(dest)
    train.append(
        {
            "class": 0,
            "class-metadata": {"class-name": "Robin", "type": "groundtruth/image-classification"},
        }
    )
    broken = [line(dest, "a.jpg", "Robin"), {"class": 0}, line(dest, "b.jpg", None)]
    _, datasets = await project_with_datasets(rek, s3, admin, dest, train, broken)
    assert datasets[0]["Status"] == "CREATE_COMPLETE"
    assert datasets[0]["DatasetStats"]["ErrorEntries"] == 1
    assert datasets[1]["Status"] == "CREATE_FAILED"
    assert datasets[1]["StatusMessage"] == "The manifest file contains too many invalid rows."


async def test_a_missing_manifest_fails_the_dataset_and_training_needs_both(
    rek: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    project = (await rek.create_project(ProjectName=f"p-{unique()}"))["ProjectArn"]
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": dest, "Name": "none.manifest"}}}
    arn = (await rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source))[
        "DatasetArn"
    ]
    await call(admin.advance, LONG)
    described = (await rek.describe_dataset(DatasetArn=arn))["DatasetDescription"]
    assert described["Status"] == "CREATE_FAILED"
    assert "manifest file extension or contents are invalid" in described["StatusMessage"]
    with pytest.raises(ClientError) as caught:
        await rek.create_project_version(
            ProjectArn=project, VersionName="v", OutputConfig={"S3Bucket": dest}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        await rek.create_project(ProjectName=project.split("/")[1])
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"


async def test_an_injected_training_failure_is_reported_as_is(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    await call(admin.configure, training_failure="An internal service error occurred.")
    project, _ = await project_with_datasets(rek, s3, admin, dest, *two_labels(dest))
    arn = (
        await rek.create_project_version(
            ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": dest}
        )
    )["ProjectVersionArn"]
    await call(admin.advance, LONG)
    failed = await version_status(rek, project)
    assert (failed["Status"], failed["StatusMessage"]) == (
        "TRAINING_FAILED",
        "An internal service error occurred.",
    )
    with pytest.raises(ClientError) as caught:
        await rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1)
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"


async def test_an_output_bucket_that_cannot_be_written_fails_training(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    project, _ = await project_with_datasets(rek, s3, admin, dest, *two_labels(dest))
    await rek.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": f"gone-{unique()}"}
    )
    await call(admin.advance, LONG)
    failed = await version_status(rek, project)
    assert failed["Status"] == "TRAINING_FAILED"
    assert "could not be written" in failed["StatusMessage"]


async def test_states_move_on_with_wall_time_when_durations_are_short(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    project, _ = await project_with_datasets(rek, s3, admin, dest, *two_labels(dest))
    await call(admin.fast, 0.01)
    await rek.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": dest}
    )
    with anyio.fail_after(10):
        while (await version_status(rek, project))["Status"] == "TRAINING_IN_PROGRESS":  # noqa: ASYNC110 - polling the service is the point
            await anyio.sleep(0.02)
    assert (await version_status(rek, project))["Status"] == "TRAINING_COMPLETED"


async def test_unknown_models_and_projects_are_not_found(
    rek: Any, admin: CustomLabelsAdmin
) -> None:
    arn = "arn:aws:rekognition:us-east-1:123456789012:project/x/version/v/1"
    image = {"S3Object": {"Bucket": "bkt", "Name": "k.jpg"}}
    calls = (
        lambda: rek.detect_custom_labels(ProjectVersionArn=arn, Image=image),
        lambda: rek.start_project_version(ProjectVersionArn=arn, MinInferenceUnits=1),
        lambda: rek.describe_project_versions(
            ProjectArn="arn:aws:rekognition:us-east-1:123456789012:project/x/1"
        ),
    )
    for make_call in calls:
        with pytest.raises(ClientError) as caught:
            await make_call()
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


async def test_images_the_service_could_not_train_on_are_error_lines(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str]
) -> None:
    _, dest = buckets
    train, test = two_labels(dest)
    project, _ = await project_with_datasets(rek, s3, admin, dest, train, test)
    lines = [*train, line(dest, "gone.jpg", "Robin"), line(dest, "tiny.png", "Robin")]
    await s3.put_object(Bucket=dest, Key="tiny.png", Body=make_image(40, 40, fmt="PNG"))
    await put_manifest(s3, dest, "manifests/more.manifest", lines)
    described = await rek.describe_projects(ProjectNames=[project.split("/")[1]])
    for dataset in described["ProjectDescriptions"][0]["Datasets"]:
        await rek.delete_dataset(DatasetArn=dataset["DatasetArn"])
    source = {
        "GroundTruthManifest": {"S3Object": {"Bucket": dest, "Name": "manifests/more.manifest"}}
    }
    arn = (await rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source))[
        "DatasetArn"
    ]
    await call(admin.advance, LONG)
    described = (await rek.describe_dataset(DatasetArn=arn))["DatasetDescription"]
    assert described["Status"] == "CREATE_COMPLETE"
    assert described["DatasetStats"]["ErrorEntries"] == 2
    assert described["DatasetStats"]["TotalEntries"] == 10
