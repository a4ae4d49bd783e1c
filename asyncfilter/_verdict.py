"""What to do with one listed object before anything is paid, written once for the engine and
for ``plan``: skip it, take the ledger's final word, answer it from a stored response, or send.

And what a person's verdict from the review page does to an answer: it overrides the detector.
"""

from __future__ import annotations

from enum import Enum

from ._config import ScanConfig
from ._eligibility import skip_reason
from ._ledger import ObjectState
from ._models import S3Object
from ._results import Match, Outcome, SkipReason


class Route(Enum):
    SKIP = "skip"
    """Rekognition would refuse it (see :class:`SkipReason`): never sent."""
    KNOWN = "known"
    """An earlier run ended it for good (an error the service would repeat)."""
    CACHED = "cached"
    """The ledger holds an answer from this detector that can stand in for a call."""
    SEND = "send"
    """A paid call is needed."""
    DUPLICATE = "duplicate"
    """Another object with the same bytes was answered: its answer stands for this one."""


def route(
    obj: S3Object, state: ObjectState | None, config: ScanConfig, detector: str
) -> tuple[Route, SkipReason | None]:
    """The route of ``obj``, and the skip reason when it is skipped."""
    reason = skip_reason(obj, config.longest_key(obj.key))
    if reason is not None:
        return Route.SKIP, reason
    if state is None:
        return Route.SEND, None
    if state.final(obj.etag):
        return Route.KNOWN, None
    if state.answers(obj.etag, config.min_confidence, config.max_labels, detector):
        return Route.CACHED, None
    return Route.SEND, None


def judge(
    match: Match | None, state: ObjectState | None, obj: S3Object, config: ScanConfig
) -> tuple[Outcome, Match | None]:
    """The outcome an answer leads to: hit, review or miss by confidence, unless a person has
    judged this very object version on the review page, whose verdict wins."""
    verdict = state.verdict if state is not None and state.etag == obj.etag else None
    if verdict == "rejected":
        return Outcome.MISS, match
    if verdict == "accepted":
        if match is None:  # accepted although the detector no longer finds it at this threshold
            label = config.labels[0]
            match = Match(label=label, via="person", detected=label, confidence=0.0)
        return Outcome.HIT, match
    if match is None:
        return Outcome.MISS, None
    if match.confidence < config.threshold:
        return Outcome.REVIEW, match
    return Outcome.HIT, match
