"""The controller: the one owner of every count and every stop rule.

Workers ask it before they spend (:meth:`Controller.reserve_call`, :meth:`Controller.claim_copy`)
and tell it what happened (:meth:`Controller.count`). Because the asks are synchronous and the
event loop runs one task at a time, a reservation cannot race another: the scan cap and the hit
target hold exactly at any concurrency.

Stopping is cancellation. Tasks register the scopes in which they *wait* (for a key, for the rate
limiter); :meth:`Controller.stop` cancels those scopes. Work already paid for (a call in flight, a
copy) runs outside them and finishes.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio

from ._config import ScanConfig
from ._errors import ErrorRateExceeded, ServiceUnreachable, SweepAborted
from ._evidence import Evidence
from ._log import logger
from ._models import Label
from ._results import ImageResult, Outcome, Report, Stats, StopReason

#: Images in a row, from the start, that failed the same temporary way with no call answered,
#: before the sweep stops: the service is refusing everyone, not having a bad moment.
FAILING_FROM_THE_START = 10


class _Rate(Protocol):
    rate: float


class Controller:
    """Counts, stop rules and the cancel scopes to cancel when a rule fires."""

    def __init__(
        self,
        config: ScanConfig,
        *,
        prior_paid: int = 0,
        clock: Callable[[], float] = time.monotonic,
        population: Callable[[], int | None] | None = None,
    ) -> None:
        """``population``: the eligible total, when a random order has listed it (the hit rate
        then describes the whole bucket, sampled without replacement)."""
        self._target = config.target
        self._min_hit_rate = config.min_hit_rate
        self._tps = config.tps
        self.evidence = Evidence(config.labels, config.threshold, population=population)
        self.stop_detail: str | None = None
        self.seed: int | None = None
        """The random order's seed, for the report."""
        self.listing: Callable[[], dict[str, Any] | None] | None = None
        """What listing took and cost (a random order lists first), for the report."""
        self.source: Callable[[], dict[str, Any] | None] | None = None
        """What the source says of itself (an inventory's age), for the report."""
        self._miss_cutoff = config.miss_cutoff
        self._prices = config.prices
        self._prior_paid = prior_paid
        self._cap, self._cap_reason = config.call_cap()
        self._clock = clock
        self._started = clock()
        self._ended: float | None = None
        self.listed = 0
        self.calls_started = 0
        self.paid_calls = 0
        self.cached = 0
        self.duplicates = 0
        self.throttled = 0
        self.retries = 0
        self.rate: _Rate | None = None
        """The rate gate, once the engine has built it (its current rate is reported)."""
        self.has_answered = False
        """The detector has answered at least once in this sweep."""
        self._failing_from_start: tuple[str, int] = ("", 0)
        self._counts: Counter[Outcome] = Counter()
        self._skipped_by_reason: Counter[str] = Counter()
        self._errors_by_code: Counter[str] = Counter()
        self._error_examples: dict[str, str] = {}
        self._claims = 0
        self._copied = 0
        self._changed = anyio.Event()
        self._miss_streak = 0
        self.stop_reason: StopReason | None = None
        self.fatal: SweepAborted | None = None
        self.review_manifest: str | None = None
        """Where the review manifest was written, once it has been."""
        self._watched: set[anyio.CancelScope] = set()
        self._max_error_rate = config.max_error_rate
        self._window: deque[bool] = deque(maxlen=config.error_window)
        self._window_errors = 0

    # --- asks -------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """True once any stop rule has fired; nothing new may start."""
        return self.stop_reason is not None

    def reserve_call(self) -> bool:
        """Reserve one paid DetectLabels call, or refuse because the sweep is stopping."""
        if self.stop_reason is not None:
            return False
        cap = self._cap
        if cap is not None and self._prior_paid + self.calls_started >= cap:
            self.stop(self._cap_reason)  # spent in earlier runs of this sweep
            return False
        self.calls_started += 1
        if cap is not None and self._prior_paid + self.calls_started >= cap:
            self.stop(self._cap_reason)
        return True

    def has_room(self) -> bool:
        """False while every place in the hit target is taken by a copy in flight."""
        return self._target is None or self._claims < self._target

    async def wait_for_room(self) -> None:
        """Wait until a copy in flight fails (a place opens) or succeeds (the target may be
        reached, which stops the sweep). Starting a call before then could only buy surplus."""
        while not self.has_room() and self._copied < (self._target or 0):
            await self._changed.wait()

    async def claim_copy(self) -> bool:
        """Claim one of the hit target's places for a match; ``False`` means it is surplus.

        When every place is held by a copy in flight, wait: if one of those copies fails, this
        match takes its place, so the target is met exactly whenever enough hits exist.
        """
        if self._target is None:
            return True
        while True:
            if self._copied >= self._target:
                return False
            if self._claims < self._target:
                self._claims += 1
                return True
            await self._changed.wait()

    def copy_done(self) -> None:
        """A claimed copy succeeded; the target rule fires when enough have."""
        self._copied += 1
        if self._target is not None and self._copied >= self._target:
            self.stop(StopReason.TARGET)
        self._notify()

    def release_copy(self) -> None:
        """Give a claimed place back, because the copy failed."""
        if self._target is not None:
            self._claims -= 1
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    # --- reports ----------------------------------------------------------------------------

    def count(self, result: ImageResult) -> None:
        """Count one decided image and apply the rules that depend on outcomes."""
        outcome = result.outcome
        self._counts[outcome] += 1
        if result.cached:
            self.cached += 1
            if result.duplicate_of is not None:
                self.duplicates += 1
        elif result.paid:
            self.paid_calls += 1
        if outcome is Outcome.MISS:
            self._miss_streak += 1
            if self._miss_cutoff is not None and self._miss_streak >= self._miss_cutoff:
                self.stop(StopReason.MISS_CUTOFF)
        elif outcome is Outcome.HIT or outcome is Outcome.SURPLUS or outcome is Outcome.REVIEW:
            # a review image shows what was asked for, only less surely: not a sign of wrong data
            self._miss_streak = 0
        elif outcome is Outcome.SKIPPED:
            assert result.skip_reason is not None
            self._skipped_by_reason[result.skip_reason.value] += 1
        elif outcome is Outcome.ERROR:
            code = result.error_code or "Unknown"
            self._errors_by_code[code] += 1
            self._error_examples.setdefault(code, result.error_message or code)
            if result.retryable and not self.has_answered and result.attempts:
                self._watch_failing_from_start(code, result.error_message or code)
        if self._max_error_rate is not None and outcome is not Outcome.SKIPPED:
            self._watch_error_rate(outcome is Outcome.ERROR)
        if self.evidence.count(result):
            self._watch_hit_rate()

    def _watch_hit_rate(self) -> None:
        """The stop rules that reason from the confidence sequence."""
        evidence = self.evidence
        if self._min_hit_rate is not None and evidence.below(self._min_hit_rate):
            self.stop_detail = (
                f"the hit rate is below {self._min_hit_rate:.2%} with 95% confidence "
                f"({evidence.hit_rate.hits:,} hits in {evidence.hit_rate.n:,} answered)"
            )
            self.stop(StopReason.LOW_HIT_RATE)
        # the unreachable check costs a millisecond or two: every 25 answers is often enough
        if self._target is not None and evidence.hit_rate.n % 25 == 0:
            message = evidence.unreachable(self._copied, self._target, self._remaining())
            if message is not None:
                self.stop_detail = message
                self.stop(StopReason.TARGET_UNREACHABLE)

    def _remaining(self) -> tuple[int, str] | None:
        """The fewest calls any limit leaves, and which limit that is."""
        options: list[tuple[int, str]] = []
        if self._cap is not None:
            what = "the budget" if self._cap_reason is StopReason.BUDGET else "the scan cap"
            options.append((max(0, self._cap - self._prior_paid - self.calls_started), what))
        eligible = self.evidence.eligible
        if eligible is not None:
            options.append((max(0, eligible - self.evidence.hit_rate.n), "the objects left"))
        return min(options) if options else None

    def saw_labels(self, labels: Sequence[Label]) -> None:
        """The labels of one answer (paid or stored), for the typo hint."""
        self.evidence.saw(labels)

    def _watch_error_rate(self, failed: bool) -> None:
        window = self._window
        if len(window) == window.maxlen and window[0]:
            self._window_errors -= 1
        window.append(failed)
        self._window_errors += failed
        assert self._max_error_rate is not None
        assert window.maxlen is not None
        if len(window) == window.maxlen and (
            self._window_errors / window.maxlen > self._max_error_rate
        ):
            top = self._errors_by_code.most_common(1)[0][0] if self._errors_by_code else "errors"
            self.abort(
                ErrorRateExceeded(
                    f"{self._window_errors} of the last {window.maxlen} images failed (mostly "
                    f"{top}), above --max-error-rate {self._max_error_rate:g}: stopping"
                )
            )

    def _watch_failing_from_start(self, code: str, message: str) -> None:
        same, run = self._failing_from_start
        run = run + 1 if code == same else 1
        self._failing_from_start = (code, run)
        if run >= FAILING_FROM_THE_START:
            self.abort(
                ServiceUnreachable(
                    f"the first {run} images all failed with {code} ({message}) and no call "
                    "has succeeded: the service is failing every call, stopping"
                )
            )

    def answered(self) -> None:
        """The detector answered a call."""
        self.has_answered = True

    def count_throttle(self) -> None:
        """Count one throttled response (it will be retried, so it is not an outcome)."""
        self.throttled += 1
        logger.debug("detector.throttled", throttled=self.throttled)

    def count_retry(self) -> None:
        """Count one retry of a failed call, so that progress shows retries as they happen."""
        self.retries += 1

    # --- stopping ---------------------------------------------------------------------------

    def watch(self, scope: anyio.CancelScope) -> None:
        """Cancel ``scope`` when the sweep stops (at once, if it already has)."""
        if self.stop_reason is not None:
            scope.cancel()
        else:
            self._watched.add(scope)

    def unwatch(self, scope: anyio.CancelScope) -> None:
        self._watched.discard(scope)

    def stop(self, reason: StopReason) -> None:
        """Fire a stop rule. The first reason wins; later calls change nothing."""
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        logger.info("sweep.stopping", reason=reason.value, decided=sum(self._counts.values()))
        watched, self._watched = self._watched, set()
        for scope in watched:
            scope.cancel()

    def abort(self, exc: SweepAborted) -> None:
        """Stop because of an error that makes the rest of the sweep pointless."""
        if self.fatal is None:
            self.fatal = exc
            logger.error("sweep.aborting", error=str(exc), kind=type(exc).__name__)
        self.stop(StopReason.ABORTED)

    def finish(self) -> None:
        """Mark the end of the sweep: no stop rule fired means every object was decided."""
        if self.stop_reason is None:
            self.stop_reason = StopReason.COMPLETED
        if self._ended is None:
            self._ended = self._clock()

    def stats(self) -> Stats:
        end = self._ended if self._ended is not None else self._clock()
        c = self._counts
        cost = self._prices.cost(self.paid_calls, after=self._prior_paid)
        return Stats(
            listed=self.listed,
            calls_started=self.calls_started,
            hits=c[Outcome.HIT],
            misses=c[Outcome.MISS],
            skipped=c[Outcome.SKIPPED],
            errors=c[Outcome.ERROR],
            surplus=c[Outcome.SURPLUS],
            review=c[Outcome.REVIEW],
            throttled=self.throttled,
            retries=self.retries,
            rate=self.rate.rate if self.rate is not None else None,
            paid_calls=self.paid_calls,
            cached=self.cached,
            duplicates=self.duplicates,
            elapsed_s=end - self._started,
            estimated_cost_usd=cost,
            saved_usd=self._prices.cost(self.cached),
            **self._estimates(end - self._started),
        )

    def _estimates(self, elapsed: float) -> dict[str, Any]:
        evidence = self.evidence
        hit_rate, review_rate = evidence.estimates()
        rate = self.rate.rate if self.rate is not None else None
        if rate is None and elapsed > 0:
            rate = self.calls_started / elapsed or None
        return {
            "hit_rate": hit_rate,
            "review_rate": review_rate,
            "forecast": evidence.forecast(
                self._copied, self._target, self._prices, self._prior_paid + self.paid_calls, rate
            ),
            "random_order": evidence.random_order,
            "eligible": evidence.eligible,
            "hint": evidence.hints.hint(),
        }

    def report(self) -> Report:
        return Report(
            stats=self.stats(),
            stop_reason=self.stop_reason or StopReason.COMPLETED,
            skipped_by_reason=dict(self._skipped_by_reason),
            errors_by_code=dict(self._errors_by_code),
            error_examples=dict(self._error_examples),
            error=str(self.fatal) if self.fatal is not None else None,
            review_manifest=self.review_manifest,
            stop_detail=self.stop_detail or self._no_hit_hint(),
            listing=self.listing() if self.listing is not None else None,
            source=self.source() if self.source is not None else None,
            seed=self.seed,
            target=self._target,
        )

    def _no_hit_hint(self) -> str | None:
        """For a sweep that ends with no hit: which labels did come back instead."""
        if self._copied or self._counts[Outcome.HIT]:
            return None
        return self.evidence.hints.hint(min_answered=1)
