"""Training a model from a ledger: plan (nothing paid), then the service calls.

:func:`plan_training` reads the ledger and image headers, checks and splits the set and prices
it; nothing is written. :func:`run_training` copies negatives into the training bucket, writes
the manifests, creates (or reuses) the project and its TRAIN/TEST data sets, waits for them,
starts training with an ``OutputConfig`` and follows it. Training cannot be cancelled on the
service: leaving the follow (Ctrl-C) leaves it running, and :func:`follow_training` picks it up.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from .._config import S3Location
from .._errors import AsyncFilterError, ConfigError
from ._calls import call
from ._dataset import (
    NEGATIVE_KINDS,
    DataSet,
    check_images,
    check_labels,
    check_manifest_limits,
    place,
    select,
    split,
)
from ._errors import DatasetFailed
from ._evaluation import TrainingResult, follow_training
from ._pricing import PRICES, CustomLabelsPrices
from ._project import check_name, ensure_project, find_project
from ._source import read_groups, read_rows

OnEvent = Callable[[str], None]
OnStatus = Callable[[dict[str, Any]], None]
COPY_WORKERS = 16


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    """Everything training will do, decided before anything is paid."""

    dataset: DataSet
    project: str
    version: str
    output: S3Location
    header_reads: int
    prices: CustomLabelsPrices = PRICES

    @property
    def train_manifest(self) -> S3Location:
        return S3Location(self.output.bucket, f"{self.output.folder}{self.version}/train.manifest")

    @property
    def test_manifest(self) -> S3Location:
        return S3Location(self.output.bucket, f"{self.output.folder}{self.version}/test.manifest")

    @property
    def output_config(self) -> dict[str, str]:
        return {
            "S3Bucket": self.output.bucket,
            "S3KeyPrefix": f"{self.output.folder}{self.version}/output/",
        }


def version_name(name: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{re.sub(r'[^a-zA-Z0-9_.-]', '-', name)[:200]}-{stamp}"


async def plan_training(
    state: str,
    name: str,
    project: str,
    *,
    s3: Any,
    negatives: Sequence[str] = (),
    test_split: float = 0.2,
    seed: int | None = None,
    output: str | None = None,
    detection_model: bool = False,
    version: str | None = None,
) -> TrainingPlan:
    """Read the ledger, check and split the set; raises ConfigError with the fix. Writes
    nothing and calls no Rekognition API (S3 is read for image headers not in the ledger)."""
    check_name(project, "--project")
    for kind in negatives:
        if not kind:
            raise ConfigError(f"--negatives takes {', '.join(NEGATIVE_KINDS)} or a LABEL")
    if not 0 < test_split < 1:
        raise ConfigError(f"--test-split must be between 0 and 1 (exclusive), got {test_split}")
    out = S3Location.parse(output, what="--output") if output else None
    rows = await read_rows(state)
    images, warnings = select(rows, name, negatives, seed=seed)
    bytes_of = {(r.bucket, r.key): r.size for r in rows} | {
        (r.dest_bucket, r.dest_key): r.size for r in rows if r.dest_bucket and r.dest_key
    }
    kept, excluded, reads = await check_images(s3, images, bytes_of)
    warnings += check_labels(kept, name, detection_model=detection_model)
    bucket, placed, copies = place(kept, name, project)
    # near-copies found by `asyncfilter dupes` stay on one side of the split
    train, test, more = split(placed, test_split, seed, await read_groups(state))
    check_manifest_limits(train, test)
    dataset = DataSet(
        name=name,
        bucket=bucket,
        train=train,
        test=test,
        copies=copies,
        excluded=Counter(excluded),
        warnings=warnings + more,
        detection=detection_model,
    )
    dataset.manifests()  # the Ground Truth builders' own limits, checked before any write
    return TrainingPlan(
        dataset=dataset,
        project=project,
        version=check_name(version or version_name(name), "version name"),
        output=out or S3Location(bucket, f"_train/{project}/"),
        header_reads=reads,
    )


async def run_training(
    plan: TrainingPlan,
    *,
    client: Any,
    s3: Any,
    poll_s: float = 30.0,
    on_event: OnEvent | None = None,
    on_version: Callable[[str], None] | None = None,
    on_status: OnStatus | None = None,
) -> TrainingResult:
    """Do what ``plan`` says, then follow training to its end (see :func:`follow_training`).

    ``on_version`` is called with ``""`` just before CreateProjectVersion is sent (training may
    run from then on, even if the answer never arrives) and with the model's ARN after it.
    """
    say = on_event or (lambda _: None)
    dataset = plan.dataset
    await _copy_all(s3, dataset.bucket, dataset.copies)
    if dataset.copies:
        say(f"copied {len(dataset.copies):,} negatives into s3://{dataset.bucket}/")
    train_bytes, test_bytes = dataset.manifests()
    for where, body in ((plan.train_manifest, train_bytes), (plan.test_manifest, test_bytes)):
        await call(
            f"write {where}", s3.put_object(Bucket=where.bucket, Key=where.prefix, Body=body)
        )
    say(f"wrote {plan.train_manifest} and {plan.test_manifest}")

    project, created = await ensure_project(client, plan.project)
    project_arn = str(project["ProjectArn"])
    say(f"{'created' if created else 'reusing'} project {plan.project}")
    if project.get("Datasets"):
        await _drop_datasets(client, plan.project, project["Datasets"], poll_s)
        say("replaced the project's previous data sets (its trained models keep their own copy)")
    arns = {}
    for kind, where in (("TRAIN", plan.train_manifest), ("TEST", plan.test_manifest)):
        source = {
            "GroundTruthManifest": {"S3Object": {"Bucket": where.bucket, "Name": where.prefix}}
        }
        response = await call(
            f"CreateDataset {kind}",
            client.create_dataset(ProjectArn=project_arn, DatasetType=kind, DatasetSource=source),
        )
        arns[kind] = str(response["DatasetArn"])
    warnings = [await _wait_dataset(client, kind, arn, poll_s) for kind, arn in arns.items()]
    for warning in filter(None, warnings):
        say(warning)
    say("data sets created")
    if on_version is not None:
        on_version("")  # asked: from here on, training may be running whatever happens to us
    response = await call(
        "CreateProjectVersion",
        client.create_project_version(
            ProjectArn=project_arn, VersionName=plan.version, OutputConfig=plan.output_config
        ),
    )
    arn = str(response["ProjectVersionArn"])
    if on_version is not None:
        on_version(arn)
    say(f"training {arn}")
    return await follow_training(client, s3, arn, poll_s=poll_s, on_status=on_status)


async def _copy_all(s3: Any, bucket: str, copies: Sequence[tuple[str, str, str]]) -> None:
    """Copy the negatives into the training bucket, a fixed pool of workers at a time; the
    first failure stops the others and is raised as itself."""
    todo = iter(copies)
    failed: list[AsyncFilterError] = []

    async def worker(scope: anyio.CancelScope) -> None:
        for source_bucket, source_key, key in todo:
            try:
                await call(
                    f"copy s3://{source_bucket}/{source_key} into s3://{bucket}/",
                    s3.copy_object(
                        Bucket=bucket, Key=key,
                        CopySource={"Bucket": source_bucket, "Key": source_key},
                    ),
                )  # fmt: skip
            except AsyncFilterError as exc:  # CustomLabelsError, CredentialsError
                failed.append(exc)
                scope.cancel()
                return

    async with anyio.create_task_group() as tg:
        for _ in range(min(COPY_WORKERS, len(copies))):
            tg.start_soon(worker, tg.cancel_scope)
    if failed:
        raise failed[0]


async def _drop_datasets(client: Any, project: str, datasets: Any, poll_s: float) -> None:
    for item in datasets:
        await call("DeleteDataset", client.delete_dataset(DatasetArn=item["DatasetArn"]))
    while True:
        found = await find_project(client, project)
        if not found or not found.get("Datasets"):
            return
        await anyio.sleep(poll_s)


async def _wait_dataset(client: Any, kind: str, arn: str, poll_s: float) -> str | None:
    while True:
        response = await call("DescribeDataset", client.describe_dataset(DatasetArn=arn))
        described = response["DatasetDescription"]
        status = described["Status"]
        if status != "CREATE_IN_PROGRESS":
            break
        await anyio.sleep(poll_s)
    errors = int((described.get("DatasetStats") or {}).get("ErrorEntries") or 0)
    if status != "CREATE_COMPLETE":
        raise DatasetFailed(
            f"the {kind} data set was not created: {status}: "
            f"{described.get('StatusMessage') or 'no message'}"
            + (f" ({errors} lines in error)" if errors else ""),
            code=described.get("StatusMessageCode"),
        )
    return f"the {kind} data set has {errors} lines in error, left out" if errors else None
