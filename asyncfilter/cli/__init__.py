"""The ``asyncfilter`` command line: ``scan``, ``plan``, ``export``, and the local stand-ins to
try it without AWS (``playground``, ``emulator``, ``demo``)."""

from ._main import cli, main

__all__ = ["cli", "main"]
