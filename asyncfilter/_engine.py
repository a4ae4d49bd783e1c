"""The engine: one producer paging keys into a bounded queue, N workers deciding images.

Every task lives in one task group, so none outlives the sweep. Backpressure is the queue's
bound: the producer waits while the workers are busy, and memory stays flat however large the
bucket is.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from ._config import ScanConfig
from ._controller import Controller
from ._copying import Copier
from ._detection import Detector
from ._eligibility import skip_reason
from ._errors import ImageFailed, SweepAborted, Throttled, TransientError
from ._export._format import ExportContext
from ._export._records import Record, records_from_rows
from ._export._review import review_manifest
from ._ledger import Entry, Ledger
from ._listing import Lister
from ._matching import Matcher
from ._models import Detection, Label, S3Object
from ._rate import AdaptiveRate, FixedRate
from ._results import ImageResult, Match, Outcome

#: Called with every decided image, after the controller has counted it.
Emit = Callable[[ImageResult], Awaitable[None]]
#: What the producer hands a worker: the object and what the ledger knows of it.
Item = tuple[S3Object, Entry | None]


def _stored_detection(entry: Entry) -> Detection:
    response = entry.response or {}
    return Detection(
        labels=[Label.from_response(label) for label in response.get("Labels", ())],
        model_version=entry.model_version,
        raw=response,
    )


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
        self._copier = copier
        self._emit = emit
        self._ledger = ledger
        self._job = job
        self._matcher = Matcher(config.labels, config.min_confidence)
        self._limiter: AdaptiveRate | FixedRate | None = None
        self._reviewed: list[Record] = []
        """The review band of this run, for its manifest when there is no ledger to ask."""

    async def run(self) -> None:
        """Run until every object is decided or a stop rule fires; then return."""
        config = self._config
        if config.tps is not None:
            # built here, inside the running loop, as aiolimiter requires
            self._limiter = AdaptiveRate(config.tps) if config.adaptive else FixedRate(config.tps)
        send, receive = anyio.create_memory_object_stream[Item](config.effective_queue_size)
        try:
            pages_out, pages_in = anyio.create_memory_object_stream[Sequence[S3Object]](1)
            async with anyio.create_task_group() as outer:
                if self._ledger is not None:
                    outer.start_soon(self._ledger.run_writer)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._fetch_pages, pages_out)
                    tg.start_soon(self._produce, pages_in, send)
                    async with receive:
                        for _ in range(config.concurrency):
                            tg.start_soon(self._work, receive.clone())
                outer.cancel_scope.cancel()  # the writer flushes what is left as it stops
            if config.review_threshold is not None and self._ctl.fatal is None:
                await self._write_review_manifest()
        finally:
            self._ctl.finish()

    async def _write_review_manifest(self) -> None:
        """List the review band beside it, ``REVIEW/<name>.manifest``: from the ledger, so that
        images copied by earlier runs of the sweep are listed too, or from this run's results."""
        config = self._config
        where = config.review_location
        folder = f"{where.folder}{config.folder_name}/"
        if self._ledger is not None:
            rows = await self._ledger.copied_rows([Outcome.REVIEW.value], config.folder_name)
            records = [
                r
                for r in records_from_rows(rows, {Outcome.REVIEW})
                if r.bucket == where.bucket and r.key.startswith(folder)
            ]
        else:
            records = self._reviewed
        ((_, body),) = review_manifest(records, ExportContext({})).files
        key = f"{where.folder}{config.folder_name}.manifest"
        try:
            # like a copy in flight, it finishes even if the sweep is being cancelled
            with anyio.move_on_after(config.copy_grace_s, shield=True) as scope:
                await self._copier.put(where.bucket, key, body)
        except SweepAborted as exc:
            self._ctl.abort(exc)
            return
        if not scope.cancelled_caught:
            self._ctl.review_manifest = f"s3://{where.bucket}/{key}"

    async def _record(self, result: ImageResult) -> None:
        self._ctl.record(result)
        if result.outcome is Outcome.REVIEW and self._ledger is None and result.dest_key:
            config = self._config
            self._reviewed.append(
                Record.from_result(result, config.review_location.bucket, config.folder_name)
            )
        if self._ledger is not None:
            config = self._config
            review = result.outcome is Outcome.REVIEW
            self._ledger.record(
                result,
                dest_bucket=config.review_location.bucket if review else config.dest.bucket,
                min_confidence=config.min_confidence,
                max_labels=config.max_labels,
                job=self._job,
                folder=config.folder_name,
            )
        if self._emit is not None:
            await self._emit(result)

    # --- producer ---------------------------------------------------------------------------

    async def _fetch_pages(self, pages_out: ObjectSendStream[Sequence[S3Object]]) -> None:
        """List one page ahead of the producer, so workers never wait on a ListObjectsV2."""
        ctl = self._ctl
        source = self._config.source
        pages = self._lister.pages(source.bucket, source.prefix)
        async with pages_out:
            try:
                with anyio.CancelScope() as waiting:
                    ctl.watch(waiting)
                    try:
                        async for page in pages:
                            await pages_out.send(page)
                    finally:
                        ctl.unwatch(waiting)
            except SweepAborted as exc:
                ctl.abort(exc)
            finally:
                aclose = getattr(pages, "aclose", None)
                if aclose is not None:
                    with anyio.CancelScope(shield=True):
                        await aclose()

    async def _produce(
        self, pages_in: ObjectReceiveStream[Sequence[S3Object]], send: ObjectSendStream[Item]
    ) -> None:
        """Skip what Rekognition would reject, look the rest up in the ledger, queue it."""
        ctl = self._ctl
        ledger = self._ledger
        dest_key = self._config.longest_key
        async with send, pages_in:
            with anyio.CancelScope() as waiting:
                ctl.watch(waiting)
                try:
                    async for page in pages_in:
                        entries: dict[str, Entry] = {}
                        if ledger is not None and page:
                            entries = await ledger.lookup(page[0].bucket, [o.key for o in page])
                        for obj in page:
                            ctl.listed += 1
                            entry = entries.get(obj.key)
                            reason = skip_reason(obj, dest_key(obj.key))
                            if reason is None and (entry is None or not entry.final(obj.etag)):
                                await send.send((obj, entry))
                                continue
                            if reason is not None:
                                result = ImageResult(obj, Outcome.SKIPPED, skip_reason=reason)
                            else:
                                assert entry is not None
                                result = ImageResult(
                                    obj,
                                    entry.outcome,
                                    error_code=entry.error_code,
                                    error_message="recorded by an earlier run (not retried)",
                                    cached=True,
                                )
                            # a decided outcome is delivered even if the sweep stops meanwhile
                            with anyio.CancelScope(shield=True):
                                await self._record(result)
                            if ctl.stopping:
                                return
                finally:
                    ctl.unwatch(waiting)

    # --- workers ----------------------------------------------------------------------------

    async def _work(self, receive: ObjectReceiveStream[Item]) -> None:
        ctl = self._ctl
        limiter = self._limiter
        config = self._config
        async with receive:
            while True:
                item: Item | None = None
                cached: Detection | None = None
                with anyio.CancelScope() as waiting:
                    ctl.watch(waiting)
                    try:
                        item = await receive.receive()
                        obj, entry = item
                        if entry is not None and entry.answers(
                            obj.etag, config.min_confidence, config.max_labels
                        ):
                            cached = _stored_detection(entry)
                        else:
                            if not ctl.has_room():
                                await ctl.wait_for_room()
                            if limiter is not None:
                                await limiter.acquire()
                    except anyio.EndOfStream:
                        return
                    finally:
                        ctl.unwatch(waiting)
                if item is None or (cached is None and not ctl.reserve_call()):
                    return  # the sweep is stopping: an object not yet started is left alone
                if ctl.stopping and cached is not None:
                    return
                try:
                    result = await self._decide(item[0], item[1], cached)
                except SweepAborted as exc:
                    ctl.abort(exc)
                    return
                await self._record(result)

    async def _decide(
        self, obj: S3Object, entry: Entry | None, cached: Detection | None
    ) -> ImageResult:
        if cached is not None:
            detection, attempts = cached, 0
        else:
            detection_or_error = await self._detect(obj)
            if isinstance(detection_or_error, ImageResult):
                return detection_or_error
            detection, attempts = detection_or_error
        paid = cached is None
        response = detection.raw if paid else None
        common: dict[str, Any] = {
            "attempts": attempts,
            "paid": paid,
            "cached": not paid,
            "response": response,
        }
        match = self._matcher.match(detection.labels)
        if match is None:
            return ImageResult(obj, Outcome.MISS, **common)
        config = self._config
        if match.confidence < config.threshold:
            return await self._deliver(
                obj, entry, match, common, Outcome.REVIEW, config.review_location.bucket,
                config.review_key(obj.key),
            )  # fmt: skip
        if not await self._ctl.claim_copy():
            return ImageResult(obj, Outcome.SURPLUS, match=match, **common)
        result = await self._deliver(
            obj, entry, match, common, Outcome.HIT, config.dest.bucket, config.dest_key(obj.key)
        )
        if result.outcome is Outcome.HIT:
            self._ctl.copy_done()
        else:
            self._ctl.release_copy()
        return result

    async def _deliver(
        self,
        obj: S3Object,
        entry: Entry | None,
        match: Match,
        common: dict[str, Any],
        outcome: Outcome,
        bucket: str,
        key: str,
    ) -> ImageResult:
        """Copy a hit or a review image, unless an earlier run of this sweep already did."""
        if entry is not None and entry.copied and entry.dest_key == key and common["cached"]:
            # copied by an earlier run: counts again (toward the target, for a hit), for free
            return ImageResult(obj, outcome, match=match, dest_key=key, **common)
        grace = self._config.copy_grace_s
        try:
            # A copy in flight finishes even when the sweep is stopping or cancelled, within
            # its own deadline, so no copy is left half-done.
            with anyio.move_on_after(grace, shield=True) as scope:
                await self._copier.copy(obj, bucket, key)
        except ImageFailed as exc:
            return ImageResult(
                obj,
                Outcome.ERROR,
                match=match,
                error_code=exc.code,
                error_message=f"copy failed: {exc.message}",
                **common,
            )
        if scope.cancelled_caught:
            return ImageResult(
                obj,
                Outcome.ERROR,
                match=match,
                error_code="CopyTimeout",
                error_message=f"copy did not finish within {grace} s",
                **common,
            )
        return ImageResult(obj, outcome, match=match, dest_key=key, **common)

    async def _detect(self, obj: S3Object) -> tuple[Detection, int] | ImageResult:
        """Call the detector, retrying throttling and transient failures with backoff."""
        config = self._config
        attempts = 0
        while True:
            attempts += 1
            try:
                detection = await self._detector.detect(
                    obj, min_confidence=config.min_confidence, max_labels=config.max_labels
                )
                if self._limiter is not None:
                    self._limiter.succeeded()
                return detection, attempts
            except (Throttled, TransientError) as exc:
                if isinstance(exc, Throttled):
                    self._ctl.record_throttle()
                    if self._limiter is not None:
                        self._limiter.throttled()
                if attempts >= config.max_attempts:
                    return ImageResult(
                        obj,
                        Outcome.ERROR,
                        error_code=exc.code,
                        error_message=f"{exc.message} (gave up after {attempts} attempts)",
                        attempts=attempts,
                    )
                await anyio.sleep(backoff_delay(attempts, config.retry_base_s, config.retry_cap_s))
                if self._limiter is not None:
                    await self._limiter.acquire()
            except ImageFailed as exc:
                return ImageResult(
                    obj,
                    Outcome.ERROR,
                    error_code=exc.code,
                    error_message=exc.message,
                    attempts=attempts,
                )
