"""Detection: asking Rekognition what is in an image.

A :class:`Detector` is the seam that tests and benchmarks replace (like httpx's transports):
:class:`RekognitionDetector` talks to the real service or the emulator over HTTP;
:class:`asyncfilter.testing.FakeDetector` answers in-process.
"""

from __future__ import annotations

from typing import Any, Protocol

from ._aws import detection_error
from ._models import DETECT_LABELS, Detection, S3Object


class Detector(Protocol):
    """Labels one image.

    Raise :class:`~asyncfilter.Throttled` or :class:`~asyncfilter.TransientError` for failures
    worth retrying, :class:`~asyncfilter.ImageFailed` for a per-image failure, and
    :class:`~asyncfilter.CredentialsError` when no call can succeed.

    A detector may name itself with an ``identity`` attribute (``"detect-labels"`` when it has
    none): the ledger stores it with every answer, and answers one detector gave are never
    reused for another.
    """

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection: ...


def detector_identity(detector: object) -> str:
    """What the ledger calls ``detector``'s answers."""
    return str(getattr(detector, "identity", DETECT_LABELS))


class RekognitionDetector:
    """DetectLabels by ``Image.S3Object``: the image is never downloaded."""

    identity = DETECT_LABELS

    def __init__(self, client: Any) -> None:
        self._client = client

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        kwargs: dict[str, Any] = {
            "Image": {"S3Object": {"Bucket": obj.bucket, "Name": obj.key}},
            "MinConfidence": float(min_confidence),
        }
        if max_labels is not None:
            kwargs["MaxLabels"] = max_labels
        try:
            response = await self._client.detect_labels(**kwargs)
        except Exception as exc:
            raise detection_error(exc) from exc
        return Detection.from_response(response)
