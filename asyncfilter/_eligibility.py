"""Decide, from the listing alone, which objects Rekognition would reject.

Skipping them before the call is the cheapest safety in the tool: a rejected call still costs a
request against the quota, and the published loop crashed on the first one.
"""

from __future__ import annotations

from ._config import MAX_S3_IMAGE_BYTES
from ._models import S3Object
from ._results import SkipReason

#: DetectLabels accepts JPEG and PNG only.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: Archived objects must be restored before anything can read them.
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


#: S3 keys are at most this many bytes of UTF-8.
MAX_KEY_BYTES = 1024


def skip_reason(obj: S3Object, dest_key: str | None = None) -> SkipReason | None:
    """Why ``obj`` should not be sent, or ``None`` when it is worth a call.

    ``dest_key`` is where a hit would be copied: if S3 could never accept it, paying to learn
    that the image matches would be money thrown away.
    """
    key = obj.key
    if key.endswith("/"):
        return SkipReason.FOLDER
    if not key.lower().endswith(IMAGE_SUFFIXES):
        return SkipReason.UNSUPPORTED_TYPE
    if obj.size == 0:
        return SkipReason.EMPTY
    if obj.size > MAX_S3_IMAGE_BYTES:
        return SkipReason.TOO_LARGE
    if obj.storage_class in ARCHIVED_CLASSES:
        return SkipReason.ARCHIVED
    if dest_key is not None and len(dest_key.encode()) > MAX_KEY_BYTES:
        return SkipReason.DEST_KEY_TOO_LONG
    return None
