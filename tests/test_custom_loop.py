"""The loop closed: sweep, train, start the model, sweep the next bucket with it, stop it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from custom_helpers import admin_call, trained_model
from helpers import JPEG, jpeg, labels_entries, list_keys, robin, seed, unique

from asyncfilter import (
    CustomLabelsDetector,
    ImageFailed,
    ModelNotRunning,
    Outcome,
    S3Object,
    check_model_running,
    plan_training,
    run_training,
    scan,
    start_model,
    stop_model,
)
from asyncfilter._custom._registry import Registry
from asyncfilter.testing import CustomLabelsAdmin, EmulatorProcess

POLL = 0.02
BOX = {"Left": 0.25, "Top": 0.25, "Width": 0.5, "Height": 0.5}


@pytest.fixture
def admin(emulator: EmulatorProcess) -> CustomLabelsAdmin:
    admin = CustomLabelsAdmin(emulator.endpoint_url)
    admin.fast(0.01)
    return admin


def custom(name: str, confidence: float, box: dict[str, float] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"Name": name, "Confidence": confidence}
    if box is not None:
        item["Geometry"] = {"BoundingBox": box}
    return item


async def test_the_detector_merges_boxes_per_label_and_says_who_answered(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str], registry: Registry
) -> None:
    source, dest = buckets
    arn = await trained_model(rek, s3, admin, dest)
    await seed(s3, source, {"a.jpg": JPEG, "bad.jpg": b"not an image"})
    other_box = {"Left": 0.0, "Top": 0.0, "Width": 0.1, "Height": 0.1}
    await admin_call(
        admin.add_labels,
        [{"bucket": source, "key": "a.jpg", "labels": [
            custom("Robin", 80.0, BOX), custom("Robin", 95.0, other_box), custom("other", 10.0),
        ]}],
    )  # fmt: skip
    detector = CustomLabelsDetector(rek, arn)
    assert detector.identity == f"custom-labels:{arn}"
    obj = S3Object(source, "a.jpg", len(JPEG))
    with pytest.raises(ModelNotRunning, match="model start"):
        await detector.detect(obj, min_confidence=50, max_labels=None)

    await start_model(rek, arn, registry=registry, poll_s=POLL)
    detection = await detector.detect(obj, min_confidence=50, max_labels=None)
    assert detection.model_version == arn
    [label] = detection.labels
    assert label.name == "Robin"
    assert label.confidence == 95.0
    assert sorted(i.box.left for i in label.instances) == [0.0, 0.25]
    with pytest.raises(ImageFailed) as caught:
        await detector.detect(S3Object(source, "bad.jpg", 12), min_confidence=50, max_labels=None)
    assert caught.value.code == "InvalidImageFormatException"
    await stop_model(rek, arn, registry=registry, poll_s=POLL)


async def test_sweep_train_start_sweep_with_the_model_stop(
    rek: Any,
    s3: Any,
    emulator: EmulatorProcess,
    admin: CustomLabelsAdmin,
    buckets: tuple[str, str],
    config_for: Any,
    registry: Registry,
    tmp_path: Path,
) -> None:
    source, dest = buckets
    # 1. a DetectLabels sweep of a dirty bucket
    robins = {k: jpeg(k) for k in (f"robin-{i:02d}.jpg" for i in range(12))}
    others = {k: jpeg(k) for k in (f"other-{i:02d}.jpg" for i in range(12))}
    await seed(s3, source, robins | others)
    await admin_call(
        emulator.add_labels,
        labels_entries(source, {k: [robin()] for k in robins} | {k: [] for k in others}),
    )
    ledger = tmp_path / "first.sqlite"
    first = await scan(config_for(state=str(ledger), name="Robin"))
    assert first.stats.hits == 12

    # 2. train from its ledger, robins against a sample of its misses
    plan = await plan_training(str(ledger), "Robin", f"robins-{unique()}", s3=s3,
                               negatives=["misses"], seed=5)  # fmt: skip
    trained = await run_training(plan, client=rek, s3=s3, poll_s=POLL)
    assert trained.status == "TRAINING_COMPLETED"
    assert {s.label for s in trained.labels} == {"Robin", "not-Robin"}

    # 3. start it, and sweep the next bucket with it: boxes come from Geometry
    await start_model(rek, trained.arn, max_hours=1, registry=registry, poll_s=POLL)
    await check_model_running(rek, trained.arn)
    second = f"next-{unique()}"
    await s3.create_bucket(Bucket=second)
    fresh = {k: jpeg(k) for k in (f"n-{i:02d}.jpg" for i in range(10))}
    await seed(s3, second, fresh)
    answers = [
        {"bucket": second, "key": key, "labels": [custom("Robin", 90.0, BOX)] if i % 2 else
         [custom("not-Robin", 88.0)]}
        for i, key in enumerate(sorted(fresh))
    ]  # fmt: skip
    await admin_call(admin.add_labels, answers)
    results: list[Any] = []
    report = await scan(
        config_for(source=f"s3://{second}", state=str(tmp_path / "second.sqlite"),
                   name="Robin-custom"),
        detector=CustomLabelsDetector(rek, trained.arn),
        on_result=results.append,
    )  # fmt: skip
    assert report.stats.hits == 5
    assert report.stats.misses == 5
    copied = await list_keys(s3, dest, "Robin-custom/")
    assert sorted(copied) == [f"Robin-custom/n-{i:02d}.jpg" for i in range(1, 10, 2)]
    hits = [r for r in results if r.outcome is Outcome.HIT]
    assert all(r.match.instances[0].box.width == 0.5 for r in hits)
    assert (await admin_call(admin.state))["versions"][trained.arn]["detect_calls"] == 10

    # 4. stop it: billing ends, and the model answers no more
    stopped = await stop_model(rek, trained.arn, registry=registry, poll_s=POLL)
    assert stopped.status == "STOPPED"
    record = await registry.get(trained.arn)
    assert record is not None
    assert not record.running
    with pytest.raises(ModelNotRunning):
        await check_model_running(rek, trained.arn)


async def test_a_sweep_with_a_stopped_model_aborts_with_nothing_copied(
    rek: Any, s3: Any, admin: CustomLabelsAdmin, buckets: tuple[str, str], config_for: Any
) -> None:
    source, dest = buckets
    arn = await trained_model(rek, s3, admin, dest)
    await seed(s3, source, {f"{i}.jpg": jpeg(f"{i}.jpg") for i in range(5)})
    with pytest.raises(ModelNotRunning, match="stopped answering") as caught:
        await scan(config_for(), detector=CustomLabelsDetector(rek, arn))
    assert caught.value.report is not None
    assert caught.value.report.stats.hits == 0
    assert await list_keys(s3, dest, "Robin/") == []
