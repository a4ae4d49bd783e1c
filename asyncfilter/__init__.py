"""asyncfilter: keep only the images that really show what you want, where they live in S3.

The public API is everything named in ``__all__``; the modules behind it are private.
"""

from ._config import S3Location, ScanConfig
from ._copying import Copier, S3Copier
from ._detection import Detector, RekognitionDetector
from ._errors import (
    AsyncFilterError,
    ConfigError,
    CredentialsError,
    DestinationError,
    ErrorRateExceeded,
    ExportError,
    ImageFailed,
    SourceError,
    SweepAborted,
    Throttled,
    TransientError,
)
from ._estimate import Estimate
from ._export import FORMATS as EXPORT_FORMATS
from ._export import ExportReport, FormatReport, ManifestLimits, export
from ._forecast import Forecast
from ._listing import Lister, S3Lister
from ._models import BoundingBox, Detection, Instance, Label, S3Object
from ._order import RandomOrderLister
from ._results import ImageResult, Match, Outcome, Report, SkipReason, Stats, StopReason
from ._scan import Sweep, open_scan, scan

__version__ = "0.1.0.dev0"

__all__ = [
    "EXPORT_FORMATS",
    "AsyncFilterError",
    "BoundingBox",
    "ConfigError",
    "Copier",
    "CredentialsError",
    "DestinationError",
    "Detection",
    "Detector",
    "ErrorRateExceeded",
    "Estimate",
    "ExportError",
    "ExportReport",
    "Forecast",
    "FormatReport",
    "ImageFailed",
    "ImageResult",
    "Instance",
    "Label",
    "Lister",
    "ManifestLimits",
    "Match",
    "Outcome",
    "RandomOrderLister",
    "RekognitionDetector",
    "Report",
    "S3Copier",
    "S3Lister",
    "S3Location",
    "S3Object",
    "ScanConfig",
    "SkipReason",
    "SourceError",
    "Stats",
    "StopReason",
    "Sweep",
    "SweepAborted",
    "Throttled",
    "TransientError",
    "__version__",
    "export",
    "open_scan",
    "scan",
]
