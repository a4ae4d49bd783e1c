"""``plan``: what a sweep would send, what the ledger already answers, and what it would cost.

It lists and looks things up; it never calls DetectLabels.
"""

from __future__ import annotations

from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from ._clients import check_bucket, make_session, open_s3
from ._config import ScanConfig
from ._ledger import Ledger, endpoint_identity, sweep_id
from ._listing import Lister, S3Lister
from ._models import DETECT_LABELS
from ._verdict import Route, route


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
        }


async def plan(
    config: ScanConfig,
    *,
    session: Any | None = None,
    s3_client: Any | None = None,
    lister: Lister | None = None,
    detector: str = DETECT_LABELS,
) -> Plan:
    """Forecast ``config``'s sweep: zero DetectLabels calls. Each object is routed exactly as
    the sweep would route it (:func:`asyncfilter._verdict.route`), for ``detector``'s answers."""
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
            lister = S3Lister(s3_client, page_size=config.page_size, expected_owner=owner)
        listed = answered = to_send = 0
        skipped: Counter[str] = Counter()
        async for page in lister.pages(config.source.bucket, config.source.prefix):
            states = (
                await ledger.lookup(config.source.bucket, [o.key for o in page])
                if (ledger is not None and page)
                else {}
            )
            for obj in page:
                listed += 1
                way, reason = route(obj, states.get(obj.key), config, detector)
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
    )
