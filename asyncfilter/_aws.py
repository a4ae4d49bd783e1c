"""The one place where botocore's errors are read.

Everything else in asyncfilter works with :mod:`asyncfilter._errors`. Services call
:func:`classify` in their ``except`` clause and raise asyncfilter's own exception ``from`` the
botocore one, so no error code is inspected anywhere else in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "AuthFailure",
        "InvalidToken",
    }
)
THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TooManyRequestsException",
        "Throttling",
        "SlowDown",
        "RequestLimitExceeded",
    }
)
TRANSIENT_CODES = frozenset(
    {"InternalServerError", "InternalError", "ServiceUnavailable", "RequestTimeout"}
)


class Kind(Enum):
    """What a failure means for the sweep."""

    CREDENTIALS = "credentials"
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    CLIENT = "client"
    """The service refused this request for a reason of its own (bad object, no such key...)."""
    NO_REGION = "no_region"
    UNREACHABLE = "unreachable"
    """No connection could be made to the endpoint (refused, DNS, no route): temporary only
    if the service has answered before."""


@dataclass(frozen=True, slots=True)
class Failure:
    kind: Kind
    code: str
    message: str
    status: int | None = None


def classify(exc: BaseException) -> Failure | None:
    """Say what a botocore/aiobotocore exception means, or ``None`` if it is not one."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "Unknown")
        message = str(err.get("Message") or code)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in CREDENTIAL_CODES:
            kind = Kind.CREDENTIALS
        elif code in THROTTLE_CODES or status == 429:
            kind = Kind.THROTTLED
        elif code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            kind = Kind.TRANSIENT
        else:
            kind = Kind.CLIENT
        return Failure(kind, code, message, status)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return Failure(Kind.CREDENTIALS, type(exc).__name__, str(exc))
    if isinstance(exc, NoRegionError):
        return Failure(Kind.NO_REGION, type(exc).__name__, str(exc))
    if isinstance(exc, EndpointConnectionError):
        return Failure(Kind.UNREACHABLE, type(exc).__name__, str(exc))
    if isinstance(
        exc, BotoConnectionError | HTTPClientError | ReadTimeoutError | ResponseStreamingError
    ):
        return Failure(Kind.TRANSIENT, type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError):
        return Failure(Kind.CLIENT, type(exc).__name__, str(exc))
    # aiohttp can leak its own errors through aiobotocore when a socket dies mid-response
    if type(exc).__module__.startswith("aiohttp") or isinstance(
        exc, ConnectionError | TimeoutError
    ):
        return Failure(Kind.TRANSIENT, type(exc).__name__, str(exc) or type(exc).__name__)
    return None
