"""Work that must finish: shielded, with a deadline that starts only when the sweep ends.

A DetectLabels call already sent is paid for, a copy in flight must not be left half-done and a
decided outcome must be handed on: each runs in a shielded scope, so a stop or a cancellation
does not cut it short. The shield is bounded by a grace period (``call_grace_s``,
``copy_grace_s``) counted from the moment the sweep starts ending, as the configuration
documents, not from the moment the work began: so no timer is armed per image while the sweep
runs (most of what such a scope costs), and a slow call in a healthy sweep is left to the
client's own timeouts.

:meth:`Grace.begin` starts the periods: the engine calls it when a stop rule fires or its task
group is cancelled. Work started after that (the copy of an answer that came back after a stop)
gets a full period from its start.
"""

from __future__ import annotations

from types import TracebackType

import anyio


class Grace:
    """The shielded scopes of one sweep's unfinishable work, and when their periods start."""

    __slots__ = ("_began_at", "_open")

    def __init__(self) -> None:
        self._open: dict[anyio.CancelScope, float] = {}
        self._began_at: float | None = None

    @property
    def begun(self) -> bool:
        return self._began_at is not None

    def shielded(self, seconds: float) -> _Shielded:
        """A shielded scope that ends at most ``seconds`` after the sweep starts ending; its
        ``cancelled_caught`` says the period ran out."""
        return _Shielded(self, seconds)

    def begin(self) -> None:
        """The sweep is ending: every open scope gets its deadline (once; later calls do
        nothing)."""
        if self._began_at is not None:
            return
        self._began_at = now = anyio.current_time()
        for scope, seconds in list(self._open.items()):
            scope.deadline = now + seconds


class _Shielded:
    """:meth:`Grace.shielded`'s scope (a class, not a generator: it is entered per image)."""

    __slots__ = ("_grace", "_scope", "_seconds")

    def __init__(self, grace: Grace, seconds: float) -> None:
        self._grace = grace
        self._seconds = seconds
        self._scope = anyio.CancelScope(shield=True)

    def __enter__(self) -> anyio.CancelScope:
        grace, scope = self._grace, self._scope
        if grace._began_at is not None:  # begun: a full period from now
            scope.deadline = anyio.current_time() + self._seconds
        grace._open[scope] = self._seconds
        return scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        del self._grace._open[self._scope]
        return bool(self._scope.__exit__(exc_type, exc, tb))
