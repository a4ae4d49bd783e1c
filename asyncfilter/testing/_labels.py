"""The emulator's answers: which labels (or which error) each object gets.

A labels file is JSON Lines, one object per line::

    {"key": "robin/0001.jpg", "labels": [{"Name": "Robin", "Confidence": 97.5,
                                          "Parents": [{"Name": "Bird"}]}]}
    {"bucket": "raw", "key": "x.jpg", "labels": []}          # only in bucket "raw"
    {"sha256": "9f86d0...", "labels": [...]}                 # by content (object checks on)
    {"key": "secret.jpg", "error": "AccessDeniedException"}  # a per-object service error
    {"default": true, "labels": [...]}                       # everything else

Labels use DetectLabels' own response shape, so an answer recorded from the real service can be
pasted in as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    """What the emulator answers for one object."""

    labels: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    message: str | None = None


@dataclass(slots=True)
class LabelStore:
    """Answers by (bucket, key), by key in any bucket, by content hash, or a default."""

    by_bucket_key: dict[tuple[str, str], Answer] = field(default_factory=dict)
    by_key: dict[str, Answer] = field(default_factory=dict)
    by_sha256: dict[str, Answer] = field(default_factory=dict)
    default: Answer = field(default_factory=Answer)

    def add(self, entry: Mapping[str, Any]) -> None:
        """Add one entry in the labels-file shape; raises ValueError on a malformed one."""
        if not isinstance(entry, Mapping):
            raise ValueError(f"a labels entry must be a JSON object, got {entry!r}")
        labels = entry.get("labels", [])
        if not isinstance(labels, list) or not all(
            isinstance(lb, Mapping) and "Name" in lb for lb in labels
        ):
            raise ValueError(f"'labels' must be a list of objects with a Name: {entry!r}")
        answer = Answer(tuple(labels), entry.get("error"), entry.get("message"))
        if entry.get("default"):
            self.default = answer
        elif "sha256" in entry:
            self.by_sha256[str(entry["sha256"]).lower()] = answer
        elif "key" in entry:
            if "bucket" in entry:
                self.by_bucket_key[(str(entry["bucket"]), str(entry["key"]))] = answer
            else:
                self.by_key[str(entry["key"])] = answer
        else:
            raise ValueError(f"a labels entry needs 'key', 'sha256' or 'default': {entry!r}")

    def extend(self, entries: Iterable[Mapping[str, Any]]) -> None:
        for entry in entries:
            self.add(entry)

    def add_jsonl(self, text: str, *, source: str = "labels") -> None:
        """Add every line of a JSON Lines document."""
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                self.add(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{source}:{number}: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> LabelStore:
        store = cls()
        store.add_jsonl(Path(path).read_text(encoding="utf-8"), source=str(path))
        return store

    def lookup(self, bucket: str, key: str, sha256: str | None = None) -> Answer:
        answer = self.by_bucket_key.get((bucket, key)) or self.by_key.get(key)
        if answer is None and sha256 is not None:
            answer = self.by_sha256.get(sha256)
        return answer if answer is not None else self.default


def filter_labels(
    labels: Iterable[Mapping[str, Any]], min_confidence: float, max_labels: int | None
) -> list[Mapping[str, Any]]:
    """Apply MinConfidence and MaxLabels the way DetectLabels does: most confident first."""
    kept = [lb for lb in labels if float(lb.get("Confidence", 0.0)) >= min_confidence]
    kept.sort(key=lambda lb: float(lb.get("Confidence", 0.0)), reverse=True)
    return kept[:max_labels] if max_labels is not None else kept
