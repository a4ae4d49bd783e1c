"""The per-object verdict and the call cap, in-process: the rules `scan` and `plan` share."""

from __future__ import annotations

from typing import Any

import pytest

from asyncfilter import Match, Outcome, PriceTable, S3Object, ScanConfig, SkipReason, StopReason
from asyncfilter._ledger import ObjectState
from asyncfilter._verdict import Route, judge, route

CONFIG = ScanConfig(source="s3://src", dest="s3://dst", labels=("Robin",), threshold=80,
                    review_threshold=60)  # fmt: skip
OBJ = S3Object("src", "a.jpg", 1000, "etag-1")
ROBIN = {"Labels": [{"Name": "Robin", "Confidence": 90.0}]}


def state(**changes: Any) -> ObjectState:
    values: dict[str, Any] = {
        "etag": "etag-1",
        "outcome": Outcome.HIT,
        "error_code": None,
        "retryable": False,
        "dest_key": "Robin/a.jpg",
        "copies": frozenset({("dst", "Robin/a.jpg")}),
        "min_confidence": 60.0,
        "max_labels": None,
        "model_version": "3.0",
        "detector": "detect-labels",
        "response": ROBIN,
    }
    values.update(changes)
    return ObjectState(**values)


def test_a_new_object_is_sent_and_an_unsupported_one_skipped() -> None:
    assert route(OBJ, None, CONFIG, "detect-labels") == (Route.SEND, None)
    gif = S3Object("src", "a.gif", 1000)
    assert route(gif, None, CONFIG, "detect-labels") == (Route.SKIP, SkipReason.UNSUPPORTED_TYPE)


def test_a_stored_answer_is_reused_only_for_the_same_version_and_detector() -> None:
    assert route(OBJ, state(), CONFIG, "detect-labels")[0] is Route.CACHED
    changed = S3Object("src", "a.jpg", 1000, "etag-2")
    assert route(changed, state(), CONFIG, "detect-labels")[0] is Route.SEND
    assert route(OBJ, state(), CONFIG, "custom-labels:arn:model")[0] is Route.SEND
    stricter_before = state(min_confidence=70.0)  # cannot show the 60-70 band
    assert route(OBJ, stricter_before, CONFIG, "detect-labels")[0] is Route.SEND


def test_only_errors_the_service_would_repeat_are_final() -> None:
    final = state(outcome=Outcome.ERROR, error_code="InvalidImageFormatException",
                  response=None, copies=frozenset())  # fmt: skip
    assert route(OBJ, final, CONFIG, "detect-labels")[0] is Route.KNOWN
    temporary = state(outcome=Outcome.ERROR, error_code="500", retryable=True, response=None)
    assert route(OBJ, temporary, CONFIG, "detect-labels")[0] is Route.SEND
    paid_but_not_copied = state(outcome=Outcome.ERROR, error_code="DestinationError",
                                retryable=True)  # fmt: skip
    assert route(OBJ, paid_but_not_copied, CONFIG, "detect-labels")[0] is Route.CACHED


def test_a_persons_verdict_overrides_the_confidence() -> None:
    band = Match("Robin", "name", "Robin", 70.0)
    assert judge(band, None, OBJ, CONFIG) == (Outcome.REVIEW, band)
    assert judge(band, state(verdict="accepted"), OBJ, CONFIG) == (Outcome.HIT, band)
    assert judge(band, state(verdict="rejected"), OBJ, CONFIG)[0] is Outcome.MISS
    other_version = S3Object("src", "a.jpg", 1000, "etag-2")
    assert judge(band, state(verdict="rejected"), other_version, CONFIG)[0] is Outcome.REVIEW


@pytest.mark.parametrize(
    ("max_scan", "budget", "expected"),
    [
        (None, None, (None, StopReason.MAX_SCAN)),
        (500, None, (500, StopReason.MAX_SCAN)),
        (500, 0.2, (200, StopReason.BUDGET)),
        (100, 0.2, (100, StopReason.MAX_SCAN)),
    ],
)
def test_the_call_cap_is_the_scan_cap_or_what_the_budget_buys(
    max_scan: int | None, budget: float | None, expected: tuple[int | None, StopReason]
) -> None:
    config = ScanConfig(source="s3://src", dest="s3://dst", labels=("x",), max_scan=max_scan,
                        budget_usd=budget)  # fmt: skip
    assert config.call_cap() == expected


def test_prices_follow_the_tiers_after_earlier_calls() -> None:
    prices = PriceTable()
    assert prices.cost(1000) == pytest.approx(1.0)
    assert prices.cost(2000, after=999_000) == pytest.approx(1.0 + 0.8)
    assert prices.images_for(1.8, after=999_000) == 2000
