"""The export formats by name, with a line each: the one list the CLI's choices, its help and
the exporter's registry are all made from. Importing it costs nothing (no AWS stack)."""

from __future__ import annotations

FORMAT_HELP: dict[str, str] = {
    "gt-classification": "SageMaker Ground Truth classification manifest (what Custom Labels "
    "imports)",
    "gt-detection": "Ground Truth object-detection manifest with pixel boxes",
    "coco": "COCO detection JSON",
    "yolo": "Ultralytics/YOLO label files, train.txt and data.yaml",
    "labelstudio": "Label Studio tasks with pre-annotations, and their labelling config",
    "review": "the review band's manifest",
    "jsonl": "the whole ledger, one JSON object a line",
}
