"""Opening a review: the ledger locked, the band counted, the worker and the server running.

Everything it starts lives in one task group and one ``async with``: leaving the block stops
the server, lets the move in flight finish, and closes the ledger (releasing its lock).
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from aiohttp import web

from .._clients import session_for
from .._config import S3Location
from .._copying import Copier, S3Copier
from .._errors import ConfigError
from .._ledger import Ledger
from ._groups import collect_groups
from ._misses import collect_misses
from ._places import PlaceResolver
from ._server import Signer, review_app
from ._store import ReviewStore
from ._worker import Applier

OUTCOMES = ("review", "hit", "miss")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


async def open_s3_for_review(
    stack: AsyncExitStack, session: Any, *, endpoint_url: str | None, region: str | None = None
) -> Any:
    """An S3 client that signs URLs with SigV4 (what every region accepts, up to 7 days)."""
    from aiobotocore.config import AioConfig

    config = AioConfig(
        signature_version="s3v4",
        max_pool_connections=16,
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "total_max_attempts": 5},
    )
    client = session.client("s3", endpoint_url=endpoint_url, config=config, region_name=region)
    return await stack.enter_async_context(client)


@dataclass(slots=True)
class Review:
    """An open review: its app, where it is served, and the parts tests and services use."""

    app: web.Application
    token: str
    store: ReviewStore
    applier: Applier
    url: str | None = None
    """``http://HOST:PORT/?token=...`` when served, else ``None`` (the caller mounts ``app``)."""


@asynccontextmanager
async def open_review(
    state: str | Path,
    *,
    outcome: str = "review",
    name: str | None = None,
    dest: str | S3Location | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    serve: bool = True,
    token: str | None = None,
    url_expires_s: int = 900,
    page_size: int = 50,
    s3_client: Any | None = None,
    session: Any | None = None,
    copier: Copier | None = None,
    region: str | None = None,
    profile: str | None = None,
    s3_endpoint_url: str | None = None,
    expected_bucket_owner: str | None = None,
) -> AsyncIterator[Review]:
    """Open the review of the ledger at ``state``: its ``outcome`` band (``review``; ``hit``
    to spot-check hits; ``miss`` to hunt false negatives among the misses whose stored answer
    holds a wanted label below the band, or its broader label, shown from the source), one
    class ``name`` or all.
    ``dest`` is where accepted images go (default: the destination the ledger's sweeps
    recorded for their class).

    With ``serve`` the page is served on ``host:port`` (a free port for 0) and
    :attr:`Review.url` is the address to open; without, mount :attr:`Review.app` yourself.
    Raises :class:`~asyncfilter.ConfigError` for bad input, and when the ledger is in use by a
    sweep or another review.
    """
    if outcome not in OUTCOMES:
        raise ConfigError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if not isinstance(url_expires_s, int) or not 1 <= url_expires_s <= 7 * 24 * 3600:
        raise ConfigError(f"url_expires_s must be 1 to 604800 seconds, got {url_expires_s!r}")
    if not isinstance(page_size, int) or not 1 <= page_size <= 200:
        raise ConfigError(f"page_size must be 1 to 200, got {page_size!r}")
    if not await (await anyio.Path(state).expanduser()).is_file():
        raise ConfigError(f"no ledger at {state}: pass the --state file of the sweep to review")
    override = S3Location.parse(dest, what="destination") if isinstance(dest, str) else dest
    if host not in LOCAL_HOSTS:
        warnings.warn(
            f"the review page is served on {host}, reachable from other machines; anyone with "
            "the printed URL (it holds the token) can change verdicts",
            UserWarning,
            stacklevel=3,
        )
    token = token or secrets.token_urlsafe(24)
    async with AsyncExitStack() as stack:
        ledger = await Ledger.open(state)  # its lock refuses a second review or a sweep
        stack.push_async_callback(ledger.aclose)
        db = ledger.connection
        async with db.execute("SELECT description FROM jobs") as cur:
            descriptions = [str(row[0]) for row in await cur.fetchall()]
        groups = await collect_groups(db)
        note = None
        if outcome == "miss":
            note = (await collect_misses(db, descriptions, name)).note
        names, total, done = await ReviewStore.survey(db, outcome, name)
        resolver = PlaceResolver.from_jobs(
            descriptions, names if outcome != "hit" else (), override
        )
        store = ReviewStore(db, resolver, outcome, name)
        store.names, store.total, store.done = names, total, done
        store.groups, store.note = groups, note
        regional: Callable[[str], Awaitable[Any]] | None = None
        if s3_client is None:
            session = session or session_for(profile=profile, region=region)
            s3_client = await open_s3_for_review(stack, session, endpoint_url=s3_endpoint_url)
            clients: dict[str, Any] = {}

            async def regional_client(bucket_region: str) -> Any:
                if bucket_region not in clients:
                    clients[bucket_region] = await open_s3_for_review(
                        stack, session, endpoint_url=s3_endpoint_url, region=bucket_region
                    )
                return clients[bucket_region]

            regional = regional_client
        copier = copier or S3Copier(s3_client, expected_owner=expected_bucket_owner)
        applier = Applier(store, copier)
        signer = Signer(s3_client, url_expires_s, regional)
        app = review_app(store, applier, signer, token=token, page_size=page_size)
        review = Review(app, token, store, applier)
        if serve:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0]
            shown = f"[{host}]" if ":" in host else host
            review.url = f"http://{shown}:{bound[1]}/?token={token}"
        # An exception from the caller's block is re-raised as itself once the worker has
        # stopped (after the move in flight), not wrapped in an exception group.
        pending: Exception | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(applier.run)
            try:
                yield review
            except Exception as exc:
                pending = exc
            finally:
                tg.cancel_scope.cancel()
        if pending is not None:
            raise pending
