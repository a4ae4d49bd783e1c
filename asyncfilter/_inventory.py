"""S3 Inventory as the source: the listing read from the bucket's inventory report.

Past a few hundred million objects, listing is slow and costs requests; S3 Inventory writes a
daily (or weekly) report of the bucket instead. :class:`InventoryLister` reads its
``manifest.json`` (given directly, or the newest under the inventory configuration's
destination ``s3://DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/``), checks that it describes the bucket
being swept, and streams its data files: gzip CSV always, Parquet and ORC with pyarrow
(``pip install 'asyncfilter[inventory]'``). CSV files are read and unzipped in chunks, so a
file of any size costs the same memory; each file's MD5 is checked against the manifest.

An inventory is a snapshot: an object deleted since it was written is still listed (the sweep
records its ``InvalidS3ObjectException`` and goes on), and :attr:`InventoryManifest.created_at`
says how old it is.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from ._aws import is_refusal, source_read_error
from ._errors import ConfigError, SourceError
from ._inventory_columnar import read_columnar
from ._models import S3Object

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z/$")
_CHUNK = 64 * 1024  # compressed bytes per read: a few thousand rows between yields


@dataclass(frozen=True, slots=True)
class InventoryFile:
    key: str
    size: int
    md5: str


@dataclass(frozen=True, slots=True)
class InventoryManifest:
    """What an inventory report's ``manifest.json`` says."""

    url: str
    source_bucket: str
    destination_bucket: str
    file_format: str
    file_schema: tuple[str, ...]
    files: tuple[InventoryFile, ...]
    created_at: datetime

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since the inventory was taken."""
        return ((now or datetime.now(UTC)) - self.created_at).total_seconds()

    @classmethod
    def parse(cls, url: str, data: bytes) -> InventoryManifest:
        try:
            doc = json.loads(data)
            destination = str(doc["destinationBucket"]).rpartition(":")[2]
            schema = tuple(c.strip() for c in str(doc.get("fileSchema", "")).split(","))
            files = tuple(
                InventoryFile(str(f["key"]), int(f.get("size", 0)), str(f.get("MD5checksum", "")))
                for f in doc["files"]
            )
            created = datetime.fromtimestamp(int(doc["creationTimestamp"]) / 1000, UTC)
            fmt = str(doc["fileFormat"])
            return cls(url, str(doc["sourceBucket"]), destination, fmt, schema, files, created)
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"{url} is not an S3 Inventory manifest: {exc!r}") from None


def _split_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise SourceError(f"inventory must be an s3:// URL, got {url!r}")
    return bucket, key


class InventoryLister:
    """Lists a bucket from its S3 Inventory report instead of ListObjectsV2."""

    def __init__(self, client: Any, manifest_url: str, *, page_size: int = 1000) -> None:
        if not isinstance(manifest_url, str) or not manifest_url.startswith("s3://"):
            raise ConfigError(f"inventory must be an s3:// URL, got {manifest_url!r}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ConfigError(f"page_size must be a positive whole number, got {page_size!r}")
        self._client = client
        self._url = manifest_url
        self._page_size = page_size
        self._manifest: InventoryManifest | None = None

    @property
    def manifest_info(self) -> InventoryManifest | None:
        """The manifest, once :meth:`manifest` or :meth:`pages` has read it."""
        return self._manifest

    async def manifest(self) -> InventoryManifest:
        """Read (once) the manifest: the one given, or the newest under the destination."""
        if self._manifest is None:
            bucket, key = _split_url(self._url)
            if not key.endswith("manifest.json"):
                key = await self._newest(bucket, key)
            url = f"s3://{bucket}/{key}"
            self._manifest = InventoryManifest.parse(url, await self._get(bucket, key))
        return self._manifest

    async def pages(self, bucket: str, prefix: str) -> AsyncIterator[Sequence[S3Object]]:
        manifest = await self.manifest()
        if manifest.source_bucket != bucket:
            raise SourceError(
                f"the inventory {manifest.url} lists bucket {manifest.source_bucket!r}, "
                f"not the source bucket {bucket!r}"
            )
        for file in manifest.files:
            if manifest.file_format == "CSV":
                rows = self._csv_pages(manifest, file, bucket, prefix)
            elif manifest.file_format in ("Parquet", "ORC"):
                data = await self._get(manifest.destination_bucket, file.key, file.md5)
                rows = read_columnar(data, manifest.file_format, bucket, prefix, self._page_size)
            else:
                raise SourceError(
                    f"inventory {manifest.url} is in {manifest.file_format!r}: "
                    "asyncfilter reads CSV, Parquet and ORC"
                )
            async for page in rows:
                yield page

    # --- reading ---------------------------------------------------------------------------

    def _error(self, exc: Exception, what: str) -> BaseException:
        return source_read_error(exc, what)

    async def _newest(self, bucket: str, prefix: str) -> str:
        """The newest ``YYYY-MM-DDTHH-MMZ/manifest.json`` under a configuration's destination."""
        prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
        folders: list[str] = []
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                folders += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        except Exception as exc:
            raise self._error(exc, f"s3://{bucket}/{prefix}") from exc
        dated = sorted((f for f in folders if _STAMP.search(f)), reverse=True)
        for folder in dated:  # the manifest is written last: a folder may still be filling
            try:
                await self._client.head_object(Bucket=bucket, Key=f"{folder}manifest.json")
            except Exception as exc:
                if is_refusal(exc):
                    continue
                raise self._error(exc, f"s3://{bucket}/{folder}manifest.json") from exc
            return f"{folder}manifest.json"
        raise SourceError(
            f"no inventory manifest (YYYY-MM-DDTHH-MMZ/manifest.json) under {self._url}"
        )

    async def _get(self, bucket: str, key: str, md5: str = "") -> bytes:
        try:
            response = await self._client.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as body:
                data: bytes = await body.read()
        except Exception as exc:
            raise self._error(exc, f"s3://{bucket}/{key}") from exc
        if md5 and hashlib.md5(data, usedforsecurity=False).hexdigest() != md5:
            raise SourceError(f"inventory file s3://{bucket}/{key} does not match its MD5")
        return data

    async def _csv_pages(
        self, manifest: InventoryManifest, file: InventoryFile, bucket: str, prefix: str
    ) -> AsyncIterator[list[S3Object]]:
        schema = {name: i for i, name in enumerate(manifest.file_schema)}
        if "Key" not in schema:
            raise SourceError(f"inventory {manifest.url} has no Key column: {manifest.file_schema}")
        at = [schema.get(c, -1) for c in ("Key", "Size", "ETag", "StorageClass")]
        latest, deleted = schema.get("IsLatest", -1), schema.get("IsDeleteMarker", -1)
        where = f"s3://{manifest.destination_bucket}/{file.key}"
        digest = hashlib.md5(usedforsecurity=False)
        unzip = zlib.decompressobj(wbits=31)
        rest = b""
        page: list[S3Object] = []
        try:
            response = await self._client.get_object(
                Bucket=manifest.destination_bucket, Key=file.key
            )
            stream = response["Body"]
            try:
                while chunk := await stream.read(_CHUNK):
                    digest.update(chunk)
                    data = rest + unzip.decompress(chunk)
                    while unzip.eof and unzip.unused_data:  # another gzip member follows
                        tail = unzip.unused_data
                        unzip = zlib.decompressobj(wbits=31)
                        data += unzip.decompress(tail)
                    cut = data.rfind(b"\n") + 1
                    rest = data[cut:]
                    for row in csv.reader(data[:cut].decode().splitlines()):
                        if (latest >= 0 and row[latest] == "false") or (
                            deleted >= 0 and row[deleted] == "true"
                        ):
                            continue
                        key = unquote_plus(row[at[0]])
                        if not key.startswith(prefix):
                            continue
                        page.append(
                            S3Object(
                                bucket,
                                key,
                                int(row[at[1]] or 0) if at[1] >= 0 else 0,
                                row[at[2]].strip('"') if at[2] >= 0 else "",
                                (row[at[3]] if at[3] >= 0 else "") or "STANDARD",
                            )
                        )
                    if len(page) >= self._page_size:
                        yield page
                        page = []
            finally:
                stream.close()
        except (zlib.error, UnicodeDecodeError, IndexError, ValueError) as exc:
            raise SourceError(f"inventory file {where} is not a readable gzip CSV: {exc}") from None
        except SourceError:
            raise
        except Exception as exc:
            raise self._error(exc, where) from exc
        if rest.strip() or not unzip.eof:
            raise SourceError(f"inventory file {where} ends in the middle of a row")
        if file.md5 and digest.hexdigest() != file.md5:
            raise SourceError(f"inventory file {where} does not match its MD5")
        if page:
            yield page
