"""Writing an export's files to a local folder or an ``s3://`` prefix.

Everything is built in memory before this runs, so a refused export writes nothing. Local files
are written as ``.part`` and renamed only when all of them are written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

import anyio

from .._aws import classify
from .._config import S3Location
from .._errors import ExportError


def local_root(to: str) -> str | None:
    """The absolute folder an export to ``to`` lands in, or ``None`` for an ``s3://`` URL.
    Pure string work (no file system access), so it is safe on the event loop."""
    if is_s3(to):
        return None
    return str(PurePath(os.path.normpath(os.path.join(os.getcwd(), os.path.expanduser(to)))))


def is_s3(to: str) -> bool:
    return to.startswith("s3://")


async def write_files(
    to: str,
    files: Sequence[tuple[str, bytes]],
    *,
    s3: Any | None = None,
    expected_owner: str | None = None,
) -> list[str]:
    """Write ``files`` (relative path, content) under ``to``; return where each went."""
    if is_s3(to):
        assert s3 is not None
        return await _to_s3(S3Location.parse(to, what="export location"), files, s3, expected_owner)
    return await anyio.to_thread.run_sync(_to_folder, Path(to), files)


def _to_folder(root: Path, files: Sequence[tuple[str, bytes]]) -> list[str]:
    written: list[tuple[Path, Path]] = []
    try:
        for relative, content in files:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            part.write_bytes(content)
            written.append((part, path))
    except OSError as exc:
        for part, _ in written:
            part.unlink(missing_ok=True)
        raise ExportError(f"cannot write the export under {root}: {exc}") from exc
    for part, path in written:
        os.replace(part, path)
    return [str(path) for _, path in written]


async def _to_s3(
    where: S3Location,
    files: Sequence[tuple[str, bytes]],
    s3: Any,
    expected_owner: str | None,
) -> list[str]:
    extra = {"ExpectedBucketOwner": expected_owner} if expected_owner else {}
    limit = anyio.Semaphore(16)

    async def put(key: str, content: bytes) -> None:
        async with limit:
            try:
                await s3.put_object(Bucket=where.bucket, Key=key, Body=content, **extra)
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                raise ExportError(
                    f"cannot write s3://{where.bucket}/{key}: {failure.code}: {failure.message}"
                ) from exc

    keys = [f"{where.folder}{relative}" for relative, _ in files]
    async with anyio.create_task_group() as tg:
        for key, (_, content) in zip(keys, files, strict=True):
            tg.start_soon(put, key, content)
    return [f"s3://{where.bucket}/{key}" for key in keys]
