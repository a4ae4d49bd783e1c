"""``plan``: what a sweep would send, what the ledger already answers, and what it would cost.

It lists and looks things up; it calls DetectLabels only when asked for a sample.
"""

from __future__ import annotations

import math
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from ._clients import check_bucket, make_session, open_s3
from ._config import ScanConfig
from ._detection import Detector, detector_identity
from ._errors import ConfigError
from ._estimate import Estimate, HitRateTracker
from ._forecast import Forecast, forecast
from ._hints import LabelHints
from ._ledger import Ledger, ObjectState, endpoint_identity, sweep_id
from ._listing import Lister
from ._matching import Matcher
from ._models import DETECT_LABELS, Detection, S3Object
from ._order import listing_figures, sweep_order
from ._results import Outcome
from ._sources import make_lister
from ._verdict import Route, judge, route


@dataclass(frozen=True, slots=True)
class Plan:
    """The forecast of one sweep."""

    listed: int
    skipped_by_reason: dict[str, int]
    answered_by_ledger: int
    to_send: int
    """Eligible objects the ledger cannot answer."""
    would_send: int
    """``to_send`` within the scan cap and budget (across earlier runs of this sweep)."""
    prior_paid_calls: int
    estimated_cost_usd: float
    estimated_seconds: float | None
    notes: list[str] = field(default_factory=list)
    sampled: int = 0
    """Calls paid for ``--sample`` (their answers are in the ledger for the sweep to reuse)."""
    hit_rate: Estimate | None = None
    """What the ledger's answers for the first objects of the random order say."""
    forecast: Forecast | None = None
    hint: str | None = None
    listing: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "skipped": sum(self.skipped_by_reason.values()),
            "skipped_by_reason": dict(self.skipped_by_reason),
            "answered_by_ledger": self.answered_by_ledger,
            "to_send": self.to_send,
            "would_send": self.would_send,
            "prior_paid_calls": self.prior_paid_calls,
            "estimated_cost_usd": round(self.estimated_cost_usd, 6),
            "estimated_seconds": (
                round(self.estimated_seconds, 1) if self.estimated_seconds is not None else None
            ),
            "notes": self.notes,
            "sampled": self.sampled,
            "hit_rate": self.hit_rate.to_dict() if self.hit_rate is not None else None,
            "forecast": self.forecast.to_dict() if self.forecast is not None else None,
            "hint": self.hint,
            "listing": self.listing,
        }


async def plan(
    config: ScanConfig,
    *,
    sample: int = 0,
    session: Any | None = None,
    s3_client: Any | None = None,
    rekognition_client: Any | None = None,
    lister: Lister | None = None,
    detector: Detector | None = None,
    detector_id: str | None = None,
) -> Plan:
    """Forecast ``config``'s sweep. Each object is routed exactly as the sweep would route it
    (:func:`asyncfilter._verdict.route`), for the answers of ``detector`` (or of the detector
    named ``detector_id``; DetectLabels by default).

    With no ``sample`` it makes no DetectLabels call. With ``sample=K`` it first pays for K
    answers on the first objects of the sweep's random order (recorded in the ledger, copied
    nowhere, so the sweep that follows reuses every one of them for free), and the estimate
    and forecast come from them.
    """
    if sample:
        if config.state is None or config.order != "random":
            raise ConfigError("plan --sample needs a ledger (--state) and the random order")
        await _sample(config, sample, session, s3_client, rekognition_client, lister, detector)
    if detector is not None:
        detector_id = detector_identity(detector)
    detector_id = detector_id or DETECT_LABELS
    async with AsyncExitStack() as stack:
        ledger: Ledger | None = None
        prior = 0
        if config.state is not None:
            ledger = await Ledger.open(config.state)
            stack.push_async_callback(ledger.aclose)
            prior = await ledger.paid_calls(sweep_id(config.identity))
        if lister is None:
            if s3_client is None:
                s3_client = await open_s3(stack, session or make_session(config), config)
            if ledger is not None:
                await ledger.bind_endpoint(endpoint_identity(s3_client.meta.endpoint_url))
            owner = config.expected_bucket_owner
            await check_bucket(s3_client, config.source.bucket, role="source", expected_owner=owner)
            lister = make_lister(config, s3_client)
        ordered = sweep_order(lister, config)
        if ordered is not None:
            lister = ordered
        known = _KnownPrefix(config, detector_id)
        listed = answered = to_send = 0
        skipped: Counter[str] = Counter()
        pages = lister.pages(config.source.bucket, config.source.prefix)
        # a parallel lister owns a task group: close it in this task, however the loop ends
        stack.push_async_callback(_aclose, pages)
        async for page in pages:
            states = (
                await ledger.lookup(config.source.bucket, [o.key for o in page])
                if (ledger is not None and page)
                else {}
            )
            for obj in page:
                listed += 1
                state = states.get(obj.key)
                way, reason = route(obj, state, config, detector_id)
                known.see(obj, state, way)
                if way is Route.SKIP:
                    assert reason is not None
                    skipped[reason.value] += 1
                elif way is Route.SEND:
                    to_send += 1
                else:
                    answered += 1
    notes = []
    would_send = to_send
    cap, _ = config.call_cap()
    if cap is not None and prior + to_send > cap:
        would_send = max(0, cap - prior)
        notes.append(f"the scan cap or budget stops the sweep after {would_send} more calls")
    if config.target is not None:
        notes.append(f"the hit target ({config.target}) may stop it sooner")
    if ordered is None:
        notes.append("no estimate in listing order: its first objects are no fair sample")
    hit_rate = known.estimate(ordered.eligible_keys if ordered is not None else None)
    return Plan(
        listed=listed,
        skipped_by_reason=dict(skipped),
        answered_by_ledger=answered,
        to_send=to_send,
        would_send=would_send,
        prior_paid_calls=prior,
        estimated_cost_usd=config.prices.cost(would_send, after=prior),
        estimated_seconds=would_send / config.tps if config.tps else None,
        notes=notes,
        sampled=sample,
        hit_rate=hit_rate,
        forecast=(
            forecast(
                hit_rate,
                hits=known.hits,
                target=config.target,
                prices=config.prices,
                after_calls=prior,
                calls_per_s=config.tps,
            )
            if hit_rate is not None and config.target is not None
            else None
        ),
        hint=known.hints.hint(min_answered=1) if not known.hits else None,
        listing=listing_figures(ordered) if ordered is not None else None,
    )


class _KnownPrefix:
    """The ledger's answers for the first objects of the random order, up to the first object
    it does not know: a prefix of the order, so a uniform sample of the bucket."""

    def __init__(self, config: ScanConfig, detector_id: str) -> None:
        self._config = config
        self._detector_id = detector_id
        self._matcher = Matcher(config.labels, config.match_floor)
        self.tracker = HitRateTracker()
        self.hints = LabelHints(config.labels)
        self.hits = 0
        self._open = True

    def see(self, obj: S3Object, state: ObjectState | None, way: Route) -> None:
        if not self._open or way is Route.SKIP or way is Route.KNOWN:
            return
        if way is not Route.CACHED or state is None or state.response is None:
            self._open = False  # the first object with no answer ends the fair sample
            return
        detection = Detection.from_response(state.response, state.model_version)
        self.hints.add(detection.labels)
        outcome, _ = judge(self._matcher.match(detection.labels), state, obj, self._config)
        hit = outcome is Outcome.HIT
        self.hits += hit
        self.tracker.add(hit)

    def estimate(self, population: int | None) -> Estimate | None:
        self.tracker.population = population
        return self.tracker.estimate()


async def _sample(
    config: ScanConfig,
    count: int,
    session: Any | None,
    s3_client: Any | None,
    rekognition_client: Any | None,
    lister: Lister | None,
    detector: Detector | None,
) -> None:
    """Pay for ``count`` answers on the first objects of the sweep's own random order; they
    are recorded, copied nowhere, and counted in the sweep's spend (it is the same sweep)."""
    from ._scan import scan  # the sweep machinery, only when sampling

    assert config.state is not None
    ledger = await Ledger.open(config.state)
    try:
        prior = await ledger.paid_calls(sweep_id(config.identity))
    finally:
        await ledger.aclose()
    # The sample must be exactly the first ``count`` objects of the order (a prefix is what
    # makes it a fair sample): with no rate gate, workers reserve their calls in the order
    # they take objects off the queue. Concurrency stands in for the rate instead: about
    # tps / 5 calls in flight at DetectLabels' ~200 ms is about tps calls a second.
    concurrency = config.concurrency
    if config.tps is not None:
        concurrency = max(1, min(concurrency, math.ceil(config.tps / 5)))
    sampling = replace(
        config,
        deliver=False,
        tps=None,
        concurrency=concurrency,
        max_scan=prior + count,
        target=None,
        miss_cutoff=None,
        min_hit_rate=None,
        max_error_rate=None,
    )
    await scan(
        sampling,
        session=session,
        s3_client=s3_client,
        rekognition_client=rekognition_client,
        lister=lister,
        detector=detector,
    )


async def _aclose(pages: object) -> None:
    aclose = getattr(pages, "aclose", None)
    if aclose is not None:
        await aclose()
