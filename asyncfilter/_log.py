"""The package's logger, which leaves every decision about output to the host.

structlog's defaults print to stdout, which a library must never do to its host. So while the
host has not configured structlog, events go to the standard library's ``asyncfilter`` logger,
which has a :class:`logging.NullHandler` and stays silent unless the host configures
``logging``; once the host (or asyncfilter's own CLI) configures structlog, its processors and
output decide. The choice is made per event, so configuring logging after import works.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

_stdlib = logging.getLogger("asyncfilter")
_stdlib.addHandler(logging.NullHandler())
_fallback = structlog.wrap_logger(
    _stdlib,
    processors=[
        structlog.stdlib.filter_by_level,
        structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=True),
    ],
    wrapper_class=structlog.stdlib.BoundLogger,
)


class _Logger:
    """Looks up the right target on each call; cheap when the level filters the event out."""

    __slots__ = ()

    def _target(self) -> Any:
        if structlog.is_configured():
            return structlog.get_logger("asyncfilter")
        return _fallback

    def debug_enabled(self) -> bool:
        """Whether debug events go anywhere: asked once per sweep, so that per-image events
        cost nothing when they would be dropped."""
        if structlog.is_configured():
            wrapper = structlog.get_config().get("wrapper_class")
            # structlog's filtering loggers make the levels below their minimum a no-op
            return getattr(getattr(wrapper, "debug", None), "__name__", "") != "_nop"
        return _stdlib.isEnabledFor(logging.DEBUG)

    def debug(self, event: str, **kw: Any) -> None:
        if structlog.is_configured():
            structlog.get_logger("asyncfilter").debug(event, **kw)
        elif _stdlib.isEnabledFor(logging.DEBUG):  # per-image events: skip the work when off
            _fallback.debug(event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._target().info(event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._target().warning(event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._target().error(event, **kw)


logger = _Logger()
