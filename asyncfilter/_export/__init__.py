"""Exports: the sweep's copies as the manifests and label files training tools import."""

from ._format import ManifestLimits
from ._run import FORMATS, ExportReport, FormatReport, export
from ._sizes import size_from_header

__all__ = [
    "FORMATS",
    "ExportReport",
    "FormatReport",
    "ManifestLimits",
    "export",
    "size_from_header",
]
