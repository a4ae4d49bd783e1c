"""Where a sweep's listing comes from: one registration point for every kind of source.

:func:`make_lister` picks the :class:`~asyncfilter.Lister` a configuration asks for. A new kind
of source is a new module with a ``Lister`` and one entry in :data:`SOURCES` (and the rule in
:func:`source_kind` that selects it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._config import ScanConfig
from ._fastlist import install_fast_listing
from ._inventory import InventoryLister
from ._listing import Lister, S3Lister
from ._listing_parallel import ParallelS3Lister

#: A source: builds a Lister from the configuration and the sweep's S3 client.
Source = Callable[[ScanConfig, Any], Lister]


def _one_paginator(config: ScanConfig, s3_client: Any) -> Lister:
    install_fast_listing(s3_client)
    return S3Lister(
        s3_client, page_size=config.page_size, expected_owner=config.expected_bucket_owner
    )


def _parallel(config: ScanConfig, s3_client: Any) -> Lister:
    install_fast_listing(s3_client)
    return ParallelS3Lister(
        s3_client,
        concurrency=config.list_concurrency,
        page_size=config.page_size,
        expected_owner=config.expected_bucket_owner,
    )


def _inventory(config: ScanConfig, s3_client: Any) -> Lister:
    assert config.inventory is not None
    return InventoryLister(s3_client, config.inventory, page_size=config.page_size)


SOURCES: dict[str, Source] = {
    "listing": _one_paginator,
    "parallel": _parallel,
    "inventory": _inventory,
}


def source_kind(config: ScanConfig) -> str:
    """Which entry of :data:`SOURCES` the configuration asks for."""
    if config.inventory is not None:
        return "inventory"
    return "parallel" if config.list_concurrency > 1 else "listing"


def make_lister(config: ScanConfig, s3_client: Any) -> Lister:
    """The Lister for ``config``'s source, on the sweep's S3 client.

    The client must come from :func:`~asyncfilter._clients.open_s3` (whose session leaves
    timestamps as text): ListObjectsV2 pages are then read by the fast reader of
    :mod:`._fastlist`. Its connection pool should allow two requests per listed range beside
    the copies.
    """
    return SOURCES[source_kind(config)](config, s3_client)


def source_figures(lister: Lister) -> dict[str, Any] | None:
    """What the report says of the source beyond the listing: for an inventory, how old it is
    (objects deleted since it was taken end as InvalidS3ObjectException, recorded)."""
    inner = getattr(lister, "inner", lister)  # a random order wraps the source
    if isinstance(inner, InventoryLister) and (manifest := inner.manifest_info) is not None:
        return {
            "kind": "inventory",
            "manifest": manifest.url,
            "created_at": manifest.created_at.isoformat(),
            "age_s": round(manifest.age_s(), 1),
        }
    return None
