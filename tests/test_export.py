"""Exports: every format built from the ledger and loaded back the way its ecosystem loads it.

The data: hits with boxes (one stored sideways with EXIF orientation 6, one with a box reaching
past the edge), a hit with no box, review-band images and misses, swept once over real HTTP.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
import validators
import yaml
from helpers import labels_entries, list_keys, seed

from asyncfilter import (
    ExportError,
    ManifestLimits,
    Outcome,
    export,
    scan,
)
from asyncfilter._export._format import ExportContext
from asyncfilter._export._groundtruth import detection
from asyncfilter._export._records import CopiedImage, ImageSize
from asyncfilter._models import BoundingBox, Instance
from asyncfilter.testing import EmulatorProcess, make_image

FORMATS = ["gt-classification", "gt-detection", "coco", "yolo", "labelstudio"]


def robin(confidence: float, *boxes: tuple[float, float, float, float]) -> dict[str, Any]:
    return {
        "Name": "Robin",
        "Confidence": confidence,
        "Parents": [{"Name": "Bird"}],
        "Instances": [
            {
                "BoundingBox": {"Left": b[0], "Top": b[1], "Width": b[2], "Height": b[3]},
                "Confidence": confidence - 2,
            }
            for b in boxes
        ],
    }


IMAGES: dict[str, tuple[bytes, list[dict[str, Any]]]] = {
    "a/upright.jpg": (make_image(200, 100), [robin(95, (0.1, 0.2, 0.5, 0.25))]),
    # stored 200x100, seen (and boxed by Rekognition) as 100x200
    "a/sideways.jpg": (make_image(200, 100, orientation=6), [robin(93, (0.1, 0.2, 0.5, 0.25))]),
    "a/edge.png": (
        make_image(160, 120, fmt="PNG"),
        [robin(91, (0.8, 0.9, 0.4, 0.3), (0.0, 0.0, 0.25, 0.5))],
    ),
    "a/no-box.jpg": (make_image(96, 96, tag=b"no-box"), [robin(90)]),
    "b/maybe-1.jpg": (make_image(120, 80, tag=b"maybe-1"), [robin(70, (0.25, 0.25, 0.5, 0.5))]),
    "b/maybe-2.jpg": (make_image(120, 80, tag=b"maybe-2"), [robin(65)]),
    "b/nest.jpg": (make_image(96, 96, tag=b"nest"), [{"Name": "Nest", "Confidence": 99.0}]),
}


@pytest.fixture
async def swept(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> Path:
    """The ledger of one sweep of IMAGES with a review band; the emulator's counts zeroed."""
    source, _ = buckets
    await seed(s3, source, {k: body for k, (body, _) in IMAGES.items()})
    entries = labels_entries(source, {k: labels for k, (_, labels) in IMAGES.items()})
    await anyio.to_thread.run_sync(emulator.add_labels, entries)
    state = tmp_path / "ledger.sqlite"
    report = await scan(config_for(review_threshold=60, state=str(state)))
    assert (report.stats.hits, report.stats.review, report.stats.misses) == (4, 2, 1)
    await anyio.to_thread.run_sync(emulator.reset)
    return state


async def test_every_format_loads_back_and_export_makes_no_call(
    swept: Path,
    moto: Any,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, dest = buckets
    out = tmp_path / "out"
    report = await export(swept, FORMATS, str(out), s3_endpoint_url=moto.endpoint_url)
    assert (await anyio.to_thread.run_sync(emulator.stats))["calls"] == 0
    counts = {name: (f.images, f.boxes, f.excluded) for name, f in report.formats.items()}
    assert counts == {
        "gt-classification": (4, 0, {}),
        "gt-detection": (3, 4, {"no_boxes": 1}),
        "coco": (3, 4, {"no_boxes": 1}),
        "yolo": (3, 4, {"no_boxes": 1}),
        "labelstudio": (2, 1, {}),
    }
    assert report.header_reads == 4  # the images with boxes; a ranged GET each, at most

    # Ground Truth classification: every required field, pointing at the copies
    lines = validators.gt_classification(out / "classification.manifest")
    assert {line["source-ref"] for line in lines} == {
        f"s3://{dest}/Robin/a/{name}"
        for name in ("upright.jpg", "sideways.jpg", "edge.png", "no-box.jpg")
    }
    assert {(line["class"], line["class-metadata"]["class-name"]) for line in lines} == {
        (0, "Robin")
    }

    # Ground Truth object detection: integer pixel boxes in the EXIF-corrected frame, clipped
    boxes = {}
    for line in validators.gt_detection(out / "detection.manifest"):
        assert line["bounding-box-metadata"]["class-map"] == {"0": "Robin"}
        name = line["source-ref"].rsplit("/", 1)[1]
        size = line["bounding-box"]["image_size"][0]
        annotations = line["bounding-box"]["annotations"]
        boxes[name] = (size, [(a["left"], a["top"], a["width"], a["height"]) for a in annotations])
    assert boxes["upright.jpg"] == ({"width": 200, "height": 100, "depth": 3}, [(20, 20, 100, 25)])
    assert boxes["sideways.jpg"] == ({"width": 100, "height": 200, "depth": 3}, [(10, 40, 50, 50)])
    # the box reaching past the corner is clipped to the image (160x120)
    assert boxes["edge.png"] == (
        {"width": 160, "height": 120, "depth": 3},
        [(128, 108, 32, 12), (0, 0, 40, 60)],
    )

    # COCO: pycocotools loads it, and its boxes score a perfect AP against themselves
    truth = validators.coco(out / "coco.json")
    assert [c["name"] for c in truth.loadCats(truth.getCatIds())] == ["Robin"]
    sideways = next(i for i in truth.dataset["images"] if i["file_name"].endswith("sideways.jpg"))
    assert (sideways["width"], sideways["height"]) == (100, 200)

    # YOLO: normalised centre boxes in [0, 1], a label file per listed image, names in data.yaml
    labels = validators.yolo(out / "yolo")
    assert sorted(labels) == sorted(
        f"./images/Robin/a/{n}" for n in ("upright.jpg", "sideways.jpg", "edge.png")
    )
    assert yaml.safe_load((out / "yolo" / "data.yaml").read_text())["names"] == {0: "Robin"}
    assert labels["./images/Robin/a/edge.png"][0] == pytest.approx([0.9, 0.95, 0.2, 0.1])

    # Label Studio: the review band, percent boxes, scores and the model version
    tasks = validators.labelstudio(out)
    assert sorted(t["data"]["image"] for t in tasks) == [
        f"s3://{dest}/_review/Robin/b/maybe-1.jpg",
        f"s3://{dest}/_review/Robin/b/maybe-2.jpg",
    ]
    for task in tasks:
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "rekognition-detectlabels-3.0"
        assert 0.6 <= prediction["score"] < 0.8
        for result in prediction["result"]:
            if result["type"] == "rectanglelabels":
                assert (result["original_width"], result["original_height"]) == (120, 80)

    # pixel sizes were remembered: a second export reads no header
    again = await export(swept, ["coco"], str(tmp_path / "again"))
    assert again.header_reads == 0
    assert (tmp_path / "again" / "coco.json").read_bytes().count(b'"bbox"') == 4


async def test_export_to_s3_and_custom_labels_limits(
    swept: Path, moto: Any, s3: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    _, dest = buckets
    report = await export(
        swept, ["gt-detection", "yolo"], f"s3://{dest}/exports", s3_endpoint_url=moto.endpoint_url
    )
    keys = await list_keys(s3, dest, "exports/")
    assert "exports/detection.manifest" in keys
    assert "exports/yolo/data.yaml" in keys
    assert sorted(report.formats["yolo"].files) == sorted(
        f"s3://{dest}/{k}" for k in keys if "yolo" in k
    )

    with pytest.raises(ExportError, match="at most 2 a manifest"):
        await export(swept, ["gt-classification"], str(tmp_path / "x"),
                     limits=ManifestLimits(max_lines=2))  # fmt: skip
    with pytest.raises(ExportError, match="imports at most 100 bytes"):
        await export(swept, ["gt-classification"], str(tmp_path / "x"),
                     limits=ManifestLimits(max_bytes=100))  # fmt: skip
    assert not (tmp_path / "x").exists()  # refused means nothing written


async def test_hits_and_review_in_two_buckets_are_refused_for_custom_labels(
    s3: Any,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> None:
    source, _ = buckets
    review_bucket = f"{buckets[1]}-rev"
    await s3.create_bucket(Bucket=review_bucket)
    subset = {k: IMAGES[k] for k in ("a/upright.jpg", "b/maybe-1.jpg")}
    await seed(s3, source, {k: body for k, (body, _) in subset.items()})
    await anyio.to_thread.run_sync(
        emulator.add_labels, labels_entries(source, {k: lb for k, (_, lb) in subset.items()})
    )
    state = tmp_path / "ledger.sqlite"
    await scan(config_for(review_threshold=60, review=f"s3://{review_bucket}", state=str(state)))
    with pytest.raises(ExportError, match="from one bucket"):
        await export(state, ["gt-classification"], str(tmp_path / "o"), outcomes=["hit", "review"])
    one = await export(state, ["gt-classification"], str(tmp_path / "o"), outcomes=["review"])
    assert one.formats["gt-classification"].images == 1


def test_more_than_50_boxes_leaves_the_image_out() -> None:
    box = Instance(BoundingBox(0.1, 0.1, 0.2, 0.2), 90.0)
    crowded = CopiedImage("s", "k1", "d", "Robin/k1", Outcome.HIT, "Robin", "Robin", 95.0,
                     (box,) * 51, "3.0", 0.0, ImageSize(100, 100))  # fmt: skip
    fine = CopiedImage("s", "k2", "d", "Robin/k2", Outcome.HIT, "Robin", "Robin", 95.0,
                  (box,) * 50, "3.0", 0.0, ImageSize(100, 100))  # fmt: skip
    built = detection([crowded, fine], ExportContext({"Robin": 0}))
    assert built.images == 1
    assert built.excluded == {"over_box_limit": 1}


async def test_cli_scan_with_manifests_and_export_command(
    s3: Any, moto: Any, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    from test_cli import cli_env, scan_argv

    source, dest = buckets
    await seed(s3, source, {k: body for k, (body, _) in IMAGES.items()})
    await anyio.to_thread.run_sync(
        emulator.add_labels, labels_entries(source, {k: lb for k, (_, lb) in IMAGES.items()})
    )
    state = tmp_path / "ledger.sqlite"
    env = cli_env(moto, emulator)
    argv = scan_argv(source, dest, "--review-threshold", "60", "--state", str(state))
    manifests = [a for f in FORMATS for a in ("--manifest", f)]
    proc = await anyio.run_process([*argv, *manifests], env=env, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    text = proc.stdout.decode()
    assert "review 2" in text
    assert (
        f"export gt-detection: 3 images, 4 boxes (left out: 1 no boxes) -> s3://{dest}/_manifests/detection.manifest"
        in text
    )
    manifests_written = await list_keys(s3, dest, "_manifests/")
    assert "_manifests/coco.json" in manifests_written
    assert "_manifests/labelstudio.json" in manifests_written

    calls = (await anyio.to_thread.run_sync(emulator.stats))["calls"]
    out = tmp_path / "cli-out"
    proc = await anyio.run_process(
        [
            *argv[:3],
            "export",
            "--state",
            str(state),
            "--format",
            "coco",
            "--format",
            "yolo",
            "--to",
            str(out),
            "--json",
        ],
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    written = orjson.loads(proc.stdout)
    assert written["formats"]["coco"]["images"] == 3
    assert written["header_reads"] == 0
    assert (out / "yolo" / "data.yaml").exists()
    assert (await anyio.to_thread.run_sync(emulator.stats))["calls"] == calls

    proc = await anyio.run_process(
        [*argv[:3], "export", "--state", str(state), "--format", "coco"], env=env, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == (
        "asyncfilter: error: --to DIR or s3://BUCKET/PREFIX is required for these formats"
    )


async def test_demo_data_set_with_a_review_band_gives_all_five_exports(
    s3: Any,
    moto: Any,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> None:
    """The issue's acceptance: the demo's story, swept with a review band, exported five ways."""
    from asyncfilter.testing._demo import image_for, story

    source, dest = buckets
    entries = story(120, seed=7)
    await seed(s3, source, {key: image_for(n, kind) for n, (key, kind, _) in enumerate(entries)})
    await anyio.to_thread.run_sync(
        emulator.add_labels, labels_entries(source, {k: lb for k, _, lb in entries if lb})
    )
    state = tmp_path / "ledger.sqlite"
    report = await scan(config_for(review_threshold=60, state=str(state), concurrency=16))
    kinds = {key: kind for key, kind, _ in entries}
    robins = sorted(k for k, kind in kinds.items() if kind == "robin")
    blurry = sorted(k for k, kind in kinds.items() if kind == "blurry-robin")
    assert report.stats.hits == len(robins)
    assert report.stats.review == len(blurry)
    assert sorted(await list_keys(s3, dest, "Robin/")) == [f"Robin/{k}" for k in robins]
    assert sorted(await list_keys(s3, dest, "_review/Robin/")) == [
        f"_review/Robin/{k}" for k in blurry
    ]

    await anyio.to_thread.run_sync(emulator.reset)
    out = tmp_path / "exports"
    exported = await export(state, FORMATS, str(out), s3_endpoint_url=moto.endpoint_url)
    assert (await anyio.to_thread.run_sync(emulator.stats))["calls"] == 0
    robin_boxes = sum(len(lb[0]["Instances"]) for k, _, lb in entries if kinds[k] == "robin")
    blurry_boxed = [k for k, _, lb in entries if kinds[k] == "blurry-robin" and lb[0]["Instances"]]

    assert len(validators.gt_classification(out / "classification.manifest")) == len(robins)
    detection_lines = validators.gt_detection(out / "detection.manifest")
    assert len(detection_lines) == len(robins)
    truth = validators.coco(out / "coco.json")
    assert len(truth.dataset["annotations"]) == robin_boxes
    assert len(validators.yolo(out / "yolo")) == len(robins)
    tasks = validators.labelstudio(out)
    assert sorted(t["data"]["source"] for t in tasks) == [f"s3://{source}/{k}" for k in blurry]
    counts = {name: (f.images, f.boxes) for name, f in exported.formats.items()}
    assert counts == {
        "gt-classification": (len(robins), 0),
        "gt-detection": (len(robins), robin_boxes),
        "coco": (len(robins), robin_boxes),
        "yolo": (len(robins), robin_boxes),
        "labelstudio": (len(blurry), len(blurry_boxed)),
    }
    # the phone photos stored sideways (EXIF 6) are sized in the frame Rekognition boxes in
    sideways = {k for n, (k, kind, _) in enumerate(entries) if kind == "robin" and n % 7 == 3}
    assert sideways
    for line in detection_lines:
        size = line["bounding-box"]["image_size"][0]
        key = line["source-ref"].split("/Robin/", 1)[1]
        assert (size["width"] < size["height"]) == (key in sideways)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self._data


class _RangeRecordingS3:
    """Answers ranged GetObject from bytes in memory and records each Range asked for."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges: list[str] = []

    async def get_object(self, *, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        self.ranges.append(Range)
        start, end = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        return {"Body": _Body(self.data[start : end + 1])}


async def test_header_reads_are_ranged_and_grow_only_when_the_header_is_longer() -> None:
    from PIL import Image

    from asyncfilter._export._sizes import read_size

    small = _RangeRecordingS3(make_image(300, 200, orientation=8))
    assert await read_size(small, "b", "k", None) == ImageSize(200, 300, 3)
    assert small.ranges == ["bytes=0-65535"]

    # a 200 KB ICC profile puts the frame header past the first range
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buffer, "JPEG", icc_profile=bytes(range(256)) * 800)
    large = _RangeRecordingS3(buffer.getvalue())
    assert await read_size(large, "b", "k", None) == ImageSize(300, 200, 3)
    assert large.ranges == ["bytes=0-65535", "bytes=0-262143"]

    with pytest.raises(ValueError, match="not an image"):
        await read_size(_RangeRecordingS3(b"<html>403</html>"), "b", "k", None)


async def _yolo_ledger(
    s3: Any, emulator: EmulatorProcess, config_for: Any, source: str, state: Path, keys: list[str]
) -> None:
    images = {
        k: make_image(120, 100, fmt="PNG" if k.endswith(".png") else "JPEG", tag=k.encode())
        if k.endswith(".jpg")
        else make_image(120, 100, fmt="PNG", color=(len(k), 1, 2))
        for k in keys
    }
    await seed(s3, source, images)
    boxed = [robin(95, (0.1, 0.1, 0.5, 0.5))]
    await anyio.to_thread.run_sync(
        emulator.add_labels, labels_entries(source, dict.fromkeys(keys, boxed))
    )
    report = await scan(config_for(state=str(state)))
    assert report.stats.hits == len(keys)


async def test_yolo_labels_follow_ultralytics_rule_for_keys_with_an_images_folder(
    s3: Any, emulator: EmulatorProcess, buckets: tuple[str, str], config_for: Any, tmp_path: Path
) -> None:
    state = tmp_path / "ledger.sqlite"
    keys = ["raw/images/IMG_0001.jpg", "plain/IMG_0002.jpg"]
    await _yolo_ledger(s3, emulator, config_for, buckets[0], state, keys)
    out = tmp_path / "out"
    await export(state, ["yolo"], str(out))
    root = out / "yolo"
    # Ultralytics replaces the *last* /images/ of the image's path with /labels/
    assert (root / "images/Robin/raw/labels/IMG_0001.txt").exists()
    assert (root / "labels/Robin/plain/IMG_0002.txt").exists()
    assert len(validators.yolo(root)) == 2
    # an absolute dataset root: training finds train.txt from any working directory
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert Path(data["path"]).is_absolute()
    assert Path(data["path"]) == root.resolve()


async def test_yolo_refuses_two_images_that_would_share_a_label_file_and_writes_nothing(
    s3: Any,
    moto: Any,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    config_for: Any,
    tmp_path: Path,
) -> None:
    source, dest = buckets
    state = tmp_path / "ledger.sqlite"
    await _yolo_ledger(s3, emulator, config_for, source, state, ["pair.jpg", "pair.png", "x.jpg"])
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"both would use the label file .*pair\.txt"):
        await export(state, ["yolo"], str(out))
    assert not out.exists() or not any(out.rglob("*"))
    with pytest.raises(ExportError, match="pair"):
        await export(state, ["yolo"], f"s3://{dest}/exports", s3_endpoint_url=moto.endpoint_url)
    assert await list_keys(s3, dest, "exports/") == []
