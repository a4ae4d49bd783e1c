"""Detection: asking Rekognition what is in an image.

A :class:`Detector` is the seam that tests and benchmarks replace (like httpx's transports):
:class:`RekognitionDetector` talks to the real service or the emulator over HTTP;
:class:`asyncfilter.testing.FakeDetector` answers in-process.
"""

from __future__ import annotations

from typing import Any, Protocol
from weakref import WeakKeyDictionary

from ._aws import detection_error
from ._detect_direct import direct_detect_labels
from ._models import DETECT_LABELS, Detection, S3Object

#: Clients whose DetectLabels calls skip botocore's request pipeline (see
#: :func:`install_direct_detection`), with the transport that sends them.
_DIRECT: WeakKeyDictionary[Any, Detector] = WeakKeyDictionary()


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


def install_direct_detection(client: Any) -> bool:
    """Send ``client``'s DetectLabels calls made by :class:`RekognitionDetector` straight over
    its connection pool (:mod:`._detect_direct`, a quarter of botocore's CPU per call).

    asyncfilter does this for the clients it opens itself; a client passed in by a caller
    keeps botocore's path (its own event handlers, stubs, retries...). Returns whether the
    client qualified (see :func:`~asyncfilter._detect_direct.direct_detect_labels`).
    """
    transport = direct_detect_labels(client)
    if transport is not None:
        _DIRECT[client] = transport
    return transport is not None


class RekognitionDetector:
    """DetectLabels by ``Image.S3Object``: the image is never downloaded."""

    identity = DETECT_LABELS

    def __init__(self, client: Any) -> None:
        self._client = client
        self._direct = _DIRECT.get(client)

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        if self._direct is not None:
            return await self._direct.detect(
                obj, min_confidence=min_confidence, max_labels=max_labels
            )
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
