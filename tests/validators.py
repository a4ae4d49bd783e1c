"""Load each export format back the way its ecosystem does, and check what every file of that
format must hold. Each returns what it loaded, for the tests' own value checks."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import yaml

GT_FIELDS = {"confidence", "job-name", "class-name", "human-annotated", "creation-date", "type"}
GT_BOX_FIELDS = {"objects", "class-map", "type", "human-annotated", "creation-date", "job-name"}


def gt_classification(path: Path) -> list[dict[str, Any]]:
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    for line in lines:
        assert line["source-ref"].startswith("s3://")
        (attribute,) = [k for k in line if k != "source-ref" and not k.endswith("-metadata")]
        meta = line[f"{attribute}-metadata"]
        assert set(meta) == GT_FIELDS
        assert meta["type"] == "groundtruth/image-classification"
        assert meta["human-annotated"] == "no"
        assert meta["job-name"].startswith("labeling-job/")
        assert isinstance(line[attribute], int)
        assert 0 < meta["confidence"] <= 1
    return lines


def gt_detection(path: Path) -> list[dict[str, Any]]:
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    for line in lines:
        assert line["source-ref"].startswith("s3://")
        meta = line["bounding-box-metadata"]
        assert set(meta) == GT_BOX_FIELDS
        assert meta["type"] == "groundtruth/object-detection"
        size = line["bounding-box"]["image_size"][0]
        assert set(size) == {"width", "height", "depth"}
        annotations = line["bounding-box"]["annotations"]
        assert 0 < len(annotations) <= 50
        assert len(meta["objects"]) == len(annotations)
        for a in annotations:
            assert set(a) == {"class_id", "left", "top", "width", "height"}
            assert all(isinstance(v, int) for v in a.values())
            assert str(a["class_id"]) in meta["class-map"]
            assert min(a["left"], a["top"]) >= 0
            assert min(a["width"], a["height"]) > 0
            assert a["left"] + a["width"] <= size["width"]
            assert a["top"] + a["height"] <= size["height"]
    return lines


def coco(path: Path) -> Any:
    """Loaded with pycocotools; its boxes must score a perfect AP against themselves."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(path))
        found = truth.loadRes(truth.loadAnns(truth.getAnnIds()))
        evaluation = COCOeval(truth, found, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == 1.0
    images = {i["id"]: i for i in truth.dataset["images"]}
    for a in truth.dataset["annotations"]:
        x, y, w, h = a["bbox"]
        image = images[a["image_id"]]
        assert a["area"] == w * h
        assert x + w <= image["width"]
        assert y + h <= image["height"]
    return truth


def yolo(root: Path) -> dict[str, list[list[float]]]:
    """``data.yaml`` loads; every listed image has a label file of values in [0, 1]."""
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert data["train"] == "train.txt"
    classes = set(data["names"])
    labels = {}
    for image in (root / "train.txt").read_text().split():
        # Ultralytics' rule: the last /images/ becomes /labels/, the extension .txt
        head, _, tail = f"/{image.removeprefix('./')}".rpartition("/images/")
        label = root / Path(f"{head}/labels/{tail}".lstrip("/")).with_suffix(".txt")
        rows = []
        for row in label.read_text().splitlines():
            cls, *values = row.split()
            assert int(cls) in classes
            assert len(values) == 4
            assert all(0 <= float(v) <= 1 for v in values)
            rows.append([float(v) for v in values])
        assert rows
        labels[image] = rows
    return labels


def labelstudio(root: Path) -> list[dict[str, Any]]:
    """Tasks with percent boxes, scores and a model version, written for the XML config."""
    tasks: list[dict[str, Any]] = json.loads((root / "labelstudio.json").read_text())
    config = ET.fromstring((root / "labelstudio.xml").read_text())
    controls = {el.get("name"): el for el in config}
    for task in tasks:
        assert task["data"]["image"].startswith("s3://")
        (prediction,) = task["predictions"]
        assert prediction["model_version"]
        assert 0 <= prediction["score"] <= 1
        for result in prediction["result"]:
            assert result["from_name"] in controls
            assert result["to_name"] == "image"
            assert 0 <= result["score"] <= 1
            if result["type"] == "rectanglelabels":
                v = result["value"]
                assert all(0 <= v[k] <= 100 for k in ("x", "y", "width", "height"))
                assert v["x"] + v["width"] <= 100 + 1e-9
                assert v["y"] + v["height"] <= 100 + 1e-9
                allowed = {el.get("value") for el in controls["label"]}
                assert set(v["rectanglelabels"]) <= allowed
    return tasks
