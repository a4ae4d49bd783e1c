"""The command-line interface (``asyncfilter scan|emulator|demo``)."""

from ._main import cli, main

__all__ = ["cli", "main"]
