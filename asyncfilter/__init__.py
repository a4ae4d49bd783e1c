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
from ._export import FORMATS as EXPORT_FORMATS
from ._export import ExportReport, FormatReport, ManifestLimits, export
from ._inventory import InventoryLister, InventoryManifest
from ._listing import Lister, S3Lister
from ._listing_parallel import ListingStats, ParallelS3Lister
from ._models import BoundingBox, Detection, Instance, Label, S3Object
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
    "ExportError",
    "ExportReport",
    "FormatReport",
    "ImageFailed",
    "ImageResult",
    "Instance",
    "InventoryLister",
    "InventoryManifest",
    "Label",
    "Lister",
    "ListingStats",
    "ManifestLimits",
    "Match",
    "Outcome",
    "ParallelS3Lister",
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
