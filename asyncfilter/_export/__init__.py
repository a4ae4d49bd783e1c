"""Exports: the sweep's copies as the manifests and label files training tools import.

The format names are importable at no cost (:data:`FORMAT_HELP`); the exporter, which needs the
AWS stack, is imported on first use.
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._catalog import FORMAT_HELP

if _TYPE_CHECKING:
    from ._format import ManifestLimits
    from ._run import FORMATS, ExportReport, FormatReport, export
    from ._sizes import size_from_header

_LAZY = {
    "FORMATS": "._run",
    "ExportReport": "._run",
    "FormatReport": "._run",
    "export": "._run",
    "ManifestLimits": "._format",
    "size_from_header": "._sizes",
}


def __getattr__(name: str) -> _Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "FORMATS",
    "FORMAT_HELP",
    "ExportReport",
    "FormatReport",
    "ManifestLimits",
    "export",
    "size_from_header",
]
