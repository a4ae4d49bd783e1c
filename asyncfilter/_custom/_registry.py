"""The models asyncfilter started: when, with how many units, until when.

The service bills a running model by the inference-unit hour but does not say since when it
runs, so asyncfilter writes down every start and stop it makes (``models.json`` next to the
ledgers: ``$ASYNCFILTER_STATE_DIR`` or ``~/.cache/asyncfilter``). That record gives the cost
so far and the ``--max-hours`` deadline that ``model status`` enforces. Times are counted from
the StartProjectVersion call to the StopProjectVersion call: a bound from above on what is
billed, never below it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


def default_registry_path() -> Path:
    base = os.environ.get("ASYNCFILTER_STATE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "asyncfilter"
    )
    return Path(base) / "models.json"


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """What asyncfilter knows of one model it started."""

    arn: str
    sessions: tuple[tuple[float, float | None, int], ...]
    """``(started, stopped or None, units)`` for every start asyncfilter made."""
    deadline: float | None

    @property
    def running(self) -> bool:
        return bool(self.sessions) and self.sessions[-1][1] is None

    def unit_hours(self, now: float) -> float:
        return sum(
            ((stop if stop is not None else now) - start) / 3600 * units
            for start, stop, units in self.sessions
        )


class Registry:
    """The record file; every change is a locked read-modify-write, so two commands at once
    (a sweep stopping its model while ``model status`` runs) lose nothing."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_registry_path()

    async def get(self, arn: str) -> ModelRecord | None:
        return (await self.all()).get(arn)

    async def all(self) -> dict[str, ModelRecord]:
        data = await anyio.to_thread.run_sync(self._update, None)
        return {arn: _record(arn, item) for arn, item in data.items()}

    async def started(
        self, arn: str, units: int, deadline: float | None, at: float | None = None
    ) -> None:
        when = time.time() if at is None else at

        def change(data: dict[str, Any]) -> None:
            item = data.setdefault(arn, {"sessions": [], "deadline": None})
            if not item["sessions"] or item["sessions"][-1][1] is not None:
                item["sessions"].append([when, None, units])
            item["deadline"] = deadline

        await anyio.to_thread.run_sync(self._update, change)

    async def set_deadline(self, arn: str, deadline: float | None) -> None:
        def change(data: dict[str, Any]) -> None:
            data.setdefault(arn, {"sessions": [], "deadline": None})["deadline"] = deadline

        await anyio.to_thread.run_sync(self._update, change)

    async def stopped(self, arn: str, at: float | None = None) -> None:
        when = time.time() if at is None else at

        def change(data: dict[str, Any]) -> None:
            item = data.get(arn)
            if item and item["sessions"] and item["sessions"][-1][1] is None:
                item["sessions"][-1][1] = when
            if item:
                item["deadline"] = None

        await anyio.to_thread.run_sync(self._update, change)

    def _update(self, change: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data: dict[str, Any] = (
                    json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
                )
            except ValueError:
                data = {}  # a torn or foreign file: start a fresh record rather than fail a stop
            if change is not None:
                change(data)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
                os.replace(tmp, self.path)
            return data


def _record(arn: str, item: dict[str, Any]) -> ModelRecord:
    return ModelRecord(
        arn=arn,
        sessions=tuple(
            (float(a), None if b is None else float(b), int(u))
            for a, b, u in item.get("sessions", ())
        ),
        deadline=item.get("deadline"),
    )
