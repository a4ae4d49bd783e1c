"""What a sweep produces: one :class:`ImageResult` per image and one :class:`Report` per sweep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ._estimate import Estimate
from ._forecast import Forecast
from ._models import Instance, S3Object


class Outcome(StrEnum):
    """How one image ended. Every image a sweep takes up ends in exactly one of these."""

    HIT = "hit"
    """It matched and was copied to the destination."""
    MISS = "miss"
    """The service answered and no wanted label reached the threshold."""
    SKIPPED = "skipped"
    """Not sent to the service, because it would have rejected it (see :class:`SkipReason`)."""
    ERROR = "error"
    """The service or the copy failed for this image; ``error_code`` says why."""
    SURPLUS = "surplus"
    """It matched after the hit target was already filled, so it was not copied."""
    REVIEW = "review"
    """A wanted label was found with a confidence in the review band (at least
    ``review_threshold``, below ``threshold``): copied to the review location for a person to
    decide. It does not count toward the hit target."""


class SkipReason(StrEnum):
    """Why an object was not sent to Rekognition (and so cost nothing)."""

    FOLDER = "folder"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    ARCHIVED = "archived"
    DEST_KEY_TOO_LONG = "dest_key_too_long"
    """A hit could never be copied: ``<name>/<key>`` would pass S3's 1,024-byte key limit."""


class StopReason(StrEnum):
    """Why a sweep ended."""

    COMPLETED = "completed"
    """Every listed object was decided."""
    TARGET = "target"
    """The hit target was reached."""
    MAX_SCAN = "max_scan"
    """The scan cap (paid calls) was reached."""
    MISS_CUTOFF = "miss_cutoff"
    """Too many misses in a row: the data is probably not what was asked for."""
    BUDGET = "budget"
    """The next call would have spent more than the budget."""
    INTERRUPTED = "interrupted"
    """Someone asked the sweep to stop (Ctrl-C, SIGTERM, :meth:`Sweep.request_stop`)."""
    ABORTED = "aborted"
    """An error made the rest of the sweep pointless."""
    LOW_HIT_RATE = "low_hit_rate"
    """The whole 95% range of the hit rate fell below ``--min-hit-rate``."""
    TARGET_UNREACHABLE = "target_unreachable"
    """Even the top of the hit rate's 95% range cannot give the target within what is left
    (the scan cap, the budget or the objects)."""


@dataclass(frozen=True, slots=True)
class Match:
    """Which wanted label matched, through what, and how confidently."""

    label: str
    """The wanted label, as given in the configuration."""
    via: str
    """``"name"``, ``"parent"`` or ``"alias"``."""
    detected: str
    """The name of the label Rekognition returned."""
    confidence: float
    instances: tuple[Instance, ...] = ()
    """Where that label is in the image (boxes as fractions), when Rekognition located it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with boxes in Rekognition's own shape (``BoundingBox``, ``Confidence``)."""
        out: dict[str, Any] = {
            "label": self.label,
            "via": self.via,
            "detected": self.detected,
            "confidence": self.confidence,
        }
        if self.instances:
            out["instances"] = [instance_to_dict(i) for i in self.instances]
        return out


def instance_to_dict(instance: Instance) -> dict[str, Any]:
    box = instance.box
    return {
        "BoundingBox": {
            "Left": box.left,
            "Top": box.top,
            "Width": box.width,
            "Height": box.height,
        },
        "Confidence": instance.confidence,
    }


@dataclass(frozen=True, slots=True)
class ImageResult:
    """The recorded outcome of one image."""

    object: S3Object
    outcome: Outcome
    match: Match | None = None
    dest_key: str | None = None
    skip_reason: SkipReason | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    """Calls made to DetectLabels for this image (retries included)."""
    paid: bool = False
    """This sweep paid for a DetectLabels answer for this image."""
    cached: bool = False
    """Decided from the ledger's stored answer, without a paid call."""
    response: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The raw DetectLabels response, when this sweep paid for one."""
    duplicate_of: str | None = None
    """Answered with the answer of this other key, which holds the same bytes (no call)."""
    retryable: bool = False
    """For an error: it was temporary (throttling, 5xx, a dropped connection, a stop during
    retries), so the next run tries this image again instead of taking the error as final."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, the shape of one line of a results file."""
        obj = self.object
        out: dict[str, Any] = {
            "bucket": obj.bucket,
            "key": obj.key,
            "size": obj.size,
            "etag": obj.etag,
            "outcome": self.outcome.value,
        }
        if self.match is not None:
            out["match"] = self.match.to_dict()
        if self.dest_key is not None:
            out["dest_key"] = self.dest_key
        if self.skip_reason is not None:
            out["skip_reason"] = self.skip_reason.value
        if self.error_code is not None:
            out["error_code"] = self.error_code
            out["error_message"] = self.error_message
            if self.retryable:
                out["retryable"] = True
        if self.attempts:
            out["attempts"] = self.attempts
        if self.cached:
            out["cached"] = True
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of
        return out


@dataclass(frozen=True, slots=True)
class Stats:
    """A consistent snapshot of a sweep's counters, cheap enough to take several times a second."""

    listed: int = 0
    calls_started: int = 0
    """DetectLabels calls reserved in this run (each image once, whatever its retries)."""
    paid_calls: int = 0
    """Calls the service answered in this run, which is what Rekognition bills."""
    cached: int = 0
    """Images decided from stored answers, without a call (duplicates included)."""
    duplicates: int = 0
    """Images answered with the answer of another object holding the same bytes."""
    hits: int = 0
    misses: int = 0
    skipped: int = 0
    errors: int = 0
    surplus: int = 0
    review: int = 0
    """Images in the review band, copied to the review location."""
    throttled: int = 0
    retries: int = 0
    """Calls repeated after throttling or a temporary failure (each is also counted once)."""
    rate: float | None = None
    """The current sending rate in calls per second (it falls on throttling), if limited."""
    elapsed_s: float = 0.0
    estimated_cost_usd: float = 0.0
    saved_usd: float = 0.0
    """What the cached answers would have cost."""
    hit_rate: Estimate | None = None
    """The share of hits among answered images, with its 95% confidence sequence."""
    review_rate: Estimate | None = None
    """The same for the review band."""
    forecast: Forecast | None = None
    """With a target: the calls, dollars and seconds still needed, as ranges."""
    random_order: bool = False
    """The sweep walks a random order, so the estimate describes the whole bucket (in listing
    order it describes the part listed so far)."""
    eligible: int | None = None
    """Objects the sweep may send (known once a random order has listed them)."""
    hint: str | None = None
    """A typo or wrong-label hint, once enough answers show no requested label."""

    @property
    def decided(self) -> int:
        """Images that have reached an outcome."""
        return self.hits + self.misses + self.skipped + self.errors + self.surplus + self.review

    @property
    def images_per_s(self) -> float:
        """Decided images per second of wall time."""
        return self.decided / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """The summary of a finished sweep."""

    stats: Stats
    stop_reason: StopReason
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    errors_by_code: dict[str, int] = field(default_factory=dict)
    error_examples: dict[str, str] = field(default_factory=dict)
    """One message per error code, as the service (or the copy) gave it."""
    error: str | None = None
    """For an aborted sweep: the one-line reason."""
    review_manifest: str | None = None
    """The ``s3://`` URL of the review band's manifest, when the sweep has a review band."""
    stop_detail: str | None = None
    """Why the stop rule fired, in figures (``target_unreachable``)."""
    listing: dict[str, Any] | None = None
    """For a random order: keys and pages listed, seconds it took and what it cost."""
    seed: int | None = None
    """The random order's seed."""
    source: dict[str, Any] | None = None
    """What the source says of itself: for an S3 Inventory, its manifest and age."""
    target: int | None = None
    """The hit target the sweep had, if any (the forecast is toward it)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the ``--json`` summary."""
        s = self.stats
        return {
            "stop_reason": self.stop_reason.value,
            "error": self.error,
            "listed": s.listed,
            "decided": s.decided,
            "hits": s.hits,
            "misses": s.misses,
            "skipped": s.skipped,
            "errors": s.errors,
            "surplus": s.surplus,
            "review": s.review,
            "calls_started": s.calls_started,
            "paid_calls": s.paid_calls,
            "cached": s.cached,
            "duplicates": s.duplicates,
            "throttled": s.throttled,
            "retries": s.retries,
            "elapsed_s": round(s.elapsed_s, 3),
            "images_per_s": round(s.images_per_s, 2),
            "estimated_cost_usd": round(s.estimated_cost_usd, 6),
            "saved_usd": round(s.saved_usd, 6),
            "skipped_by_reason": dict(self.skipped_by_reason),
            "errors_by_code": dict(self.errors_by_code),
            "error_examples": dict(self.error_examples),
            "review_manifest": self.review_manifest,
            "order": "random" if s.random_order else "listing",
            "seed": self.seed,
            "eligible": s.eligible,
            "hit_rate": s.hit_rate.to_dict() if s.hit_rate is not None else None,
            "review_rate": s.review_rate.to_dict() if s.review_rate is not None else None,
            "forecast": s.forecast.to_dict() if s.forecast is not None else None,
            "hint": s.hint,
            "stop_detail": self.stop_detail,
            "listing": self.listing,
            "source": self.source,
        }
