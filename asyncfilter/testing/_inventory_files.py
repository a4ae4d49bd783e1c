"""Write S3 Inventory reports (manifest and data files) to a directory, laid out as S3 does.

``write_inventory(root, ...)`` creates ``{root}/{destination_bucket}/{prefix}/{source}/{config}/``
holding ``data/*.csv.gz`` (or ``.parquet``/``.orc``) and ``{YYYY-MM-DDTHH-MMZ}/manifest.json``,
so the directory can be uploaded to moto, or served as bucket ``destination_bucket`` by the
synthetic S3 (``files={destination_bucket: root/destination_bucket}``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from urllib.parse import quote_plus

CSV_SCHEMA = ("Bucket", "Key", "Size", "LastModifiedDate", "ETag", "StorageClass")
#: (key, size, etag, storage class) of one object.
Row = tuple[str, int, str, str]


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _write_csv(path: Path, source: str, rows: list[Row]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1, newline="") as out:
        out.writelines(
            f'"{source}","{quote_plus(key, safe="/")}","{size}",'
            f'"2024-01-01T00:00:00.000Z","{etag}","{storage}"\n'
            for key, size, etag, storage in rows
        )


def _write_columnar(path: Path, source: str, rows: list[Row], file_format: str) -> None:
    import pyarrow as pa

    table = pa.table(
        {
            "bucket": [source] * len(rows),
            "key": [r[0] for r in rows],
            "size": pa.array([r[1] for r in rows], pa.int64()),
            "e_tag": [r[2] for r in rows],
            "storage_class": [r[3] for r in rows],
        }
    )
    if file_format == "Parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        import pyarrow.orc as orc

        orc.write_table(table, path)


def write_inventory(
    root: str | Path,
    *,
    source_bucket: str,
    destination_bucket: str,
    rows: Iterable[Row],
    prefix: str = "inventory",
    config_id: str = "daily",
    file_format: str = "CSV",
    rows_per_file: int = 1_000_000,
    created: datetime | None = None,
) -> str:
    """Write one inventory report; return the manifest's key in ``destination_bucket``."""
    created = created or datetime.now(UTC)
    base = "/".join(p for p in (prefix.strip("/"), source_bucket, config_id) if p)
    folder = Path(root) / destination_bucket / base
    (folder / "data").mkdir(parents=True, exist_ok=True)
    suffix = {"CSV": "csv.gz", "Parquet": "parquet", "ORC": "orc"}[file_format]
    stamp = created.strftime("%Y-%m-%dT%H-%MZ")
    files = []
    for n, batch in enumerate(_batches(rows, rows_per_file)):
        key = f"{base}/data/{stamp}-{n:05d}.{suffix}"
        path = Path(root) / destination_bucket / key
        if file_format == "CSV":
            _write_csv(path, source_bucket, batch)
        else:
            _write_columnar(path, source_bucket, batch, file_format)
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        files.append({"key": key, "size": path.stat().st_size, "MD5checksum": digest})
    schema = {
        "CSV": ", ".join(CSV_SCHEMA),
        "Parquet": "message s3.inventory { required binary bucket (STRING); required binary key "
        "(STRING); optional int64 size; optional binary e_tag (STRING); optional binary "
        "storage_class (STRING); }",
        "ORC": "struct<bucket:string,key:string,size:bigint,e_tag:string,storage_class:string>",
    }[file_format]
    manifest = {
        "sourceBucket": source_bucket,
        "destinationBucket": f"arn:aws:s3:::{destination_bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(created.timestamp() * 1000)),
        "fileFormat": file_format,
        "fileSchema": schema,
        "files": files,
    }
    (folder / stamp).mkdir(exist_ok=True)
    (folder / stamp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return f"{base}/{stamp}/manifest.json"
