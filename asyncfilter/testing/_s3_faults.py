"""A fault-injecting HTTP proxy in front of an S3 endpoint (moto, MinIO, ...).

It forwards every request as it is, except the ones it is told to fail the way S3 fails them:
``503 SlowDown`` for a share of ListObjectsV2 and CopyObject requests (S3 under load) or for
every listing after the first few (a listing that fails for good), ``403 InvalidAccessKeyId``
for access keys it does not know (moto accepts any), and ``403 AccessDenied`` on HeadBucket and
ListObjectsV2 (credentials without ``s3:ListBucket``). Point a client's S3 ``endpoint_url`` at
:meth:`S3FaultProxy.serve`'s URL.
"""

from __future__ import annotations

import random
import re
from collections import Counter
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
_INVALID_KEY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidAccessKeyId</Code>'
    b"<Message>The AWS Access Key Id you provided does not exist in our records.</Message>"
    b"</Error>"
)
_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>"
)
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


@dataclass
class S3FaultSettings:
    list_slowdown_rate: float = 0.0
    copy_slowdown_rate: float = 0.0
    list_fail_after: int | None = None
    """Answer SlowDown to every ListObjectsV2 after this many have been forwarded."""
    access_keys: frozenset[str] | None = None
    """The only access key ids S3 knows; others get InvalidAccessKeyId. ``None``: any."""
    deny_list: bool = False
    """Answer AccessDenied to HeadBucket and ListObjectsV2, as S3 does without s3:ListBucket."""
    deny_list_buckets: frozenset[str] = frozenset()
    """The same, for these buckets only (a destination a role may only write to)."""
    seed: int | None = None


_FAULTS = {
    "list": (503, _SLOWDOWN),
    "copy": (503, _SLOWDOWN),
    "credentials": (403, _INVALID_KEY),
    "denied": (403, _ACCESS_DENIED),
}


def _kind(request: web.Request) -> str:
    if request.method == "GET" and request.query.get("list-type") == "2":
        return "list"
    if request.method == "HEAD" and request.path.strip("/").count("/") == 0:
        return "head-bucket"
    if request.method == "PUT":
        return "copy" if "x-amz-copy-source" in request.headers else "put"
    return "get" if request.method == "GET" else "other"


class S3FaultProxy:
    """Forwards to ``upstream``; injects SlowDown on listings and copies."""

    def __init__(self, upstream: str, settings: S3FaultSettings | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.settings = settings or S3FaultSettings()
        self.injected = {"list": 0, "copy": 0, "credentials": 0, "denied": 0}
        self.listed = 0
        self.forwarded = 0
        self.received: Counter[tuple[str, str | None]] = Counter()
        """Requests forwarded, by kind (``list``, ``head-bucket``, ``copy``, ``put``, ``get``,
        ``other``) and the ``x-amz-expected-bucket-owner`` they carried: what S3 was sent,
        whichever path (botocore's or a direct one) sent it."""
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
        if s.access_keys is not None:
            auth = _CREDENTIAL_RE.search(request.headers.get("Authorization", ""))
            if auth is None or auth.group(1) not in s.access_keys:
                return "credentials"
        listing = request.method == "GET" and request.query.get("list-type") == "2"
        head_bucket = request.method == "HEAD" and request.path.strip("/").count("/") == 0
        bucket = request.path.strip("/").split("/", 1)[0]
        denied = s.deny_list or bucket in s.deny_list_buckets
        if denied and (listing or head_bucket):
            return "denied"
        if listing and (
            (s.list_fail_after is not None and self.listed >= s.list_fail_after)
            or self._rng.random() < s.list_slowdown_rate
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
            status, body = _FAULTS[fault]
            if request.method == "HEAD":
                return web.Response(status=status)  # S3 sends no body to a HEAD
            return web.Response(status=status, body=body, content_type="application/xml")
        kind = _kind(request)
        if kind == "list":
            self.listed += 1
        self.received[kind, request.headers.get("x-amz-expected-bucket-owner")] += 1
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
