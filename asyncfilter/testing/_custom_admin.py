"""A small blocking admin client for the emulator's Custom Labels: for fixtures and scripts."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any


class CustomLabelsAdmin:
    """A small blocking client for the emulator's Custom Labels admin endpoints."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def _call(self, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.endpoint_url}/_emulator/custom-labels/{path}",
            data=body,
            method="POST" if body is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change :class:`CustomLabelsSettings`, e.g. ``configure(training_s=0.1)``."""
        result: dict[str, Any] = self._call("settings", json.dumps(settings).encode())
        return result

    def fast(self, seconds: float = 0.05) -> None:
        """Every state lasts ``seconds``: for tests and demos."""
        self.configure(
            dataset_s=seconds, training_s=seconds, starting_s=seconds, stopping_s=seconds
        )

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock on: every state whose time has come moves on."""
        self._call("advance", json.dumps({"seconds": seconds}).encode())

    def add_labels(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Answers for DetectCustomLabels, in the labels-file shape with CustomLabel entries."""
        self._call("labels", "\n".join(json.dumps(e) for e in entries).encode())

    def state(self) -> dict[str, Any]:
        """Projects and models: each model's status, running seconds and inference calls."""
        result: dict[str, Any] = self._call("state")
        return result
