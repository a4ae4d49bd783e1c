"""asyncfilter's exceptions, in one place.

The hierarchy::

    AsyncFilterError                 base of everything asyncfilter raises on purpose
    ├── ConfigError (ValueError)     bad configuration: nothing was listed or paid (CLI exit 2)
    └── SweepAborted                 the sweep cannot usefully go on (CLI exit 1)
        ├── CredentialsError         the service rejected who we are
        ├── SourceError              the source bucket is missing or cannot be listed
        ├── DestinationError         the destination is missing or not writable
        ├── ErrorRateExceeded        too many images failed (--max-error-rate)
        └── ServiceUnreachable       the service cannot be reached, or fails every call
    ExportError                      an export would break a training tool's limits
    ImageFailed                      one image failed (a signal to the engine, see below)
    ├── Throttled                    slow down and retry
    └── TransientError               retry: 5xx, reset, timeout
        └── Unreachable              no connection to the endpoint at all

Per-image failures are *not* exceptions of the public API: they become an ``error`` outcome in the
image's :class:`~asyncfilter.ImageResult`. The classes below the line are the vocabulary that
:class:`~asyncfilter.Detector` and :class:`~asyncfilter.Copier` implementations use to tell the
engine what kind of failure happened, so the engine can decide between "record and go on",
"retry" and "abort" without ever looking at a botocore error code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._results import Report


class AsyncFilterError(Exception):
    """Base class of every exception asyncfilter raises deliberately."""


class ConfigError(AsyncFilterError, ValueError):
    """The configuration is invalid; the message names the field and what is allowed."""


class SweepAborted(AsyncFilterError):
    """An error that makes the rest of the sweep pointless stopped it.

    ``report`` holds what was decided before the sweep stopped (``None`` when it never started).
    """

    report: Report | None = None


class CredentialsError(SweepAborted):
    """The credentials are missing, invalid or expired."""


class SourceError(SweepAborted):
    """The source bucket does not exist or cannot be listed."""


class DestinationError(SweepAborted):
    """The destination bucket does not exist or cannot be written."""


class ErrorRateExceeded(SweepAborted):
    """Too many of the recent images failed: the circuit breaker stopped the sweep."""


class ServiceUnreachable(SweepAborted):
    """The service cannot be reached (connection refused, DNS, no such endpoint), or every
    call since the start failed the same temporary way: going on would only pile up errors."""


# --- signals between services and the engine -------------------------------------------------


class ExportError(AsyncFilterError):
    """An export cannot be written as asked: a training tool's limit would be exceeded, or the
    output location cannot be written. Nothing is half-written when it is raised."""


class ImageFailed(AsyncFilterError):
    """This one image cannot be processed; record it and go on.

    ``code`` is the service's error code (``InvalidImageFormatException``, ``NoSuchKey``, ...),
    kept verbatim so that results can be grouped by it.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Throttled(ImageFailed):
    """The service asked us to slow down; the call may be retried after a pause."""


class TransientError(ImageFailed):
    """A failure that may go away on retry (5xx, connection reset, timeout)."""


class Unreachable(TransientError):
    """No connection to the endpoint could be made at all (refused, DNS, no route)."""
