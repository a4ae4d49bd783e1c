"""Long-lived aioboto3 clients, one per service, sized for the sweep's concurrency.

Creating a client costs ~200 ms and blocks the loop briefly, so a sweep makes each exactly once.
Rekognition's client has botocore's retries turned off: the engine retries itself, so that every
attempt passes the rate limiter and is counted. S3 keeps botocore's standard retries, which
already handle SlowDown and 5xx for ListObjectsV2 and CopyObject.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
import aiobotocore
from aiobotocore.config import AioConfig
from botocore.exceptions import NoRegionError, ProfileNotFound

from ._aws import BucketCheck, bucket_check_error, credentials_error
from ._config import ScanConfig
from ._detection import install_direct_detection
from ._endpoint_cache import cache_endpoint_resolution
from ._errors import ConfigError, DestinationError, SourceError, SweepAborted
from ._log import logger
from ._user_agent import USER_AGENT


def make_session(config: ScanConfig) -> Any:
    """The session a sweep with ``config`` uses (see :func:`session_for`)."""
    return session_for(profile=config.profile, region=config.region)


def region_from_env(region: str | None) -> str | None:
    """``region``, else ``AWS_REGION``: the variable the AWS CLI v2 and the other SDKs read
    first, which botocore ignores (it reads ``AWS_DEFAULT_REGION`` and the profile, as it
    still will when neither is given here)."""
    return region or os.environ.get("AWS_REGION") or None


def session_for(*, profile: str | None, region: str | None) -> Any:
    """An aioboto3 session from the config, falling back to the standard AWS chain.

    Its response parser leaves timestamps as text: botocore parses every ListObjectsV2
    ``LastModified`` with dateutil (~0.1 ms a key, a fifth of the sweep's own CPU per image),
    and nothing in a sweep reads them. Sessions passed in by a caller are left as they are.
    """
    try:
        session = aioboto3.Session(profile_name=profile, region_name=region_from_env(region))
    except ProfileNotFound as exc:
        raise ConfigError(f"AWS profile {profile!r} not found") from exc
    factory = session._session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=str)
    _share_loader(session._session)
    return session


#: botocore's data loaders by search path, shared by the sessions made here
_LOADERS: dict[tuple[str, ...], Any] = {}


def _share_loader(botocore_session: Any) -> None:
    """Give the session the data loader of an earlier session with the same search path.

    A loader caches the service models it has read, but each session makes its own, so every
    sweep re-read S3's model (~0.15 s of CPU before the first call); a process running several
    sweeps (a library user, the benchmarks) now reads it once."""
    loader = botocore_session.get_component("data_loader")
    key = tuple(getattr(loader, "search_paths", ()))
    shared = _LOADERS.setdefault(key, loader)
    if shared is not loader:
        botocore_session.register_component("data_loader", shared)


def _fixed_user_agent() -> str | None:
    """The User-Agent botocore would build, once.

    botocore rebuilds the header for every request (a quarter of a millisecond of CPU, to add
    which features the request used); a ``user_agent`` given in the config is sent as it is.
    So the sweep's clients are given this string, built once, without the per-request part.
    """
    try:
        from botocore.useragent import UserAgentString

        agent = UserAgentString.from_environment().set_session_config(
            session_user_agent_name="aiobotocore",
            session_user_agent_version=aiobotocore.__version__,
            session_user_agent_extra=None,
        )
        return str(agent.to_string())
    except Exception:  # another botocore: let it build its own, per request
        return None


FIXED_USER_AGENT = _fixed_user_agent()


def _client_config(config: ScanConfig, *, retries: dict[str, Any]) -> AioConfig:
    return AioConfig(
        user_agent=FIXED_USER_AGENT,
        # the workers' copies, the parallel listings (each range's page and the next one,
        # asked for ahead), and a few to spare
        max_pool_connections=config.concurrency + 2 * config.list_concurrency + 8,
        connect_timeout=10,
        read_timeout=config.request_timeout_s,
        retries=retries,
        user_agent_extra=USER_AGENT,
    )


async def open_s3(stack: AsyncExitStack, session: Any, config: ScanConfig) -> Any:
    """Open the sweep's S3 client on ``stack``."""
    cfg = _client_config(
        config, retries={"mode": "standard", "total_max_attempts": config.s3_max_attempts}
    )
    client = await _open(stack, session, "s3", config.s3_endpoint_url, cfg)
    cache_endpoint_resolution(client)  # one rule-set evaluation per bucket, not per object
    return client


async def open_plain_s3(
    stack: AsyncExitStack, session: Any, *, endpoint_url: str | None, pool: int = 24
) -> Any:
    """An S3 client for work outside a sweep (exports), with botocore's standard retries."""
    cfg = AioConfig(
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "total_max_attempts": 5},
        user_agent_extra=USER_AGENT,
    )
    return await _open(stack, session, "s3", endpoint_url, cfg)


async def _open(
    stack: AsyncExitStack, session: Any, service: str, endpoint_url: str | None, cfg: AioConfig
) -> Any:
    try:
        return await stack.enter_async_context(
            session.client(service, endpoint_url=endpoint_url, config=cfg)
        )
    except NoRegionError as exc:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION") from exc


async def open_rekognition(
    stack: AsyncExitStack, session: Any, config: ScanConfig, *, direct: bool = True
) -> Any:
    """Open the sweep's Rekognition client on ``stack``.

    With ``direct``, its DetectLabels calls skip botocore's request pipeline (a quarter of
    the CPU per call, see :func:`~asyncfilter._detection.install_direct_detection`)."""
    cfg = _client_config(config, retries={"total_max_attempts": 1})
    client = await _open(stack, session, "rekognition", config.rekognition_endpoint_url, cfg)
    if direct:
        install_direct_detection(client)
    return client


async def check_bucket(
    s3: Any, bucket: str, *, role: str, expected_owner: str | None = None
) -> str | None:
    """Fail fast, before anything is paid, when a bucket is missing or out of reach.

    Returns the bucket's region as S3 reports it (``None`` if it does not say).
    """
    error: type[SweepAborted] = SourceError if role == "source" else DestinationError
    kwargs = {"ExpectedBucketOwner": expected_owner} if expected_owner else {}
    try:
        response = await s3.head_bucket(Bucket=bucket, **kwargs)
    except Exception as exc:
        read = bucket_check_error(exc)
        if isinstance(read, BaseException):
            raise read from exc
        check, message = read
        if check is BucketCheck.MISSING:
            raise error(f"{role} bucket {bucket!r} does not exist") from exc
        if check is BucketCheck.DENIED:
            # S3 answers a HEAD with a bare 403 whatever the cause; a request with a body says
            # whether the key itself is unknown or only lacks the permission
            await _explain_forbidden(s3, bucket, kwargs)
            if role == "destination":
                # HeadBucket needs s3:ListBucket; a role may only PutObject there, which is all
                # a sweep needs: the first copy decides
                logger.warning(
                    "preflight.destination_unchecked",
                    bucket=bucket,
                    reason="HeadBucket was denied (no s3:ListBucket); the first copy will tell",
                )
                return None
            raise error(
                f"access to {role} bucket {bucket!r} denied (check credentials and permissions)"
            ) from exc
        raise error(f"cannot reach {role} bucket {bucket!r}: {message}") from exc
    region = response.get("BucketRegion") or response.get("ResponseMetadata", {}).get(
        "HTTPHeaders", {}
    ).get("x-amz-bucket-region")
    return str(region) if region else None


async def _explain_forbidden(s3: Any, bucket: str, kwargs: dict[str, str]) -> None:
    try:
        await s3.list_objects_v2(Bucket=bucket, MaxKeys=0, **kwargs)
    except Exception as exc:
        credentials = credentials_error(exc)
        if credentials is not None:
            raise credentials from exc


def check_same_region(bucket: str, bucket_region: str | None, rekognition: Any) -> None:
    """Refuse a source bucket that Rekognition cannot read: DetectLabels only reads S3 objects
    in its own region, and would otherwise fail every image with InvalidS3ObjectException,
    one paid-for-nothing call at a time."""
    region = getattr(getattr(rekognition, "meta", None), "region_name", None)
    if bucket_region and region and bucket_region != region:
        raise SourceError(
            f"source bucket {bucket!r} is in {bucket_region} but Rekognition is called in "
            f"{region}; DetectLabels reads only buckets in its own region "
            f"(pass --region {bucket_region})"
        )
