"""Logging for the command line: readable on a terminal, JSON lines elsewhere, never secrets."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

_SECRET_KEYS = re.compile(r"secret|token|password|credential|authorization", re.IGNORECASE)
_SECRET_VALUES = re.compile(r"(?i)(aws_secret_access_key|aws_session_token)\s*[=:]\s*\S+")


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values whose names suggest a secret, and scrub ``key=secret`` pairs from text."""
    for name in list(event):
        if _SECRET_KEYS.search(name):
            event[name] = "[redacted]"
        elif isinstance(event[name], str):
            event[name] = _SECRET_VALUES.sub(r"\1=[redacted]", event[name])
    return event


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    """Configure structlog for the CLI; the library itself never configures logging.

    structlog is imported here, when a command runs, not with the CLI (a tenth of a second
    that ``asyncfilter --help`` does not need)."""
    import structlog

    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # resolve sys.stderr when a logger is made, not now, so a swapped stream is honoured
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
