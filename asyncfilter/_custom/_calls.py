"""Calling Custom Labels: the client, and botocore's errors turned into asyncfilter's.

Control-plane calls (projects, data sets, training, start/stop) are rare and idempotent to
read, so the client keeps botocore's standard retries, unlike the sweep's DetectLabels client.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from botocore.exceptions import NoRegionError

from .._aws import Kind, classify
from .._clients import session_for
from .._errors import ConfigError, CredentialsError
from .._user_agent import USER_AGENT
from ._errors import CustomLabelsError

T = TypeVar("T")


async def open_rekognition(
    stack: AsyncExitStack,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    session: Any | None = None,
) -> Any:
    """A Rekognition client for Custom Labels, closed with ``stack``."""
    session = session if session is not None else session_for(profile=profile, region=region)
    config = AioConfig(
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "total_max_attempts": 5},
        user_agent_extra=USER_AGENT,
    )
    try:
        return await stack.enter_async_context(
            session.client("rekognition", endpoint_url=endpoint_url, config=config)
        )
    except NoRegionError as exc:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION") from exc


async def call(what: str, pending: Awaitable[T]) -> T:
    """Await one service call; a failure becomes :class:`CustomLabelsError` naming ``what``."""
    try:
        return await pending
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        if failure.kind is Kind.CREDENTIALS:
            raise CredentialsError(
                f"Rekognition rejected the credentials: {failure.message}"
            ) from exc
        if failure.kind is Kind.NO_REGION:
            raise ConfigError("no AWS region: pass --region or set AWS_REGION") from exc
        raise CustomLabelsError(
            f"{what}: {failure.code}: {failure.message}", code=failure.code
        ) from exc
