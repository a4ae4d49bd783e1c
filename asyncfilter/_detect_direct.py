"""DetectLabels without botocore's request pipeline: one signed POST on the client's own pool.

Each call through aiobotocore runs some forty event handlers, rebuilds the User-Agent, resolves
the endpoint ruleset, validates and serialises against the service model and parses the answer
against it again: about 1 ms of client CPU per image, most of a core at 500 TPS. DetectLabels is
one small JSON POST whose answer is read as plain JSON, so this transport sends it itself:

- the body is serialised with orjson and signed (SigV4, :mod:`._sigv4`, checked against
  botocore's ``SigV4Auth``) with the client's credentials, refreshed as the client refreshes them;
- it is sent on the aiohttp session the client already holds, so the pool size, timeouts and
  TLS settings are the client's;
- failures are turned into the botocore exceptions aiobotocore raises for the same event (an
  error answer into a ``ClientError`` parsed as botocore parses JSON errors, socket failures
  into the same ``EndpointConnectionError``/``ReadTimeoutError``/...), and handed to
  :func:`~asyncfilter._aws.detection_error`, so they are classified in one place as before.
  Like the sweep's botocore client, it never retries: the engine does.

:func:`direct_detect_labels` builds one only for a client it fully understands (an aiohttp
session, SigV4, credentials, no proxy); for anything else it returns ``None`` and the caller
keeps botocore's path (:mod:`._direct_client`, shared with the direct listing); a test checks
that a sweep's client still qualifies, so an aiobotocore release that moves what is borrowed
fails a test rather than silently sending every call through botocore again.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import CancelledError
from typing import Any

import aiohttp
import orjson
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from ._aws import detection_error
from ._direct_client import borrow
from ._models import DETECT_LABELS, Detection, S3Object
from ._sigv4 import JsonPostSigner
from ._user_agent import direct_user_agent

_TARGET = "RekognitionService.DetectLabels"
_CONTENT_TYPE = "application/x-amz-json-1.1"
USER_AGENT = direct_user_agent("direct-detect-labels")
_HEADERS = {"X-Amz-Target": _TARGET, "Content-Type": _CONTENT_TYPE, "User-Agent": USER_AGENT}


class DirectDetectLabels:
    """DetectLabels by ``Image.S3Object`` on an aiobotocore client's session and credentials."""

    identity = DETECT_LABELS

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        signing_name: str,
        credentials: Any,
        http: Any,
    ) -> None:
        self._url = endpoint_url.rstrip("/") + "/"
        self._signer = JsonPostSigner(url=self._url, region=region, service=signing_name)
        self._credentials = credentials
        self._http = http  # aiobotocore's AIOHTTPSession: its aiohttp session is made lazily

    async def detect(
        self, obj: S3Object, *, min_confidence: float, max_labels: int | None
    ) -> Detection:
        params: dict[str, Any] = {
            "Image": {"S3Object": {"Bucket": obj.bucket, "Name": obj.key}},
            "MinConfidence": float(min_confidence),
        }
        if max_labels is not None:
            params["MaxLabels"] = max_labels
        status, headers, body = await self._post(orjson.dumps(params))
        if status >= 300:
            error = ClientError(parse_error(status, headers, body), "DetectLabels")
            raise detection_error(error) from error
        try:
            response = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as exc:
            # botocore would read it as an answer without labels; a body that is not JSON was
            # not read whole, so it is retried like a response cut short
            error = ResponseStreamingError(error=exc)
            raise detection_error(error) from exc
        return Detection.from_response(response)

    async def _post(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        frozen = await self._credentials.get_frozen_credentials()
        if frozen is None or frozen.access_key is None or frozen.secret_key is None:
            error = NoCredentialsError()
            raise detection_error(error) from error
        headers = self._signer.sign(
            _HEADERS,
            body,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
        )
        headers["Accept-Encoding"] = "identity"
        try:
            session = await self._http._get_session(None)
            async with session.post(self._url, data=body, headers=headers) as response:
                content = await response.read()
                return (
                    response.status,
                    {k.decode().lower(): v.decode() for k, v in response.raw_headers},
                    content,
                )
        except CancelledError:
            raise
        except Exception as exc:
            error = wire_error(exc, self._url)
            raise detection_error(error) from exc


def parse_error(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """An error answer as botocore's JSON protocol parser reads it (``_do_error_parse``)."""
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        parsed = {"message": body.decode("utf-8", "replace")}
    if not isinstance(parsed, dict):
        parsed = {}
    code = str(parsed.get("__type") or status)
    if ":" in code:
        code = code.split(":", 1)[0]
    if "#" in code:
        code = code.rsplit("#", 1)[1]
    metadata: dict[str, Any] = {"HTTPStatusCode": status, "HTTPHeaders": headers}
    request_id = headers.get("x-amzn-requestid") or headers.get("x-amz-request-id")
    if request_id:
        metadata["RequestId"] = request_id
    return {
        "Error": {"Code": code, "Message": str(parsed.get("message", parsed.get("Message", "")))},
        "ResponseMetadata": metadata,
    }


def wire_error(exc: BaseException, url: str) -> BaseException:
    """The botocore exception aiobotocore's ``AIOHTTPSession.send`` raises for ``exc``."""
    error: BaseException
    if isinstance(exc, aiohttp.ClientSSLError):
        error = SSLError(endpoint_url=url, error=exc)
    elif isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.http_exceptions.BadStatusLine,
    ):
        error = ConnectionClosedError(error=exc, request=None, endpoint_url=url)
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        if str(exc).lower().startswith("connect"):
            error = ConnectTimeoutError(endpoint_url=url, error=exc)
        else:
            error = ReadTimeoutError(endpoint_url=url, error=exc)
    elif isinstance(exc, aiohttp.ClientConnectionError | socket.gaierror):  # refused, reset...
        error = EndpointConnectionError(endpoint_url=url, error=exc)
    elif isinstance(exc, asyncio.TimeoutError):
        error = ReadTimeoutError(endpoint_url=url, error=exc)
    else:
        error = HTTPClientError(error=exc)
    return error


def direct_detect_labels(client: Any) -> DirectDetectLabels | None:
    """A direct transport on ``client``'s session and credentials, or ``None`` when ``client``
    is configured in a way this transport does not reproduce (then botocore's path is used)."""
    parts = borrow(
        client, service="rekognition", signature_versions=frozenset({"v4"}), protocol="json"
    )
    if parts is None:
        return None
    return DirectDetectLabels(
        endpoint_url=parts.meta.endpoint_url,
        region=parts.meta.region_name,
        signing_name=parts.meta.service_model.signing_name or "rekognition",
        credentials=parts.credentials,
        http=parts.http,
    )
