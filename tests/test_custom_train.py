"""``train``: from a real sweep's ledger to a trained model, checked before anything is paid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aioboto3
import anyio
import pytest
from custom_helpers import admin_call, run_cli
from helpers import jpeg, labels_entries, list_keys, robin, seed, unique

from asyncfilter import ConfigError, CustomLabelsError, run_training, scan
from asyncfilter._custom._training import plan_training
from asyncfilter.testing import (
    TEST_CREDENTIALS,
    CustomLabelsAdmin,
    EmulatorProcess,
    MotoServer,
    make_image,
)

WIDE = make_image(5000, 100)  # DetectLabels takes it; Custom Labels' 4,096 px limit does not


@pytest.fixture
def admin(emulator: EmulatorProcess) -> CustomLabelsAdmin:
    admin = CustomLabelsAdmin(emulator.endpoint_url)
    admin.fast(0.01)
    return admin


@pytest.fixture
async def swept(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> Path:
    """A real sweep: 12 robins (one 5,000 px wide) among 12 other images; its ledger."""
    source, _ = buckets
    robins = {k: jpeg(k) for k in (f"img/robin-{i:02d}.jpg" for i in range(11))} | {
        "img/robin-wide.jpg": WIDE
    }
    others = {k: jpeg(k) for k in (f"img/other-{i:02d}.jpg" for i in range(12))}
    await seed(s3, source, robins | others)
    await admin_call(
        emulator.add_labels,
        labels_entries(source, {k: [robin()] for k in robins} | {k: [] for k in others}),
    )
    ledger = tmp_path / "ledger.sqlite"
    report = await scan(config_for(state=str(ledger), name="Robin"))
    assert report.stats.hits == 12
    assert report.stats.misses == 12
    return ledger


async def test_the_plan_checks_sizes_samples_misses_and_splits_reproducibly(
    s3: Any, swept: Path, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    plan = await plan_training(
        str(swept), "Robin", "robins", s3=s3, negatives=["misses"], seed=3, test_split=0.25
    )
    dataset = plan.dataset
    assert dataset.counts() == {"Robin": (8, 3), "not-Robin": (9, 3)}
    assert dataset.excluded == {"sides outside 64-4,096 px": 1}
    assert plan.header_reads == 12 + 12  # sizes unknown to the ledger: read from headers
    assert dataset.bucket == dest
    assert len(dataset.copies) == 12  # the misses are in the source bucket: copied for training
    assert {c[0] for c in dataset.copies} == {source}
    assert all(r.bucket == dest for r in dataset.train + dataset.test)
    assert str(plan.output) == f"s3://{dest}/_train/robins/"

    again = await plan_training(
        str(swept), "Robin", "robins", s3=s3, negatives=["misses"], seed=3, test_split=0.25
    )
    assert [r.key for r in again.dataset.test] == [r.key for r in dataset.test]
    other = await plan_training(
        str(swept), "Robin", "robins", s3=s3, negatives=["misses"], seed=4, test_split=0.25
    )
    assert {r.key for r in other.dataset.test} != {r.key for r in dataset.test}

    train, test = dataset.manifests()
    lines = [json.loads(line) for line in train.splitlines()]
    assert len(lines) == 17
    assert {line["class-metadata"]["class-name"] for line in lines} == {"Robin", "not-Robin"}
    assert all(line["source-ref"].startswith(f"s3://{dest}/") for line in lines)
    assert len(test.splitlines()) == 6


async def test_one_label_is_refused_before_anything_is_paid_with_the_fix(
    s3: Any, swept: Path, emulator: EmulatorProcess
) -> None:
    calls_after_sweep = emulator.stats()["calls"]
    with pytest.raises(ConfigError, match=r"at least 2 labels.*--negatives misses"):
        await plan_training(str(swept), "Robin", "robins", s3=s3)
    with pytest.raises(ConfigError, match=r"no copied image of 'Owl'.*Robin"):
        await plan_training(str(swept), "Owl", "owls", s3=s3, negatives=["misses"])
    with pytest.raises(ConfigError, match="--negatives Heron: the ledger has no copied image"):
        await plan_training(str(swept), "Robin", "robins", s3=s3, negatives=["Heron"])
    assert emulator.stats()["calls"] == calls_after_sweep  # no Rekognition call
    assert CustomLabelsAdmin(emulator.endpoint_url).state()["projects"] == []


async def test_train_runs_the_loop_and_prints_the_evaluation_and_arn(
    swept: Path,
    moto: MotoServer,
    emulator: EmulatorProcess,
    admin: CustomLabelsAdmin,
    buckets: tuple[str, str],
    s3: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, dest = buckets
    project = f"robins-{unique()}"
    aws = [
        "--s3-endpoint-url", moto.endpoint_url,
        "--rekognition-endpoint-url", emulator.endpoint_url,
        "--poll-seconds", "0.02",
    ]  # fmt: skip
    args = ["train", "--state", str(swept), "--name", "Robin", "--project", project]
    args += ["--negatives", "misses", "--seed", "1", *aws]

    code, _, err = await run_cli(args, capsys)
    assert code == 2
    assert "pass --yes" in err  # no terminal to ask: nothing is spent without --yes

    code, out, err = await run_cli([*args, "--yes"], capsys)
    assert code == 0, err
    assert "classification model Robin-" in err
    assert "$1.00 per hour of training" in err
    assert "left out 1 images (sides outside 64-4,096 px: 1)" in err
    assert "TRAINING_COMPLETED: arn:aws:rekognition:" in out
    assert "F1 1.000" in out  # the emulator knows no wrong answer for these images
    assert "Robin" in out
    assert "not-Robin" in out
    arn = out.split("TRAINING_COMPLETED: ", 1)[1].split()[0]
    assert f"asyncfilter model start {arn}" in out
    written = await list_keys(s3, dest, f"_train/{project}/")
    assert sum(k.endswith(".manifest") for k in written) == 2
    assert sum("/not-Robin/" in k for k in written) == 12
    assert any("/output/EvaluationSummary-" in k for k in written)

    code, out, err = await run_cli(["train", "--status", "--project", project, *aws], capsys)
    assert code == 0, err
    assert f"TRAINING_COMPLETED: {arn}" in out

    # a second training in the same project replaces its data sets
    code, out, err = await run_cli([*args, "--yes", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["status"] == "TRAINING_COMPLETED"
    assert "replaced the project's previous data sets" in err


async def test_a_failed_training_is_exit_1_with_the_services_message(
    swept: Path,
    moto: MotoServer,
    emulator: EmulatorProcess,
    admin: CustomLabelsAdmin,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await admin_call(admin.configure, training_failure="The output bucket is in another region.")
    args = ["train", "--state", str(swept), "--name", "Robin", "--project", f"p-{unique()}"]
    args += ["--negatives", "misses", "--yes", "--poll-seconds", "0.02"]
    args += ["--s3-endpoint-url", moto.endpoint_url]
    args += ["--rekognition-endpoint-url", emulator.endpoint_url]
    code, _, err = await run_cli(args, capsys)
    assert code == 1
    assert "failed: The output bucket is in another region." in err


def _edit_ledger(path: Path, *statements: str) -> None:
    """Change a ledger as another tool would (the review page writes verdicts)."""
    db = sqlite3.connect(path)
    try:
        for statement in statements:
            db.execute(statement)
        db.commit()
    finally:
        db.close()


async def test_rejected_images_become_the_negative_class_and_leave_the_positive_one(
    s3: Any, swept: Path
) -> None:
    # no verdict yet (or a ledger from before the review page): said, not crashed on
    with pytest.raises(ConfigError, match="at least 2 labels"):
        await plan_training(str(swept), "Robin", "robins", s3=s3, negatives=["rejected"])
    old = swept.with_name("old.sqlite")
    await anyio.to_thread.run_sync(lambda: shutil.copy(swept, old))
    await anyio.to_thread.run_sync(
        lambda: _edit_ledger(old, "ALTER TABLE objects DROP COLUMN verdict")
    )
    with pytest.raises(ConfigError, match="at least 2 labels"):
        await plan_training(str(old), "Robin", "robins", s3=s3, negatives=["rejected"])

    rejected = [f"img/robin-{i:02d}.jpg" for i in range(5)]
    keys = ", ".join(f"'{k}'" for k in rejected)
    await anyio.to_thread.run_sync(
        lambda: _edit_ledger(
            swept, f"UPDATE objects SET verdict = 'rejected' WHERE key IN ({keys})"
        )
    )
    plan = await plan_training(str(swept), "Robin", "robins", s3=s3, negatives=["rejected"], seed=1)
    records = plan.dataset.train + plan.dataset.test
    negatives = sorted(r.source_key for r in records if r.class_name == "not-Robin")
    assert negatives == rejected
    assert sum(r.class_name == "Robin" for r in records) == 12 - 5 - 1  # and the wide one
    assert plan.dataset.copies == []  # the rejected copies are already in the training bucket
    assert any("only 5 images" in w for w in plan.dataset.warnings)


async def test_detection_trains_from_the_stored_boxes_with_one_label(s3: Any, swept: Path) -> None:
    box = '{"Left": 0.1, "Top": 0.2, "Width": 0.5, "Height": 0.5}'
    box = f'[{{"BoundingBox": {box}, "Confidence": 90}}]'
    await anyio.to_thread.run_sync(
        lambda: _edit_ledger(
            swept, f"UPDATE objects SET match_instances = '{box}' WHERE outcome = 'hit'"
        )
    )
    plan = await plan_training(str(swept), "Robin", "robins", s3=s3, detection_model=True)
    assert plan.dataset.counts() == {"Robin": (9, 2)}
    train, _ = plan.dataset.manifests()
    line = json.loads(train.splitlines()[0])
    assert line["bounding-box-metadata"]["type"] == "groundtruth/object-detection"
    assert line["bounding-box"]["annotations"] == [
        {"class_id": 0, "left": 10, "top": 19, "width": 48, "height": 48}
    ]


async def test_ctrl_c_leaves_training_running_and_says_how_to_follow_it(
    swept: Path, moto: MotoServer, emulator: EmulatorProcess, admin: CustomLabelsAdmin
) -> None:
    await admin_call(admin.configure, training_s=1000)
    project = f"p-{unique()}"
    args = ["train", "--state", str(swept), "--name", "Robin", "--project", project]
    args += ["--negatives", "misses", "--yes", "--poll-seconds", "0.05"]
    args += ["--s3-endpoint-url", moto.endpoint_url]
    args += ["--rekognition-endpoint-url", emulator.endpoint_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | TEST_CREDENTIALS
    proc = await anyio.open_process([sys.executable, "-m", "asyncfilter", *args], env=env)
    with anyio.fail_after(60):
        while not (await admin_call(admin.state))["versions"]:  # noqa: ASYNC110 - polling
            await anyio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    err = b"".join([chunk async for chunk in proc.stderr]).decode()
    assert await proc.wait() == 130, err
    assert f"follow it with: asyncfilter train --status --project {project}" in err
    [version] = (await admin_call(admin.state))["versions"].values()
    assert version["status"] == "TRAINING_IN_PROGRESS"


async def test_a_negative_that_cannot_be_copied_stops_training_before_any_project(
    s3: Any, swept: Path, buckets: tuple[str, str], emulator: EmulatorProcess
) -> None:
    source, _ = buckets
    plan = await plan_training(str(swept), "Robin", f"p-{unique()}", s3=s3, negatives=["misses"])
    await s3.delete_object(Bucket=source, Key=plan.dataset.copies[3][1])  # gone since the plan
    async with aioboto3.Session().client("rekognition", endpoint_url=emulator.endpoint_url) as rek:
        with pytest.raises(CustomLabelsError, match=r"copy s3://.*NoSuchKey"):
            await run_training(plan, client=rek, s3=s3, poll_s=0.02)
    assert CustomLabelsAdmin(emulator.endpoint_url).state()["projects"] == []


async def test_a_detection_model_trains_in_the_emulator_from_our_manifests(
    s3: Any, swept: Path, emulator: EmulatorProcess, admin: CustomLabelsAdmin
) -> None:
    box = '{"Left": 0.1, "Top": 0.2, "Width": 0.5, "Height": 0.5}'
    box = f'[{{"BoundingBox": {box}, "Confidence": 90}}]'
    await anyio.to_thread.run_sync(
        lambda: _edit_ledger(
            swept, f"UPDATE objects SET match_instances = '{box}' WHERE outcome = 'hit'"
        )
    )
    plan = await plan_training(str(swept), "Robin", f"p-{unique()}", s3=s3, detection_model=True)
    async with aioboto3.Session().client("rekognition", endpoint_url=emulator.endpoint_url) as rek:
        result = await run_training(plan, client=rek, s3=s3, poll_s=0.02)
    assert result.status == "TRAINING_COMPLETED"
    assert [s.label for s in result.labels] == ["Robin"]
    assert result.labels[0].test_images == 2


def test_the_training_split_keeps_each_near_copy_group_on_one_side() -> None:
    from asyncfilter._custom._dataset import split
    from asyncfilter._export._records import CopiedImage
    from asyncfilter._results import Outcome

    def record(key: str, label: str) -> CopiedImage:
        return CopiedImage("src", key, "dst", f"{label}/{key}", Outcome.HIT, label, label, 90.0, (),
                      None, 0.0)  # fmt: skip

    images = [record(f"{i:03d}.jpg", "Robin" if i % 2 else "not-Robin") for i in range(60)]
    # ten groups of six near-copies, three of each class
    groups = {("dst", r.key): int(r.source_key[:3]) // 6 for r in images}
    for each in range(20):
        train, test, _ = split(images, 0.25, each, groups)
        assert len(train) + len(test) == 60
        train_groups = {groups[("dst", r.key)] for r in train}
        test_groups = {groups[("dst", r.key)] for r in test}
        assert not train_groups & test_groups, each
        assert {r.class_name for r in test} == {"Robin", "not-Robin"}
    assert split(images, 0.25, 7, groups) == split(images, 0.25, 7, groups)
