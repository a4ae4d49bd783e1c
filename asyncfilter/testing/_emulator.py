"""A Rekognition DetectLabels emulator that speaks botocore's wire protocol over real HTTP.

It answers ``POST /`` with ``X-Amz-Target: RekognitionService.DetectLabels`` and an
``application/x-amz-json-1.1`` body, exactly what a real aioboto3/boto3 client sends, and returns
errors as ``{"__type": ..., "Message": ...}`` with the status the service uses. Point a client's
``endpoint_url`` at it and everything above the socket is the production code path.

Beyond answering from a :class:`LabelStore` it can behave like the service under load: latency
with jitter, a TPS quota enforced with ThrottlingException, injected 500s, and (by default) a
real read of the object from the S3 endpoint, so that missing objects, non-images, oversized
images and buckets in another region than the request was signed for fail the way they do in
AWS.

Admin endpoints (JSON): ``GET /_emulator/stats``, ``POST /_emulator/reset``,
``POST /_emulator/settings`` (partial :class:`EmulatorSettings`), ``POST /_emulator/labels``
(JSON Lines entries), ``GET /_emulator/health``.

Rekognition Custom Labels (projects, data sets, training, models, DetectCustomLabels) is answered
by :mod:`._custom_labels`, with its own admin endpoints under ``/_emulator/custom-labels/``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import json
import random
import re
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._custom_labels import TARGETS as CUSTOM_LABELS_TARGETS
from ._custom_labels import CustomLabelsService
from ._labels import LabelStore, filter_labels
from ._service_errors import ServiceError, check_image

MAX_S3_BYTES = 15 * 1024 * 1024
MAX_INLINE_BYTES = 5 * 1024 * 1024
LABEL_MODEL_VERSION = "3.0"
#: SigV4 credential scope: access key id, then date/region/service
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/")


@dataclass(slots=True)
class EmulatorSettings:
    """How the emulator behaves; every field can be changed at run time through the admin API."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    tps: float | None = None
    """Requests per second before ThrottlingException; ``None`` for no quota."""
    burst: float | None = None
    """Token-bucket depth for the quota; defaults to one second's worth."""
    error_rate: float = 0.0
    """Share of calls answered with an injected ``error_code`` (after the quota check)."""
    error_code: str = "InternalServerError"
    error_status: int | None = None
    """HTTP status of injected errors; default 500 for InternalServerError, else 400."""
    reset_rate: float = 0.0
    """Share of calls whose connection is dropped before any response (a reset)."""
    truncate_rate: float = 0.0
    """Share of calls whose response is cut off half-way and the socket closed."""
    hang_rate: float = 0.0
    """Share of calls answered only after ``hang_ms`` (longer than a client's read timeout)."""
    hang_ms: float = 5000.0
    check_objects: bool = True
    """Read each object from S3 to reject missing, non-image and oversized objects."""
    s3_endpoint_url: str | None = None
    reject_access_keys: tuple[str, ...] = ()
    """Access key ids answered with UnrecognizedClientException."""
    seed: int | None = None

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown emulator setting {name!r}")
            if name == "reject_access_keys":
                value = tuple(value)
            setattr(self, name, value)


@dataclass(slots=True)
class EmulatorStats:
    calls: int = 0
    answered: int = 0
    throttled: int = 0
    injected_errors: int = 0
    injected_resets: int = 0
    injected_truncations: int = 0
    injected_hangs: int = 0
    errors_by_code: Counter[str] = field(default_factory=Counter)
    calls_by_object: Counter[str] = field(default_factory=Counter)
    answered_by_object: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    first_call: float | None = None
    last_call: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "answered": self.answered,
            "throttled": self.throttled,
            "injected_errors": self.injected_errors,
            "injected_resets": self.injected_resets,
            "injected_truncations": self.injected_truncations,
            "injected_hangs": self.injected_hangs,
            "errors_by_code": dict(self.errors_by_code),
            "calls_by_object": dict(self.calls_by_object),
            "answered_by_object": dict(self.answered_by_object),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "first_call": self.first_call,
            "last_call": self.last_call,
        }


class _TokenBucket:
    def __init__(self, rate: float, depth: float) -> None:
        self.rate, self.depth = rate, depth
        self.tokens = depth
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.depth, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RekognitionEmulator:
    """The emulator as an aiohttp application; run it with :meth:`serve` or as a process.

    ::

        async with RekognitionEmulator(store, EmulatorSettings(latency_ms=200)).serve() as url:
            ...  # point a Rekognition client's endpoint_url at url
    """

    def __init__(self, store: LabelStore | None = None, settings: EmulatorSettings | None = None):
        self.store = store if store is not None else LabelStore()
        self.settings = settings if settings is not None else EmulatorSettings()
        self.stats = EmulatorStats()
        self._rng = random.Random(self.settings.seed)
        self._bucket: _TokenBucket | None = None
        self._bucket_key: tuple[float, float] | None = None
        self._s3: Any = None
        self._s3_endpoint: str | None = None
        self._bucket_regions: dict[str, str] = {}
        self._stack = AsyncExitStack()
        self.app = web.Application(client_max_size=8 * 1024 * 1024)
        self.app.router.add_post("/", self._handle)
        self.app.router.add_get("/_emulator/health", self._health)
        self.app.router.add_get("/_emulator/stats", self._stats)
        self.app.router.add_post("/_emulator/reset", self._reset)
        self.app.router.add_post("/_emulator/settings", self._settings)
        self.app.router.add_post("/_emulator/labels", self._labels)
        self.app.on_cleanup.append(self._cleanup)
        self.custom_labels = CustomLabelsService(self)
        self.custom_labels.register(self.app)

    def serve(self, port: int = 0) -> _Serving:
        """An async context manager that listens on 127.0.0.1 and yields the endpoint URL."""
        return _Serving(self.app, port)

    # --- admin ------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.to_dict())

    async def _reset(self, request: web.Request) -> web.Response:
        self.stats = EmulatorStats()
        self._bucket = None
        self._bucket_regions.clear()
        if request.query.get("labels"):
            self.store = LabelStore()
        self.custom_labels.reset(labels=bool(request.query.get("labels")))
        return web.json_response({"ok": True})

    async def _settings(self, request: web.Request) -> web.Response:
        changes = await request.json()
        try:
            self.settings.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if "seed" in changes:
            self._rng = random.Random(self.settings.seed)
        return web.json_response(dataclasses.asdict(self.settings))

    async def _labels(self, request: web.Request) -> web.Response:
        try:
            self.store.add_jsonl(await request.text(), source="request")
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    # --- DetectLabels -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        target = request.headers.get("X-Amz-Target", "")
        if target in CUSTOM_LABELS_TARGETS:
            return await self._custom_labels(request, target)
        if target != "RekognitionService.DetectLabels":
            return _error(ServiceError("UnknownOperationException", f"unsupported {target!r}"))
        stats = self.stats
        stats.calls += 1
        now = time.time()
        stats.first_call = stats.first_call or now
        stats.last_call = now
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            fault = await self._socket_fault(request, stats)
            if fault is not None:
                return fault
            body = await self._answer(request, stats)
        except ServiceError as exc:
            stats.errors_by_code[exc.code] += 1
            return _error(exc)
        finally:
            stats.in_flight -= 1
        stats.answered += 1
        return web.Response(
            body=json.dumps(body).encode(), content_type="application/x-amz-json-1.1"
        )

    async def _custom_labels(self, request: web.Request, target: str) -> web.Response:
        """Custom Labels operations, answered by :class:`CustomLabelsService`."""
        auth = _CREDENTIAL_RE.search(request.headers.get("Authorization", ""))
        try:
            body = await self.custom_labels.handle(
                request, target, (auth.group(2) if auth else "") or "us-east-1"
            )
        except ServiceError as exc:
            return _error(exc)
        return web.Response(
            body=json.dumps(body).encode(), content_type="application/x-amz-json-1.1"
        )

    async def _socket_fault(
        self, request: web.Request, stats: EmulatorStats
    ) -> web.StreamResponse | None:
        """Misbehave below the protocol: drop the connection, cut a response short, or stall."""
        settings, rng = self.settings, self._rng
        transport = request.transport
        if settings.reset_rate and rng.random() < settings.reset_rate and transport is not None:
            stats.injected_resets += 1
            transport.abort()
            return web.Response(status=500)  # never sent: the socket is gone
        if settings.truncate_rate and rng.random() < settings.truncate_rate:
            stats.injected_truncations += 1
            response = web.StreamResponse(
                status=200, headers={"Content-Type": "application/x-amz-json-1.1"}
            )
            response.content_length = 4096
            await response.prepare(request)
            await response.write(b'{"Labels": [{"Name": "Ro')
            if request.transport is not None:
                request.transport.abort()
            return response
        if settings.hang_rate and rng.random() < settings.hang_rate:
            stats.injected_hangs += 1
            await asyncio.sleep(settings.hang_ms / 1000.0)
        return None

    async def _answer(self, request: web.Request, stats: EmulatorStats) -> dict[str, Any]:
        # `stats` is the object this call was counted in: a call that outlives a reset (a stall)
        # must not leak into the counts of whatever runs after the reset
        settings = self.settings
        auth = _CREDENTIAL_RE.search(request.headers.get("Authorization", ""))
        if auth and auth.group(1) in settings.reject_access_keys:
            raise ServiceError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        try:
            params = json.loads(await request.read())
        except ValueError:
            raise ServiceError("SerializationException", "request body is not JSON") from None
        if self._throttle():
            stats.throttled += 1
            raise ServiceError("ThrottlingException", "Rate exceeded")
        if settings.error_rate and self._rng.random() < settings.error_rate:
            stats.injected_errors += 1
            status = settings.error_status or (
                500 if settings.error_code == "InternalServerError" else 400
            )
            raise ServiceError(settings.error_code, "Injected by the emulator", status)
        if settings.latency_ms or settings.jitter_ms:
            delay = self._rng.uniform(
                settings.latency_ms - settings.jitter_ms, settings.latency_ms + settings.jitter_ms
            )
            await asyncio.sleep(max(0.0, delay) / 1000.0)

        min_conf = float(params.get("MinConfidence", 55.0))
        max_labels = params.get("MaxLabels")
        if not 0 <= min_conf <= 100 or (max_labels is not None and int(max_labels) < 0):
            raise ServiceError(
                "InvalidParameterException", "MinConfidence or MaxLabels out of range"
            )
        region = auth.group(2) if auth else None
        bucket, key, content = await self._image(params.get("Image") or {}, region)
        name = f"{bucket}/{key}"
        stats.calls_by_object[name] += 1
        sha = hashlib.sha256(content).hexdigest() if content is not None else None
        answer = self.store.lookup(bucket, key, sha)
        if answer.error:
            raise ServiceError(answer.error, answer.message or f"{answer.error} for {key}")
        if content is not None:
            check_image(content)
        stats.answered_by_object[name] += 1
        labels = filter_labels(answer.labels, min_conf, max_labels)
        return {"Labels": labels, "LabelModelVersion": LABEL_MODEL_VERSION}

    def _throttle(self) -> bool:
        tps = self.settings.tps
        if tps is None:
            return False
        depth = self.settings.burst or max(1.0, tps)
        if self._bucket is None or self._bucket_key != (tps, depth):
            self._bucket, self._bucket_key = _TokenBucket(tps, depth), (tps, depth)
        return not self._bucket.take()

    async def _image(
        self, image: dict[str, Any], region: str | None
    ) -> tuple[str, str, bytes | None]:
        """Resolve ``Image`` to (bucket, key, bytes-or-None) the way the service would."""
        if "Bytes" in image:
            try:
                content = base64.b64decode(image["Bytes"], validate=True)
            except (binascii.Error, ValueError):
                raise ServiceError("InvalidImageFormatException", "Invalid image bytes") from None
            if len(content) > MAX_INLINE_BYTES:
                raise ServiceError("ImageTooLargeException", "Image size is too large.")
            return "", hashlib.sha256(content).hexdigest(), content
        s3obj = image.get("S3Object")
        if not s3obj or "Bucket" not in s3obj or "Name" not in s3obj:
            raise ServiceError("InvalidParameterException", "Image needs S3Object or Bytes")
        bucket, key = str(s3obj["Bucket"]), str(s3obj["Name"])
        if not self.settings.check_objects:
            return bucket, key, None  # answers by content hash then need inline Bytes
        return bucket, key, await self._read_object(bucket, key, region)

    async def _bucket_region(self, s3: Any, bucket: str) -> str | None:
        if bucket not in self._bucket_regions:
            try:
                location = await s3.get_bucket_location(Bucket=bucket)
            except Exception as exc:
                if type(exc).__name__ == "ClientError":
                    return None  # missing bucket: the object read below says so
                raise
            self._bucket_regions[bucket] = location.get("LocationConstraint") or "us-east-1"
        return self._bucket_regions[bucket]

    async def _read_object(self, bucket: str, key: str, region: str | None) -> bytes:
        s3 = await self._s3_client()
        missing = ServiceError(
            "InvalidS3ObjectException",
            "Unable to get object metadata from S3. Check object key, region and/or access "
            "permissions.",
        )
        # Rekognition reads S3 only in its own region: a bucket elsewhere looks missing
        if region and (await self._bucket_region(s3, bucket)) not in (None, region):
            raise missing
        try:
            head = await s3.head_object(Bucket=bucket, Key=key)
            if int(head.get("ContentLength", 0)) > MAX_S3_BYTES:
                raise ServiceError("ImageTooLargeException", "Image size is too large.")
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as stream:
                content: bytes = await stream.read()
        except ServiceError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "ClientError":
                raise missing from None
            raise
        return content

    async def _s3_client(self) -> Any:
        endpoint = self.settings.s3_endpoint_url
        if self._s3 is None or self._s3_endpoint != endpoint:
            import aioboto3
            from aiobotocore.config import AioConfig

            session = aioboto3.Session()
            if endpoint and not await session._session.get_credentials():
                # a local S3 stand-in (moto, MinIO...) with nothing in the environment: the
                # emulator is a stand-in too, so it signs with dummy keys rather than fail
                session = aioboto3.Session(
                    aws_access_key_id="testing", aws_secret_access_key="testing"
                )
            self._s3 = await self._stack.enter_async_context(
                session.client(
                    "s3",
                    endpoint_url=endpoint,
                    region_name=session.region_name or "us-east-1",
                    config=AioConfig(max_pool_connections=64),
                )
            )
            self._s3_endpoint = endpoint
        return self._s3

    async def _cleanup(self, app: web.Application) -> None:
        await self._stack.aclose()


def _error(exc: ServiceError) -> web.Response:
    return web.Response(
        status=exc.status,
        body=json.dumps({"__type": exc.code, "Message": exc.message}).encode(),
        content_type="application/x-amz-json-1.1",
        headers={"x-amzn-ErrorType": exc.code},
    )


class _Serving:
    """Serve an aiohttp application on 127.0.0.1 for an ``async with`` block; yields its URL."""

    def __init__(self, app: web.Application, port: int) -> None:
        self._app = app
        self._port = port
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> str:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
