"""The engine: one producer paging keys into a bounded queue, N workers deciding images.

Every task lives in one task group, so none outlives the sweep. Backpressure is the queue's
bound: the producer waits while the workers are busy, and memory stays flat however large the
bucket is. The engine drives the stages (listing, the ledger, detection, matching, copying) and
nothing else: what is written around a sweep (manifests, exports) is written by its callers.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.lowlevel
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._config import ScanConfig
from ._controller import Controller
from ._copying import Copier
from ._detection import Detector, detector_identity
from ._duplicates import Answer, Duplicates, digest
from ._errors import (
    ImageFailed,
    ServiceUnreachable,
    SweepAborted,
    Throttled,
    TransientError,
    Unreachable,
)
from ._grace import Grace
from ._ledger import Ledger, ObjectState
from ._listing import Lister
from ._log import logger
from ._matching import Matcher
from ._models import Detection, S3Object
from ._rate import AdaptiveRate, FixedRate
from ._results import ImageResult, Outcome
from ._verdict import Route, judge, route

#: Called with every decided image, after the controller has counted it. It returns ``None``
#: when the image was handed on at once, or an awaitable to wait on (shielded, within the
#: copy grace) when it must wait: most images then cost no cancel scope at all.
Emit = Callable[[ImageResult], Awaitable[None] | None]


@dataclass(slots=True)
class Item:
    """What the producer hands a worker: the object, what the ledger knows of it, its route,
    and for a copy of an object already answered, that answer."""

    obj: S3Object
    state: ObjectState | None
    route: Route
    answer: Answer | None = None


#: Attempts at an endpoint that refuses connections before the sweep gives up on it, when the
#: service has not answered once yet (a service that has answered gets ``max_attempts``).
UNREACHABLE_ATTEMPTS = 3


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff, so that throttled workers do not retry in step."""
    return random.uniform(0.0, min(cap, base * (2 ** (attempt - 1))))


class Engine:
    """Runs one sweep; built by :func:`asyncfilter.scan`, which owns the clients."""

    def __init__(
        self,
        config: ScanConfig,
        controller: Controller,
        *,
        lister: Lister,
        detector: Detector,
        copier: Copier,
        emit: Emit | None = None,
        ledger: Ledger | None = None,
        job: str = "",
    ) -> None:
        self._config = config
        self._ctl = controller
        self._lister = lister
        self._detector = detector
        self._detector_id = detector_identity(detector)
        self._copier = copier
        self._emit = emit
        self._ledger = ledger
        self._job = job
        self._matcher = Matcher(config.labels, config.match_floor)
        self._limiter: AdaptiveRate | FixedRate | None = None
        self._duplicates = Duplicates() if config.dedupe else None
        self._debug = logger.debug_enabled()
        self._grace = Grace()

    async def run(self) -> None:
        """Run until every object is decided or a stop rule fires; then return."""
        config = self._config
        if config.tps is not None:
            # built here, inside the running loop, as aiolimiter requires
            self._limiter = AdaptiveRate(config.tps) if config.adaptive else FixedRate(config.tps)
            self._ctl.rate = self._limiter
        send, receive = anyio.create_memory_object_stream[Item](config.effective_queue_size)
        try:
            pages_out, pages_in = anyio.create_memory_object_stream[Sequence[S3Object]](1)
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._begin_grace_at_end)
                if self._ledger is not None:
                    outer.start_soon(self._ledger.run_writer)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._fetch_pages, pages_out)
                    tg.start_soon(self._produce, pages_in, send)
                    async with receive:
                        for _ in range(config.concurrency):
                            tg.start_soon(self._work, receive.clone())
                outer.cancel_scope.cancel()  # the writer flushes what is left as it stops
        finally:
            self._ctl.finish()

    async def _begin_grace_at_end(self) -> None:
        """Start the grace periods of work in flight when a stop rule fires or the sweep is
        cancelled (and, harmlessly, when it ends)."""
        try:
            with anyio.CancelScope() as scope:
                self._ctl.watch(scope)
                await anyio.sleep_forever()
        finally:
            self._grace.begin()

    async def _finish(self, result: ImageResult) -> None:
        """Count, remember and hand on one decided image. Handing it on is shielded, with a
        deadline: a decided outcome is delivered even while the sweep is being cancelled."""
        self._ctl.count(result)
        if self._debug:
            logger.debug(
                "image.decided",
                key=result.object.key,
                outcome=result.outcome.value,
                paid=result.paid,
                cached=result.cached,
                error_code=result.error_code,
            )
        if self._ledger is not None:
            config = self._config
            review = result.outcome is Outcome.REVIEW
            self._ledger.remember(
                result,
                dest_bucket=config.review_location.bucket if review else config.dest.bucket,
                min_confidence=config.min_confidence,
                max_labels=config.max_labels,
                job=self._job,
                detector=self._detector_id,
                folder=config.folder_name,
            )
        waiting = self._emit(result) if self._emit is not None else None
        if waiting is not None:
            with self._grace.shielded(self._config.copy_grace_s):
                await waiting
        else:  # a worker taking items without waiting must still let others run
            await anyio.lowlevel.checkpoint()

    # --- producer ---------------------------------------------------------------------------

    async def _fetch_pages(self, pages_out: ObjectSendStream[Sequence[S3Object]]) -> None:
        """List one page ahead of the producer, so workers never wait on a ListObjectsV2.

        The lister is closed inside the scope a stop cancels: a lister may hold a task group
        (parallel listing) across its pages, and its scope must be left before this one.
        """
        ctl = self._ctl
        source = self._config.source
        pages = self._lister.pages(source.bucket, source.prefix)
        async with pages_out:
            try:
                with anyio.CancelScope() as waiting:
                    ctl.watch(waiting)
                    try:
                        async for page in pages:
                            if self._debug:
                                logger.debug("listing.page", keys=len(page), listed=ctl.listed)
                            await pages_out.send(page)
                    finally:
                        ctl.unwatch(waiting)
                        # no scope of our own around it: the lister's scopes must be the
                        # innermost as they close (a lister shields its own cleanup)
                        aclose = getattr(pages, "aclose", None)
                        if aclose is not None:
                            await aclose()
            except SweepAborted as exc:
                ctl.abort(exc)

    async def _produce(
        self, pages_in: ObjectReceiveStream[Sequence[S3Object]], send: MemoryObjectSendStream[Item]
    ) -> None:
        """Route every listed object: record skips and the ledger's final words, queue the
        rest for the workers."""
        ctl = self._ctl
        ledger = self._ledger
        config = self._config
        detector = self._detector_id
        async with send, pages_in:
            with anyio.CancelScope() as waiting:
                ctl.watch(waiting)
                try:
                    async for page in pages_in:
                        states: dict[str, ObjectState] = {}
                        if ledger is not None and page:
                            states = await ledger.lookup(page[0].bucket, [o.key for o in page])
                        routed = [(obj, states.get(obj.key)) for obj in page]
                        ways = [route(obj, state, config, detector) for obj, state in routed]
                        donors = await self._donors(page, ways)
                        for (obj, state), (way, reason) in zip(routed, ways, strict=True):
                            ctl.listed += 1
                            if way is Route.SEND or way is Route.CACHED:
                                answer = donors.get(obj.key) if way is Route.SEND else None
                                if answer is not None:
                                    way = Route.DUPLICATE
                                item = Item(obj, state, way, answer)
                                try:  # fill the queue in one go: workers then take without waiting
                                    send.send_nowait(item)
                                except anyio.WouldBlock:
                                    await send.send(item)
                                continue
                            if way is Route.SKIP:
                                result = ImageResult(obj, Outcome.SKIPPED, skip_reason=reason)
                            else:
                                assert state is not None
                                result = ImageResult(
                                    obj,
                                    state.outcome,
                                    error_code=state.error_code,
                                    error_message="recorded by an earlier run (not retried)",
                                )
                            with anyio.CancelScope(shield=True):
                                await self._finish(result)
                            if ctl.stopping:
                                return
                finally:
                    ctl.unwatch(waiting)

    async def _donors(
        self, page: Sequence[S3Object], ways: Sequence[tuple[Route, object]]
    ) -> dict[str, Answer]:
        """Answers the ledger holds for other objects with the same bytes as the page's objects
        that would be sent, by key: a copy found in an earlier run, or another prefix."""
        if self._ledger is None or self._duplicates is None:
            return {}
        wanted = {
            d: obj
            for obj, (way, _) in zip(page, ways, strict=True)
            if way is Route.SEND and (d := digest(obj)) is not None
        }
        if not wanted:
            return {}
        config = self._config
        found: dict[str, Answer] = {}
        donors = await self._ledger.donors(page[0].bucket, list(wanted))
        for obj, (way, _) in zip(page, ways, strict=True):
            d = digest(obj) if way is Route.SEND else None
            donor = donors.get(d) if d is not None else None
            if donor is None:
                continue
            key, state = donor
            if key != obj.key and state.answers(
                obj.etag, config.min_confidence, config.max_labels, self._detector_id
            ):
                assert state.response is not None
                found[obj.key] = Answer(key, state.response, state.model_version)
        return found

    # --- workers ----------------------------------------------------------------------------

    def _settle(self, claimed: S3Object | None, result: ImageResult | None) -> None:
        """End a claim on ``claimed``'s bytes: with the answer its call got, or none."""
        if claimed is None or self._duplicates is None:
            return
        answer = None
        if result is not None and result.paid and result.response is not None:
            answer = Answer(claimed.key, result.response, result.response.get("LabelModelVersion"))
        self._duplicates.settle(claimed, answer)

    async def _take(
        self, receive: MemoryObjectReceiveStream[Item]
    ) -> tuple[Item | None, S3Object | None]:
        """The next item ready to decide and, if its call is this worker's to make, the object
        claimed for it; ``(None, None)`` at the end of the queue.

        Whatever can be had without waiting is taken without a cancel scope (the common case,
        and most of what a worker costs per image); what must wait (the queue, a copy's call in
        flight, room under the hit target, the rate) waits in a scope a stop cancels.
        """
        ctl = self._ctl
        duplicates = self._duplicates
        item: Item | None = None
        claimed: S3Object | None = None
        try:
            item = receive.receive_nowait()
            if item.route is Route.SEND and duplicates is not None:
                answer = duplicates.claim_nowait(item.obj)
                if answer is not None:
                    item.route, item.answer = Route.DUPLICATE, answer
                else:
                    claimed = item.obj
            if item.route is not Route.SEND or (ctl.has_room() and self._limiter is None):
                return item, claimed
        except anyio.WouldBlock:
            pass
        except anyio.EndOfStream:
            return None, None
        with anyio.CancelScope() as waiting:
            ctl.watch(waiting)
            try:
                if item is None:
                    item = await receive.receive()
                if item.route is Route.SEND and duplicates is not None and claimed is None:
                    # a copy of bytes being (or already) answered waits, never pays
                    answer = await duplicates.claim(item.obj)
                    if answer is not None:
                        item.route, item.answer = Route.DUPLICATE, answer
                    else:
                        claimed = item.obj
                if item.route is Route.SEND:
                    if not ctl.has_room():
                        await ctl.wait_for_room()
                    if self._limiter is not None:
                        await self._limiter.acquire()
            except anyio.EndOfStream:
                return None, claimed
            finally:
                ctl.unwatch(waiting)
        return item, claimed

    async def _work(self, receive: MemoryObjectReceiveStream[Item]) -> None:
        ctl = self._ctl
        async with receive:
            while True:
                item, claimed = await self._take(receive)
                if (
                    item is None
                    or ctl.stopping
                    or (item.route is Route.SEND and not ctl.reserve_call())
                ):
                    # the sweep is stopping: an object not yet started is left alone
                    self._settle(claimed, None)
                    return
                result: ImageResult | None = None
                try:
                    result = await self._decide(item)
                finally:
                    self._settle(claimed, result)
                    claimed = None
                await self._finish(result)  # (shielded where it waits)

    async def _decide(self, item: Item) -> ImageResult:
        obj, state, way = item.obj, item.state, item.route
        duplicate_of: str | None = None
        if way is Route.CACHED:
            assert state is not None
            assert state.response is not None
            detection = Detection.from_response(state.response, state.model_version)
            attempts, paid = 0, False
            if self._duplicates is not None:
                self._duplicates.learn(obj, Answer(obj.key, state.response, state.model_version))
        elif way is Route.DUPLICATE:
            assert item.answer is not None
            detection = Detection.from_response(item.answer.response, item.answer.model_version)
            attempts, paid, duplicate_of = 0, False, item.answer.key
        else:
            answer = await self._detect(obj)
            if isinstance(answer, ImageResult):
                return answer
            detection, attempts = answer
            paid = True
        self._ctl.saw_labels(detection.labels)
        outcome, match = judge(self._matcher.match(detection.labels), state, obj, self._config)
        make = partial(
            ImageResult,
            obj,
            match=match,
            attempts=attempts,
            paid=paid,
            cached=not paid,
            # a copy's row holds its answer too, so that it is answered by itself next time
            response=detection.raw if paid or duplicate_of else None,
            duplicate_of=duplicate_of,
        )
        if outcome is Outcome.MISS:
            return make(Outcome.MISS)
        config = self._config
        if not config.deliver:  # answers only: a later sweep copies from them, for free
            return make(outcome)
        if outcome is Outcome.REVIEW:
            bucket, key = config.review_location.bucket, config.review_key(obj.key)
        else:
            if not await self._ctl.claim_copy():
                return make(Outcome.SURPLUS)
            bucket, key = config.dest.bucket, config.dest_key(obj.key)
        if not paid and state is not None and state.copied_to(bucket, key):
            # copied there by an earlier run: counts again (toward the target, for a hit), free
            result = make(outcome, dest_key=key)
        else:
            result = await self._deliver(make, obj, outcome, bucket, key)
        if outcome is Outcome.HIT:
            if result.outcome is Outcome.HIT:
                self._ctl.copy_done()
            else:
                self._ctl.release_copy()
        return result

    async def _deliver(
        self,
        make: Callable[..., ImageResult],
        obj: S3Object,
        outcome: Outcome,
        bucket: str,
        key: str,
    ) -> ImageResult:
        """Copy a hit or a review image; ``make`` builds its result with the answer's fields."""
        grace = self._config.copy_grace_s
        try:
            # A copy in flight finishes even when the sweep is stopping or cancelled, within
            # its own deadline, so no copy is left half-done.
            with self._grace.shielded(grace) as scope:
                await self._copier.copy(obj, bucket, key)
        except SweepAborted as exc:
            # the destination is gone: the sweep stops, but this answer was paid for and is
            # kept, so that the next run copies it without paying again
            self._ctl.abort(exc)
            return make(
                Outcome.ERROR,
                error_code=type(exc).__name__,
                error_message=f"copy failed: {exc}",
                retryable=True,
            )
        except ImageFailed as exc:
            return make(
                Outcome.ERROR,
                error_code=exc.code,
                error_message=f"copy failed: {exc.message}",
                retryable=isinstance(exc, TransientError),
            )
        if scope.cancelled_caught:
            return make(
                Outcome.ERROR,
                error_code="CopyTimeout",
                error_message=f"copy did not finish within {grace} s of the stop",
                retryable=True,
            )
        return make(outcome, dest_key=key)

    async def _detect(self, obj: S3Object) -> tuple[Detection, int] | ImageResult:
        """Call the detector, retrying throttling and transient failures with backoff.

        A call already sent runs shielded, for at most ``call_grace_s`` once the sweep is
        ending (:mod:`._grace`): once paid for, its answer is recorded even if the sweep is
        cancelled meanwhile. Waiting between attempts is not
        shielded: a stop ends it at once, and the image is recorded as retryable.
        """
        config = self._config
        ctl = self._ctl
        attempts = 0
        while True:
            attempts += 1
            try:
                with self._grace.shielded(config.call_grace_s) as shielded:
                    detection = await self._detector.detect(
                        obj, min_confidence=config.min_confidence, max_labels=config.max_labels
                    )
                if shielded.cancelled_caught:
                    raise TransientError(
                        "CallTimeout", f"no answer within {config.call_grace_s} s of the stop"
                    )
                if self._limiter is not None:
                    self._limiter.succeeded()
                ctl.answered()
                return detection, attempts
            except (Throttled, TransientError) as exc:
                if isinstance(exc, Throttled):
                    ctl.count_throttle()
                    if self._limiter is not None:
                        self._limiter.throttled()
                unreachable = isinstance(exc, Unreachable) and not ctl.has_answered
                limit = UNREACHABLE_ATTEMPTS if unreachable else config.max_attempts
                if attempts >= min(limit, config.max_attempts):
                    if unreachable:
                        ctl.abort(ServiceUnreachable(f"cannot reach the detector: {exc.message}"))
                    return self._failed(obj, exc, attempts, retryable=True)
                ctl.count_retry()
                if self._debug:
                    logger.debug("image.retry", key=obj.key, attempt=attempts, code=exc.code)
                try:
                    with anyio.CancelScope() as waiting:
                        ctl.watch(waiting)
                        try:
                            await anyio.sleep(
                                backoff_delay(attempts, config.retry_base_s, config.retry_cap_s)
                            )
                            if self._limiter is not None:
                                await self._limiter.acquire()
                        finally:
                            ctl.unwatch(waiting)
                except anyio.get_cancelled_exc_class():
                    # cancelled from outside while waiting: record the image, then go
                    with anyio.CancelScope(shield=True):
                        await self._finish(self._stopped(obj, exc, attempts))
                    raise
                if waiting.cancelled_caught:
                    return self._stopped(obj, exc, attempts)
            except ImageFailed as exc:
                return self._failed(obj, exc, attempts, retryable=False)
            except SweepAborted as exc:  # no call can succeed (credentials): stop, keep the image
                ctl.abort(exc)
                return ImageResult(
                    obj,
                    Outcome.ERROR,
                    error_code=type(exc).__name__,
                    error_message=str(exc),
                    attempts=attempts,
                    retryable=True,
                )

    @staticmethod
    def _failed(obj: S3Object, exc: ImageFailed, attempts: int, *, retryable: bool) -> ImageResult:
        message = f"{exc.message} (gave up after {attempts} attempts)" if retryable else exc.message
        return ImageResult(
            obj,
            Outcome.ERROR,
            error_code=exc.code,
            error_message=message,
            attempts=attempts,
            retryable=retryable,
        )

    @staticmethod
    def _stopped(obj: S3Object, exc: ImageFailed, attempts: int) -> ImageResult:
        return ImageResult(
            obj,
            Outcome.ERROR,
            error_code="Interrupted",
            error_message=f"the sweep stopped while retrying ({exc.code}: {exc.message})",
            attempts=attempts,
            retryable=True,
        )
