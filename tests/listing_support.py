"""An in-process ListObjectsV2 over a sorted key list, and expected listings, for listing tests."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

from asyncfilter import S3Object
from asyncfilter.testing._synthetic_s3 import object_etag, object_size, object_storage_class


class ListingClient:
    """Answers ``list_objects_v2`` as S3 does (prefix, delimiter, StartAfter, tokens, MaxKeys).

    No HTTP: the tests that use it are about the lister's own logic, and can count its calls.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = sorted(set(keys))
        self.calls = 0
        self.pages = 0
        """Calls that asked for more than one key (not probes)."""

    async def list_objects_v2(self, **kw: Any) -> dict[str, Any]:
        self.calls += 1
        self.pages += kw.get("MaxKeys", 1000) > 1
        keys, prefix = self.keys, kw.get("Prefix", "")
        delimiter, max_keys = kw.get("Delimiter", ""), kw.get("MaxKeys", 1000)
        i = bisect.bisect_left(keys, prefix)
        if "ContinuationToken" in kw:
            i = max(i, int(kw["ContinuationToken"]))
        elif "StartAfter" in kw:
            i = max(i, bisect.bisect_right(keys, kw["StartAfter"]))
        contents: list[dict[str, Any]] = []
        folders: list[dict[str, str]] = []
        while (
            i < len(keys) and keys[i].startswith(prefix) and len(contents) + len(folders) < max_keys
        ):
            cut = keys[i].find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                folder = keys[i][: cut + len(delimiter)]
                folders.append({"Prefix": folder})
                while i < len(keys) and keys[i].startswith(folder):
                    i += 1
                continue
            key = keys[i]
            contents.append(
                {"Key": key, "Size": object_size(key), "ETag": f'"{object_etag(key)}"',
                 "StorageClass": object_storage_class(key)}
            )  # fmt: skip
            i += 1
        page: dict[str, Any] = {"IsTruncated": i < len(keys) and keys[i].startswith(prefix)}
        if contents:
            page["Contents"] = contents
        if folders:
            page["CommonPrefixes"] = folders
        if page["IsTruncated"]:
            page["NextContinuationToken"] = str(i)
        return page


def expected(bucket: str, keys: Iterable[str], prefix: str = "") -> list[S3Object]:
    """What any lister must yield for a synthetic bucket, in key order."""
    return [
        S3Object(bucket, k, object_size(k), object_etag(k), object_storage_class(k))
        for k in sorted(keys)
        if k.startswith(prefix)
    ]


def flatten(pages: Sequence[Sequence[S3Object]]) -> list[S3Object]:
    return [obj for page in pages for obj in page]


#: Keys around every seam a split can land on: characters sorting before and after "/",
#: a key equal to a folder's name, multi-byte UTF-8 (2, 3 and 4 bytes), XML's special characters.
TRICKY_KEYS = [
    "a", "a ", "a!", "a-b", "a.b", "a/", "a/0", "a/b/c", "a0", "a\u00e9", "a\u4e2d", "a\U0001f600",
    "b", "b/", "b//x", "b/\u00a0", "c&d<e>", "c+d", "c%2Fd", "~", "\u00e9t\u00e9/x",
    "\U0001f600/\U0001f431", "\uffef", "zz/",
]  # fmt: skip
