"""The library entry points: :func:`scan` and :func:`open_scan`.

They own the clients (or borrow the caller's), build the services, run the engine inside a task
group and translate its end into a :class:`Report` or an exception. No global state, no
``asyncio.run``, no signal handlers: a service can run many sweeps side by side.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from ._clients import (
    check_bucket,
    check_same_region,
    make_session,
    open_rekognition,
    open_s3,
)
from ._config import ScanConfig
from ._controller import Controller
from ._copying import Copier, S3Copier
from ._detection import Detector, RekognitionDetector, detector_identity
from ._engine import Emit, Engine
from ._errors import SweepAborted
from ._ledger import Ledger, endpoint_identity, sweep_id
from ._listing import Lister
from ._log import logger
from ._order import listing_figures, sweep_order
from ._results import ImageResult, Report, Stats, StopReason
from ._review_band import ReviewBand
from ._sources import make_lister, source_figures


class Sweep:
    """A running sweep: iterate it for results as they are decided, stop it, watch its stats."""

    def __init__(
        self, controller: Controller, results: MemoryObjectReceiveStream[ImageResult]
    ) -> None:
        self._ctl = controller
        self._results = results
        self._raised = False

    def __aiter__(self) -> Sweep:
        return self

    async def __anext__(self) -> ImageResult:
        try:
            try:
                return self._results.receive_nowait()  # no checkpoint while results wait
            except anyio.WouldBlock:
                return await self._results.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._raise_fatal()
            raise StopAsyncIteration from None

    def _raise_fatal(self) -> None:
        fatal = self._ctl.fatal
        if fatal is not None and not self._raised:
            self._raised = True
            fatal.report = self._ctl.report()
            raise fatal

    def request_stop(self) -> None:
        """Stop gracefully: nothing new starts; calls and copies in flight finish and are
        recorded. The stop reason is ``interrupted``."""
        self._ctl.stop(StopReason.INTERRUPTED)

    @property
    def stopping(self) -> bool:
        return self._ctl.stopping

    def stats(self) -> Stats:
        """The counters so far; cheap, for progress displays."""
        return self._ctl.stats()

    @property
    def report(self) -> Report:
        """The final report; available once the sweep has ended."""
        if self._ctl.stop_reason is None:
            raise RuntimeError("the sweep is still running; iterate it to the end first")
        return self._ctl.report()


@dataclass
class _Services:
    lister: Lister
    detector: Detector
    copier: Copier
    ledger: Ledger | None
    job: str
    prior_paid: int

    def engine(self, config: ScanConfig, controller: Controller, emit: Emit | None) -> Engine:
        return Engine(
            config,
            controller,
            lister=self.lister,
            detector=self.detector,
            copier=self.copier,
            emit=emit,
            ledger=self.ledger,
            job=self.job,
        )


@asynccontextmanager
async def _services(
    config: ScanConfig,
    *,
    session: Any | None,
    s3_client: Any | None,
    rekognition_client: Any | None,
    lister: Lister | None,
    detector: Detector | None,
    copier: Copier | None,
) -> AsyncIterator[_Services]:
    async with AsyncExitStack() as stack:
        # The ledger first: a locked or corrupt one must stop us before any client is made.
        ledger: Ledger | None = None
        job, prior_paid = sweep_id(config.identity), 0
        if config.state is not None:
            ledger = await Ledger.open(config.state)
            stack.push_async_callback(ledger.aclose)
            await ledger.describe_job(job, config.identity)
            prior_paid = await ledger.paid_calls(job)
        needs_s3 = lister is None or copier is None
        if needs_s3 and s3_client is None:
            session = session or make_session(config)
            s3_client = await open_s3(stack, session, config)
        if ledger is not None and s3_client is not None:
            await ledger.bind_endpoint(endpoint_identity(s3_client.meta.endpoint_url))
        if detector is None and rekognition_client is None:
            session = session or make_session(config)
            rekognition_client = await open_rekognition(stack, session, config)
        if needs_s3 and config.preflight:
            owner = config.expected_bucket_owner
            source_region = await check_bucket(
                s3_client, config.source.bucket, role="source", expected_owner=owner
            )
            if detector is None:
                check_same_region(config.source.bucket, source_region, rekognition_client)
            await check_bucket(
                s3_client, config.dest.bucket, role="destination", expected_owner=owner
            )
        yield _Services(
            lister or make_lister(config, s3_client),
            detector or RekognitionDetector(rekognition_client),
            copier or S3Copier(s3_client, expected_owner=config.expected_bucket_owner),
            ledger,
            job,
            prior_paid,
        )


async def scan(
    config: ScanConfig,
    *,
    on_result: Callable[[ImageResult], None] | None = None,
    session: Any | None = None,
    s3_client: Any | None = None,
    rekognition_client: Any | None = None,
    lister: Lister | None = None,
    detector: Detector | None = None,
    copier: Copier | None = None,
) -> Report:
    """Run one sweep to its end and return its report.

    Pass an aioboto3 ``session`` (or ready ``s3_client`` / ``rekognition_client``) to share a
    service's credentials and connection pools; pass ``lister``, ``detector`` or ``copier`` to
    replace a service entirely (tests, other sources). ``on_result`` is called with every decided
    image.

    Cancelling the calling task stops the sweep at once: nothing new starts, and calls and
    copies already in flight (paid for) finish within their grace and are recorded in the
    ledger. For a graceful stop that also returns a report, use :func:`open_scan` and
    :meth:`Sweep.request_stop`.

    Raises :class:`~asyncfilter.SweepAborted` (with ``.report``) when an error made the sweep
    pointless, :class:`~asyncfilter.ConfigError` when the AWS setup is unusable.
    """
    async with open_scan(
        config,
        session=session,
        s3_client=s3_client,
        rekognition_client=rekognition_client,
        lister=lister,
        detector=detector,
        copier=copier,
    ) as sweep:
        async for result in sweep:
            if on_result is not None:
                on_result(result)
    return sweep.report


@asynccontextmanager
async def open_scan(
    config: ScanConfig,
    *,
    session: Any | None = None,
    s3_client: Any | None = None,
    rekognition_client: Any | None = None,
    lister: Lister | None = None,
    detector: Detector | None = None,
    copier: Copier | None = None,
) -> AsyncIterator[Sweep]:
    """Run a sweep in the background and stream its results::

        async with open_scan(config) as sweep:
            async for result in sweep:
                ...
        print(sweep.report)

    Leaving the block early stops the sweep gracefully. The results stream is bounded: a
    consumer that stops reading slows the sweep down rather than filling memory.
    """
    try:
        async with (
            _services(
                config,
                session=session,
                s3_client=s3_client,
                rekognition_client=rekognition_client,
                lister=lister,
                detector=detector,
                copier=copier,
            ) as services,
            _running(config, services) as sweep,
        ):
            yield sweep
    except SweepAborted as exc:
        if exc.report is None:  # it stopped the sweep before anything was decided
            exc.report = Report(stats=Stats(), stop_reason=StopReason.ABORTED, error=str(exc))
        raise


@asynccontextmanager
async def _running(config: ScanConfig, services: _Services) -> AsyncIterator[Sweep]:
    ordered = sweep_order(services.lister, config)
    if ordered is not None:
        services.lister = ordered
    # the clock starts once the clients are ready
    controller = Controller(
        config,
        prior_paid=services.prior_paid,
        population=(lambda: ordered.eligible_keys) if ordered is not None else None,
    )
    if ordered is not None:
        controller.seed = ordered.seed
        controller.listing = lambda: listing_figures(ordered)
    controller.source = lambda: source_figures(services.lister)
    send, receive = anyio.create_memory_object_stream[ImageResult](config.effective_queue_size)
    band = ReviewBand(config, services.ledger) if config.review_threshold is not None else None

    async def hand_on(result: ImageResult) -> None:
        with contextlib.suppress(anyio.BrokenResourceError):
            await send.send(result)

    def emit(result: ImageResult) -> Awaitable[None] | None:
        if band is not None:
            band.see(result)
        try:
            send.send_nowait(result)  # at once when the consumer keeps up
        except anyio.WouldBlock:
            return hand_on(result)
        except anyio.BrokenResourceError:
            pass  # a consumer that left no longer reads; the controller counted it anyway
        return None

    engine = services.engine(config, controller, emit)

    async def run() -> None:
        async with send:
            logger.info("sweep.start", **_described(config, services))
            await engine.run()
            if band is not None and controller.fatal is None:
                try:
                    controller.review_manifest = await band.write(services.copier)
                except SweepAborted as exc:
                    controller.abort(exc)
            logger.info("sweep.summary", **controller.report().to_dict())

    sweep = Sweep(controller, receive)
    # An exception from the caller's block is held until the engine has wound down, then
    # re-raised as itself (not wrapped in an exception group by the task group).
    pending: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            yield sweep
        except Exception as exc:
            pending = exc
        finally:
            controller.stop(StopReason.INTERRUPTED)  # no-op when it already ended
            receive.close()
    if pending is not None:
        raise pending
    sweep._raise_fatal()


def _described(config: ScanConfig, services: _Services) -> dict[str, Any]:
    """The sweep's configuration for the start event: what and how, never credentials."""
    return {
        "source": str(config.source),
        "dest": str(config.dest),
        "labels": list(config.labels),
        "threshold": config.threshold,
        "review_threshold": config.review_threshold,
        "target": config.target,
        "max_scan": config.max_scan,
        "budget_usd": config.budget_usd,
        "tps": config.tps,
        "concurrency": config.concurrency,
        "state": config.state,
        "detector": detector_identity(services.detector),
        "prior_paid_calls": services.prior_paid,
    }
