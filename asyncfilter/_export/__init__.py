"""Exports: the sweep's copies as the manifests and label files training tools import.

The format names are importable at no cost (:data:`FORMAT_HELP`); the exporter, which needs the
AWS stack, is imported on first use.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports
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


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "FORMATS",
    "FORMAT_HELP",
    "ExportReport",
    "FormatReport",
    "ManifestLimits",
    "export",
    "size_from_header",
]
