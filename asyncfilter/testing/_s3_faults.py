"""A fault-injecting HTTP proxy in front of an S3 endpoint (moto, MinIO, ...).

It forwards every request as it is and, for a chosen share of ListObjectsV2 and CopyObject
requests, answers ``503 SlowDown`` instead, as S3 does under load. Point a client's S3
``endpoint_url`` at :meth:`S3FaultProxy.serve`'s URL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from ._emulator import _Serving

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}
)
_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class S3FaultSettings:
    list_slowdown_rate: float = 0.0
    copy_slowdown_rate: float = 0.0
    seed: int | None = None


class S3FaultProxy:
    """Forwards to ``upstream``; injects SlowDown on listings and copies."""

    def __init__(self, upstream: str, settings: S3FaultSettings | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.settings = settings or S3FaultSettings()
        self.injected = {"list": 0, "copy": 0}
        self.forwarded = 0
        self._rng = random.Random(self.settings.seed)
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.app.on_cleanup.append(self._cleanup)

    def serve(self, port: int = 0) -> _Serving:
        """An async context manager that listens on 127.0.0.1 and yields the endpoint URL."""
        return _Serving(self.app, port)

    def _fault(self, request: web.Request) -> str | None:
        s = self.settings
        if (
            request.method == "GET"
            and request.query.get("list-type") == "2"
            and self._rng.random() < s.list_slowdown_rate
        ):
            return "list"
        if (
            request.method == "PUT"
            and "x-amz-copy-source" in request.headers
            and self._rng.random() < s.copy_slowdown_rate
        ):
            return "copy"
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        fault = self._fault(request)
        if fault is not None:
            self.injected[fault] += 1
            return web.Response(status=503, body=_SLOWDOWN, content_type="application/xml")
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.rel_url.raw_path_qs, headers=headers, data=body
        ) as upstream:
            payload = await upstream.read()
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            self.forwarded += 1
            return web.Response(status=upstream.status, body=payload, headers=out_headers)

    async def _cleanup(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
