"""Detection with a trained Custom Labels model: DetectCustomLabels behind the same seam.

A :class:`CustomLabelsDetector` is a :class:`~asyncfilter.Detector`: the engine, matching, the
review band, the ledger and the exports see the same :class:`~asyncfilter.Detection` as from
DetectLabels. Custom Labels returns one entry per located object (with ``Geometry``) or per
image (classification, without), so entries of one name are merged into one :class:`Label`
with every box as an instance. A model that stops answering (ResourceNotReadyException: it
was stopped mid-sweep) ends the sweep: no later image could be answered either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._aws import classify, detection_error
from ._custom._errors import CustomLabelsError, ModelNotRunning
from ._custom._models import check_model_running
from ._custom._project import VersionRef
from ._models import Detection, Instance, Label, S3Object

__all__ = ["CustomLabelsDetector", "check_model_running"]


class CustomLabelsDetector:
    """DetectCustomLabels by ``Image.S3Object`` with the model ``project_version_arn``.

    Check the model is RUNNING first (:func:`check_model_running`): the detector itself only
    finds out at its first call, after the sweep has started.
    """

    def __init__(self, client: Any, project_version_arn: str) -> None:
        self.project_version_arn = VersionRef.parse(project_version_arn).arn
        self.identity = self.identity_of(self.project_version_arn)
        """Which detector gave an answer, as the ledger keeps it."""
        self._client = client

    @staticmethod
    def identity_of(project_version_arn: str) -> str:
        """What the ledger calls the answers of the model ``project_version_arn``."""
        return f"custom-labels:{project_version_arn}"

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        kwargs: dict[str, Any] = {
            "ProjectVersionArn": self.project_version_arn,
            "Image": {"S3Object": {"Bucket": obj.bucket, "Name": obj.key}},
            "MinConfidence": float(min_confidence),
        }
        if max_labels is not None:
            kwargs["MaxResults"] = max_labels
        try:
            response = await self._client.detect_custom_labels(**kwargs)
        except Exception as exc:
            raise self._error(exc) from exc
        return Detection(
            labels=merge_custom_labels(response.get("CustomLabels", ())),
            model_version=self.project_version_arn,
            raw=response,
        )

    def _error(self, exc: Exception) -> BaseException:
        failure = classify(exc)
        if failure is not None and failure.code == "ResourceNotReadyException":
            return ModelNotRunning(
                f"model {self.project_version_arn} stopped answering: {failure.message} "
                f"(start it with `asyncfilter model start {self.project_version_arn}`)",
                code=failure.code,
            )
        if failure is not None and failure.code == "ResourceNotFoundException":
            return CustomLabelsError(
                f"no model {self.project_version_arn}: {failure.message}", code=failure.code
            )
        return detection_error(exc, "Rekognition Custom Labels")


def merge_custom_labels(items: Iterable[Mapping[str, Any]]) -> list[Label]:
    """One :class:`Label` per name, most confident first, each box an instance."""
    merged: dict[str, tuple[float, list[Instance]]] = {}
    for item in items:
        name = str(item["Name"])
        confidence = float(item.get("Confidence", 0.0))
        best, instances = merged.get(name, (0.0, []))
        box = (item.get("Geometry") or {}).get("BoundingBox")
        if box:
            instances.append(Instance.from_response({"BoundingBox": box, "Confidence": confidence}))
        merged[name] = (max(best, confidence), instances)
    labels = [
        Label(name=name, confidence=confidence, instances=tuple(instances))
        for name, (confidence, instances) in merged.items()
    ]
    labels.sort(key=lambda label: label.confidence, reverse=True)
    return labels
