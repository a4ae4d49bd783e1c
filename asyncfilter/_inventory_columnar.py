"""Parquet and ORC inventory files, read with pyarrow (the optional ``inventory`` extra).

The file is fetched whole (both formats need to seek; inventory files are split at a few
hundred MB) and decoded a batch at a time in a worker thread, so the event loop never waits on
the decoding.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread

from ._errors import SourceError
from ._models import S3Object

_MISSING = (
    "this inventory is in {fmt}: install pyarrow to read it (pip install 'asyncfilter[inventory]')"
    ", or configure the inventory as CSV"
)
_COLUMNS = {"key": "key", "size": "size", "e_tag": "etag", "etag": "etag"}
_COLUMNS |= {"storage_class": "storage", "is_latest": "latest", "is_delete_marker": "deleted"}


def _batches(data: bytes, fmt: str, page_size: int) -> Any:
    try:
        if fmt == "Parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(io.BytesIO(data))
            names = parquet.schema_arrow.names
            wanted = [n for n in names if n.lower() in _COLUMNS]
            return iter(parquet.iter_batches(batch_size=page_size, columns=wanted))
        import pyarrow.orc as orc

        table = orc.ORCFile(io.BytesIO(data)).read()
        wanted = [n for n in table.column_names if n.lower() in _COLUMNS]
        return iter(table.select(wanted).to_batches(max_chunksize=page_size))
    except ImportError:
        raise SourceError(_MISSING.format(fmt=fmt)) from None


def _page(batch: Any, bucket: str, prefix: str) -> list[S3Object]:
    columns = {
        _COLUMNS[n.lower()]: batch.column(i).to_pylist() for i, n in enumerate(batch.schema.names)
    }
    keys = columns.get("key")
    if keys is None:
        raise SourceError("the inventory file has no key column")
    n = len(keys)
    sizes = columns.get("size") or [0] * n
    etags = columns.get("etag") or [""] * n
    storages = columns.get("storage") or ["STANDARD"] * n
    latest = columns.get("latest") or [True] * n
    deleted = columns.get("deleted") or [False] * n
    return [
        S3Object(bucket, k, int(s or 0), (e or "").strip('"'), c or "STANDARD")
        for k, s, e, c, is_latest, is_deleted in zip(
            keys, sizes, etags, storages, latest, deleted, strict=True
        )
        if k.startswith(prefix) and is_latest is not False and not is_deleted
    ]


async def read_columnar(
    data: bytes, fmt: str, bucket: str, prefix: str, page_size: int
) -> AsyncIterator[list[S3Object]]:
    """The objects of one Parquet or ORC inventory file, a page at a time."""
    try:
        batches = await anyio.to_thread.run_sync(_batches, data, fmt, page_size)

        def next_page() -> list[S3Object] | None:
            batch = next(batches, None)
            return None if batch is None else _page(batch, bucket, prefix)

        while (page := await anyio.to_thread.run_sync(next_page)) is not None:
            if page:
                yield page
    except SourceError:
        raise
    except Exception as exc:  # pyarrow's own errors: a file it cannot decode
        raise SourceError(f"the {fmt} inventory file cannot be read: {exc}") from None
