"""The review page's HTTP side: a static page and a small JSON API, on aiohttp.web.

Images never pass through here: each item carries a presigned GET URL signed locally (no AWS
call, nothing secret in it but a signature), and the page asks ``/api/url`` for a fresh one
when an image fails to load. Every ``/api/`` request must carry the per-run token in the
``X-Review-Token`` header, so nothing but the page from the printed URL can read the band or
change a verdict (403 otherwise); the static files hold no data.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from .._clients import check_bucket
from .._errors import AsyncFilterError, ConfigError
from ._store import ORDERS, Decision, ReviewStore
from ._worker import Applier

TOKEN_HEADER = "X-Review-Token"
MAX_PAGE = 200
MAX_BATCH = 500
_STATIC = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/app.css": ("app.css", "text/css"),
}
_CSP = (
    "default-src 'self'; img-src 'self' http: https:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass(slots=True)
class ServerStats:
    """What the page asked for; tests read it to see a refresh actually happened."""

    pages: int = 0
    url_refreshes: int = 0
    decisions: int = 0


class Signer:
    """Presigned GET URLs from an aiobotocore S3 client: computed locally, no request sent.

    A SigV4 URL names its region, and S3 refuses one signed for another. So the first URL for
    a bucket asks where that bucket is (one HeadBucket per bucket per run) and, when it is not
    the client's region, signs with a client of its own region from ``regional``.
    """

    def __init__(
        self,
        s3: Any,
        expires_s: int,
        regional: Callable[[str], Awaitable[Any]] | None = None,
    ) -> None:
        self._s3 = s3
        self.expires_s = expires_s
        self._regional = regional
        self._by_bucket: dict[str, Any] = {}

    async def _client(self, bucket: str) -> Any:
        client = self._by_bucket.get(bucket)
        if client is None:
            client = self._s3
            if self._regional is not None:
                try:
                    region = await check_bucket(self._s3, bucket, role="destination")
                except AsyncFilterError:
                    region = None  # sign with the default client: the image will say
                home = getattr(getattr(self._s3, "meta", None), "region_name", None)
                if region and region != home:
                    client = await self._regional(region)
            self._by_bucket[bucket] = client
        return client

    async def url(self, bucket: str, key: str) -> str:
        client = await self._client(bucket)
        url: str = await client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self.expires_s
        )
        return url


STATS = web.AppKey("stats", ServerStats)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def review_app(
    store: ReviewStore, applier: Applier, signer: Signer, *, token: str, page_size: int = 50
) -> web.Application:
    """The review page as an aiohttp application (:func:`asyncfilter.open_review` builds and
    serves it, or hands it over with ``serve=False`` to be mounted with ``add_subapp``).
    ``applier`` must be running (``await applier.run()`` in the caller's task group)."""
    stats = ServerStats()

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if "/api/" in request.path:  # (the app may be mounted under a prefix)
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _json({"error": "missing or wrong review token"}, status=403)
            try:
                answer: web.StreamResponse = await handler(request)
                return answer
            except ConfigError as exc:
                return _json({"error": str(exc)}, status=400)
        response: web.StreamResponse = await handler(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def static(name: str, kind: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = resources.files(__package__).joinpath("static", name).read_bytes()
            return web.Response(
                body=body, content_type=kind, charset="utf-8", headers={"Cache-Control": "no-store"}
            )

        return handler

    def counts() -> dict[str, int]:
        return {"total": store.total, "done": store.done, "left": store.total - store.done}

    async def info(request: web.Request) -> web.Response:
        return _json(
            {
                "outcome": store.outcome,
                "name": store.name,
                "names": store.names,
                "note": store.note,
                "groups": store.groups,
                # misses are walked most promising first; a band in the ledger's order
                "focus_order": "confidence" if store.outcome == "miss" else "key",
                "page_size": page_size,
                "url_expires_s": signer.expires_s,
                **counts(),
            }
        )

    async def items(request: web.Request) -> web.Response:
        query = request.query
        order = query.get("order", "key")
        if order not in ORDERS:
            raise ConfigError(f"order must be one of {', '.join(ORDERS)}")
        try:
            limit = min(max(int(query.get("limit", page_size)), 1), MAX_PAGE)
            after = orjson.loads(query["after"]) if query.get("after") else None
        except ValueError:
            raise ConfigError("limit must be a number and after a cursor from /api/items") from None
        if after is not None and not isinstance(after, list):
            raise ConfigError("after must be a cursor from /api/items")
        found, cursor = await store.page(
            after=after, order=order, limit=limit, pending=query.get("pending", "1") == "1"
        )
        for item in found:
            item["url"] = await signer.url(*item.pop("at"))
        stats.pages += 1
        return _json({"items": found, "next": cursor, **counts()})

    async def fresh_url(request: web.Request) -> web.Response:
        bucket, key = request.query.get("bucket", ""), request.query.get("key", "")
        at = await store.location(bucket, key)
        if at is None:
            return _json({"error": f"s3://{bucket}/{key} is not in this review"}, status=404)
        stats.url_refreshes += 1
        return _json({"url": await signer.url(*at)})

    async def group(request: web.Request) -> web.Response:
        try:
            group_id = int(request.query["id"])
        except (KeyError, ValueError):
            raise ConfigError("id must be a group id from /api/items") from None
        members = await store.group(group_id, MAX_PAGE)
        for member in members:
            member["url"] = await signer.url(*member.pop("at"))
        return _json({"id": group_id, "members": members})

    async def decide(request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
            raw = body["decisions"]
            if not isinstance(raw, list) or not 0 < len(raw) <= MAX_BATCH:
                raise ValueError
            decisions = [
                Decision(str(d["id"]), str(d["bucket"]), str(d["key"]), str(d["decision"]))
                for d in raw
            ]
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                'body must be {"decisions": [{"id", "bucket", "key", "decision"}, ...]} '
                f"with 1 to {MAX_BATCH} decisions"
            ) from None
        results = await store.decide(decisions)  # committed before we answer
        applier.wake()
        stats.decisions += len(decisions)
        return _json({"results": results, **counts()})

    async def status(request: web.Request) -> web.Response:
        return _json(
            {
                "pending_moves": len(await store.moves()),
                "moved": applier.stats.moved,
                "failures": applier.stats.failures,
                "pages": stats.pages,
                "url_refreshes": stats.url_refreshes,
                "decisions": stats.decisions,
                **counts(),
            }
        )

    app = web.Application(middlewares=[guard], client_max_size=1024**2)
    app[STATS] = stats
    for path, (name, kind) in _STATIC.items():
        app.router.add_get(path, static(name, kind))
    app.router.add_get("/api/info", info)
    app.router.add_get("/api/items", items)
    app.router.add_get("/api/url", fresh_url)
    app.router.add_get("/api/group", group)
    app.router.add_post("/api/decisions", decide)
    app.router.add_get("/api/status", status)
    return app
