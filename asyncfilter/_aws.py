"""The one place where botocore's errors are read.

Everything else in asyncfilter works with :mod:`asyncfilter._errors`. Services call one of the
translators below in their ``except`` clause (:func:`detection_error`, :func:`copy_error`,
:func:`listing_error`) and raise what it returns ``from`` the botocore error, so no error code
is inspected anywhere else in the package.
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

from ._errors import (
    CredentialsError,
    DestinationError,
    ImageFailed,
    SourceError,
    Throttled,
    TransientError,
    Unreachable,
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


def _rejected(failure: Failure, service: str = "S3") -> CredentialsError | None:
    """The one line a credentials failure stops the sweep with, whichever call met it."""
    if failure.kind is Kind.CREDENTIALS:
        return CredentialsError(f"{service} rejected the credentials: {failure.message}")
    return None


#: Codes that mean this one object cannot be copied, not that the destination is unusable.
_PER_OBJECT_CODES = frozenset({"NoSuchKey", "InvalidObjectState", "ObjectNotInActiveTierError"})
_MISSING_BUCKET = frozenset({"NoSuchBucket", "404"})
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "403"})


def detection_error(exc: BaseException, service: str = "Rekognition") -> BaseException:
    """What a failed detector call means to the engine: retry, record, or stop."""
    failure = classify(exc)
    if failure is None:
        return exc
    if (rejected := _rejected(failure, service)) is not None:
        return rejected
    if failure.kind is Kind.THROTTLED:
        return Throttled(failure.code, failure.message)
    if failure.kind is Kind.UNREACHABLE:
        return Unreachable(failure.code, failure.message)
    if failure.kind is Kind.TRANSIENT:
        return TransientError(failure.code, failure.message)
    return ImageFailed(failure.code, failure.message)


def copy_error(exc: BaseException, dest_bucket: str) -> BaseException:
    """What a failed CopyObject or PutObject means: this image only, or the destination."""
    failure = classify(exc)
    if failure is None:
        return exc
    if (rejected := _rejected(failure)) is not None:
        return rejected
    if failure.code in _PER_OBJECT_CODES:
        return ImageFailed(failure.code, failure.message)
    if failure.kind in (Kind.TRANSIENT, Kind.THROTTLED, Kind.UNREACHABLE):
        # botocore has already retried these; the image is recorded as an error, not lost
        return TransientError(failure.code, failure.message)
    if failure.code in _MISSING_BUCKET:
        return DestinationError(f"destination bucket {dest_bucket!r} does not exist")
    if failure.code in _DENIED:
        return DestinationError(f"cannot write to destination bucket {dest_bucket!r}")
    return ImageFailed(failure.code, failure.message)


def listing_error(exc: BaseException, bucket: str) -> BaseException:
    """What a failed ListObjectsV2 page means: the listing cannot go on."""
    failure = classify(exc)
    if failure is None:
        return exc
    if (rejected := _rejected(failure)) is not None:
        return rejected
    if failure.code in _MISSING_BUCKET:
        return SourceError(f"source bucket {bucket!r} does not exist")
    if failure.code in _DENIED:
        return SourceError(f"no permission to list source bucket {bucket!r}: {failure.message}")
    return SourceError(f"listing s3://{bucket} failed: {failure.code}: {failure.message}")


class BucketCheck(Enum):
    """What a failed HeadBucket says about a bucket."""

    MISSING = "missing"
    DENIED = "denied"
    """A bare 403: no permission, or unknown credentials (a request with a body tells)."""
    OTHER = "other"


def bucket_check_error(exc: BaseException) -> tuple[BucketCheck, str] | BaseException:
    """Read a failed HeadBucket: credentials (returned as the error to raise), or what it
    says about the bucket, with a message."""
    failure = classify(exc)
    if failure is None:
        return exc
    if (rejected := _rejected(failure)) is not None:
        return rejected
    if failure.code in _MISSING_BUCKET:
        return BucketCheck.MISSING, failure.message
    if failure.code in _DENIED:
        return BucketCheck.DENIED, failure.message
    return BucketCheck.OTHER, f"{failure.code}: {failure.message}"


def credentials_error(exc: BaseException) -> CredentialsError | None:
    """The credentials error ``exc`` is, if it is one."""
    failure = classify(exc)
    return None if failure is None else _rejected(failure)


def source_read_error(exc: BaseException, what: str) -> BaseException:
    """What a failed read of a source's own files (an inventory's manifest or data) means."""
    failure = classify(exc)
    if failure is None:
        return exc
    if (rejected := _rejected(failure)) is not None:
        return rejected
    return SourceError(f"cannot read the inventory {what}: {failure.code}: {failure.message}")


def is_refusal(exc: BaseException) -> bool:
    """The service refused this one request for a reason of its own (no such key...)."""
    failure = classify(exc)
    return failure is not None and failure.kind is Kind.CLIENT
