"""S3 Inventory as the source: manifests, CSV/Parquet/ORC files, the checks, in moto."""

from __future__ import annotations

import gzip
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import seed

from asyncfilter import S3Object, SourceError
from asyncfilter._inventory import InventoryLister
from asyncfilter.testing._inventory_files import write_inventory

KEYS = [
    "photos/a b.jpg", "photos/a+b.jpg", "photos/caf\u00e9.jpg", "photos/\u5199\u771f.png",
    "photos/tom & jerry.jpg", "other/x.jpg", "photos/sub/1.jpg", "photos/%41.jpg",
]  # fmt: skip
ROWS = [(k, 100 + i, f"etag{i}", "GLACIER" if i == 2 else "STANDARD") for i, k in enumerate(KEYS)]


def objects(bucket: str, rows: list[tuple[str, int, str, str]], prefix: str = "") -> list[S3Object]:
    return sorted(
        (S3Object(bucket, *row) for row in rows if row[0].startswith(prefix)), key=lambda o: o.key
    )


async def upload(s3: Any, root: Path, bucket: str) -> None:
    files = {
        p.relative_to(root / bucket).as_posix(): p.read_bytes()
        for p in (root / bucket).rglob("*")
        if p.is_file()
    }
    await seed(s3, bucket, files)


async def listed(lister: Any, bucket: str, prefix: str = "") -> list[S3Object]:
    got = [obj async for page in lister.pages(bucket, prefix) for obj in page]
    return sorted(got, key=lambda o: o.key)


@pytest.mark.parametrize("prefix", ["", "photos/"])
async def test_a_csv_inventory_lists_every_row_with_size_etag_and_class(
    s3: Any, buckets: tuple[str, str], tmp_path: Path, prefix: str
) -> None:
    source, dest = buckets
    key = write_inventory(
        tmp_path, source_bucket=source, destination_bucket=dest, rows=ROWS, rows_per_file=3
    )
    await upload(s3, tmp_path, dest)
    lister = InventoryLister(s3, f"s3://{dest}/{key}")
    assert await listed(lister, source, prefix) == objects(source, ROWS, prefix)
    manifest = await lister.manifest()
    assert len(manifest.files) == 3
    assert manifest.age_s() < 60


async def test_the_newest_manifest_under_the_destination_is_used(
    s3: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    old = datetime(2026, 1, 1, tzinfo=UTC)
    new = old + timedelta(days=1)
    write_inventory(
        tmp_path, source_bucket=source, destination_bucket=dest, rows=ROWS[:2], created=old
    )
    write_inventory(tmp_path, source_bucket=source, destination_bucket=dest, rows=ROWS, created=new)
    await upload(s3, tmp_path, dest)
    lister = InventoryLister(s3, f"s3://{dest}/inventory/{source}/daily/")
    assert await listed(lister, source) == objects(source, ROWS)
    manifest = await lister.manifest()
    assert manifest.created_at == new
    assert manifest.url.endswith("2026-01-02T00-00Z/manifest.json")
    assert manifest.age_s(new + timedelta(hours=2)) == 7200


async def test_an_inventory_of_another_bucket_is_refused_by_name(
    s3: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    key = write_inventory(
        tmp_path, source_bucket="someone-else", destination_bucket=dest, rows=ROWS
    )
    await upload(s3, tmp_path, dest)
    with pytest.raises(
        SourceError, match=f"lists bucket 'someone-else', not the source bucket '{source}'"
    ):
        await listed(InventoryLister(s3, f"s3://{dest}/{key}"), source)


async def test_a_stale_inventory_still_lists_an_object_deleted_since(
    s3: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    await seed(s3, source, {"a.jpg": b"x", "gone.jpg": b"y"})
    rows = [("a.jpg", 1, "e1", "STANDARD"), ("gone.jpg", 1, "e2", "STANDARD")]
    key = write_inventory(tmp_path, source_bucket=source, destination_bucket=dest, rows=rows)
    await upload(s3, tmp_path, dest)
    await s3.delete_object(Bucket=source, Key="gone.jpg")
    got = await listed(InventoryLister(s3, f"s3://{dest}/{key}"), source)
    assert [o.key for o in got] == ["a.jpg", "gone.jpg"]  # the sweep will record it as an error


async def test_versioned_rows_that_are_not_current_are_skipped(
    s3: Any, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    lines = [
        f'"{source}","a.jpg","v2","true","false","5","2024-01-01","e2","STANDARD"',
        f'"{source}","a.jpg","v1","false","false","4","2024-01-01","e1","STANDARD"',
        f'"{source}","b.jpg","v3","true","true","","2024-01-01","",""',
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    schema = (
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, "
        "StorageClass"
    )
    manifest = {
        "sourceBucket": source,
        "destinationBucket": f"arn:aws:s3:::{dest}",
        "creationTimestamp": "1700000000000",
        "fileFormat": "CSV",
        "fileSchema": schema,
        "files": [{"key": "inv/data/1.csv.gz", "size": len(data), "MD5checksum": ""}],
    }
    await seed(
        s3, dest, {"inv/data/1.csv.gz": data, "inv/m/manifest.json": json.dumps(manifest).encode()}
    )
    got = await listed(InventoryLister(s3, f"s3://{dest}/inv/m/manifest.json"), source)
    assert got == [S3Object(source, "a.jpg", 5, "e2", "STANDARD")]


@pytest.mark.parametrize("damage", ["md5", "truncated"])
async def test_a_damaged_file_stops_the_listing_with_one_line(
    s3: Any, buckets: tuple[str, str], tmp_path: Path, damage: str
) -> None:
    source, dest = buckets
    rows = [(f"k{i:05d}", i, "e", "STANDARD") for i in range(20000)]
    key = write_inventory(tmp_path, source_bucket=source, destination_bucket=dest, rows=rows)
    data_file = next((tmp_path / dest).rglob("*.csv.gz"))
    blob = data_file.read_bytes()
    if damage == "md5":
        manifest_path = tmp_path / dest / key
        doc = json.loads(manifest_path.read_text())
        doc["files"][0]["MD5checksum"] = "0" * 32
        manifest_path.write_text(json.dumps(doc))
    else:
        data_file.write_bytes(blob[: len(blob) // 2])
        manifest_path = tmp_path / dest / key
        doc = json.loads(manifest_path.read_text())
        doc["files"][0]["MD5checksum"] = ""
        manifest_path.write_text(json.dumps(doc))
    await upload(s3, tmp_path, dest)
    with pytest.raises(SourceError) as caught:
        await listed(InventoryLister(s3, f"s3://{dest}/{key}"), source)
    assert "\n" not in str(caught.value)
    assert ("MD5" if damage == "md5" else "middle of a row") in str(caught.value)


async def test_no_manifest_and_a_missing_bucket_are_one_line_source_errors(
    s3: Any, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    with pytest.raises(SourceError, match="no inventory manifest"):
        await listed(InventoryLister(s3, f"s3://{dest}/inventory/{source}/daily/"), source)
    with pytest.raises(SourceError, match="NoSuchBucket"):
        await listed(InventoryLister(s3, "s3://no-such-bucket-xyz/m/manifest.json"), source)


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
async def test_columnar_inventories_are_read_with_pyarrow(
    s3: Any, buckets: tuple[str, str], tmp_path: Path, file_format: str
) -> None:
    pytest.importorskip("pyarrow")
    source, dest = buckets
    key = write_inventory(
        tmp_path, source_bucket=source, destination_bucket=dest, rows=ROWS, file_format=file_format
    )
    await upload(s3, tmp_path, dest)
    lister = InventoryLister(s3, f"s3://{dest}/{key}", page_size=3)
    assert await listed(lister, source, "photos/") == objects(source, ROWS, "photos/")


async def test_without_pyarrow_a_parquet_inventory_says_what_to_install(
    s3: Any, buckets: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyarrow")
    source, dest = buckets
    key = write_inventory(
        tmp_path, source_bucket=source, destination_bucket=dest, rows=ROWS, file_format="Parquet"
    )
    await upload(s3, tmp_path, dest)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import now fails
    with pytest.raises(SourceError, match=r"install pyarrow .*asyncfilter\[inventory\]"):
        await listed(InventoryLister(s3, f"s3://{dest}/{key}"), source)
