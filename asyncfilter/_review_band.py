"""The review band's manifest, ``REVIEW/<name>.manifest``, written as a sweep ends.

It lives beside the sweep, not inside the engine: the engine decides images, and this module
lists the ones a person should look at. With a ledger it lists the band of every run of the
sweep; without one, the images this run sent to the band (gathered as they are emitted).
"""

from __future__ import annotations

import anyio

from ._config import ScanConfig
from ._copying import Copier
from ._export._format import ExportContext
from ._export._records import CopiedImage, records_from_rows
from ._export._review import review_manifest
from ._ledger import Ledger
from ._results import ImageResult, Outcome


class ReviewBand:
    """Gathers this run's review images (when there is no ledger) and writes the manifest."""

    def __init__(self, config: ScanConfig, ledger: Ledger | None) -> None:
        self._config = config
        self._ledger = ledger
        self._records: list[CopiedImage] = []

    def see(self, result: ImageResult) -> None:
        """Note one decided image; only review-band copies are kept, and only without a ledger."""
        if result.outcome is Outcome.REVIEW and result.dest_key and self._ledger is None:
            config = self._config
            self._records.append(
                CopiedImage.from_result(result, config.review_location.bucket, config.folder_name)
            )

    async def write(self, copier: Copier) -> str | None:
        """Write the manifest through the copier (the sweep's one seam for writing); returns
        its ``s3://`` URL (``None`` if it did not finish within the copy grace). Like a copy in
        flight, it finishes even if the sweep is being cancelled."""
        config = self._config
        where = config.review_location
        folder = f"{where.folder}{config.folder_name}/"
        if self._ledger is not None:
            rows = await self._ledger.copied_rows([Outcome.REVIEW.value], config.folder_name)
            records = [
                r
                for r in records_from_rows(rows, {Outcome.REVIEW})
                if r.bucket == where.bucket and r.key.startswith(folder)
            ]
        else:
            records = self._records
        ((_, body),) = review_manifest(records, ExportContext({})).files
        key = f"{where.folder}{config.folder_name}.manifest"
        with anyio.move_on_after(config.copy_grace_s, shield=True) as scope:
            await copier.put(where.bucket, key, body)
        return None if scope.cancelled_caught else f"s3://{where.bucket}/{key}"
