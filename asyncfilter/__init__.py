"""asyncfilter: keep only the images that really show what you want, where they live in S3.

The public API is everything named in ``__all__``; the modules behind it are private.

The data types, the configuration and the exceptions are imported at once; what needs the AWS
stack (aioboto3, botocore, aiohttp: most of a second to import) is imported the first time it
is used, so that ``asyncfilter --help`` and a program that only builds a configuration start
fast.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._config import S3Location, ScanConfig
from ._errors import (
    AsyncFilterError,
    ConfigError,
    CredentialsError,
    DestinationError,
    ErrorRateExceeded,
    ExportError,
    ImageFailed,
    ServiceUnreachable,
    SourceError,
    SweepAborted,
    Throttled,
    TransientError,
)
from ._estimate import Estimate
from ._forecast import Forecast
from ._lazy import lazy_exports as _lazy_exports
from ._models import BoundingBox, Detection, Instance, Label, S3Object
from ._pricing import PriceTable
from ._results import ImageResult, Match, Outcome, Report, SkipReason, Stats, StopReason

if _TYPE_CHECKING:
    from ._copying import Copier, S3Copier
    from ._custom._errors import CustomLabelsError, DatasetFailed, ModelNotRunning, TrainingFailed
    from ._custom._evaluation import TrainingResult, follow_training
    from ._custom._models import ModelState, model_states, start_model, stop_model
    from ._custom._pricing import CustomLabelsPrices
    from ._custom._training import TrainingPlan, plan_training, run_training
    from ._detection import Detector, RekognitionDetector
    from ._detection_custom import CustomLabelsDetector, check_model_running
    from ._export import FORMATS as EXPORT_FORMATS
    from ._export import ExportReport, FormatReport, ManifestLimits, export
    from ._inventory import InventoryLister, InventoryManifest
    from ._ledger import LedgerError
    from ._listing import Lister, S3Lister
    from ._listing_parallel import ListingStats, ParallelS3Lister
    from ._near_duplicates import (
        NearDuplicateGroup,
        NearDuplicatesReport,
        ReadEstimate,
        find_near_duplicates,
    )
    from ._near_groups import split_keeping_groups
    from ._order import RandomOrderLister
    from ._plan import Plan, plan
    from ._scan import Sweep, open_scan, scan
    from ._version import __version__
    from .review import Review, open_review

#: Public names imported on first use: ``name -> module`` (``(module, attribute)`` if renamed).
_LAZY: dict[str, str | tuple[str, str]] = {
    "__version__": "._version",
    "Copier": "._copying",
    "S3Copier": "._copying",
    "CustomLabelsDetector": "._detection_custom",
    "check_model_running": "._detection_custom",
    "CustomLabelsError": "._custom._errors",
    "DatasetFailed": "._custom._errors",
    "ModelNotRunning": "._custom._errors",
    "TrainingFailed": "._custom._errors",
    "CustomLabelsPrices": "._custom._pricing",
    "ModelState": "._custom._models",
    "model_states": "._custom._models",
    "start_model": "._custom._models",
    "stop_model": "._custom._models",
    "TrainingPlan": "._custom._training",
    "plan_training": "._custom._training",
    "run_training": "._custom._training",
    "TrainingResult": "._custom._evaluation",
    "follow_training": "._custom._evaluation",
    "Detector": "._detection",
    "RekognitionDetector": "._detection",
    "EXPORT_FORMATS": ("._export", "FORMATS"),
    "ExportReport": "._export",
    "FormatReport": "._export",
    "ManifestLimits": "._export",
    "export": "._export",
    "LedgerError": "._ledger",
    "Lister": "._listing",
    "S3Lister": "._listing",
    "RandomOrderLister": "._order",
    "InventoryLister": "._inventory",
    "InventoryManifest": "._inventory",
    "ListingStats": "._listing_parallel",
    "ParallelS3Lister": "._listing_parallel",
    "NearDuplicateGroup": "._near_duplicates",
    "NearDuplicatesReport": "._near_duplicates",
    "ReadEstimate": "._near_duplicates",
    "find_near_duplicates": "._near_duplicates",
    "split_keeping_groups": "._near_groups",
    "Plan": "._plan",
    "plan": "._plan",
    "Sweep": "._scan",
    "open_scan": "._scan",
    "scan": "._scan",
    "Review": ".review",
    "open_review": ".review",
}


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "EXPORT_FORMATS",
    "AsyncFilterError",
    "BoundingBox",
    "ConfigError",
    "Copier",
    "CredentialsError",
    "CustomLabelsDetector",
    "CustomLabelsError",
    "CustomLabelsPrices",
    "DatasetFailed",
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
    "InventoryLister",
    "InventoryManifest",
    "Label",
    "LedgerError",
    "Lister",
    "ListingStats",
    "ManifestLimits",
    "Match",
    "ModelNotRunning",
    "ModelState",
    "NearDuplicateGroup",
    "NearDuplicatesReport",
    "Outcome",
    "ParallelS3Lister",
    "Plan",
    "PriceTable",
    "RandomOrderLister",
    "ReadEstimate",
    "RekognitionDetector",
    "Report",
    "Review",
    "S3Copier",
    "S3Lister",
    "S3Location",
    "S3Object",
    "ScanConfig",
    "ServiceUnreachable",
    "SkipReason",
    "SourceError",
    "Stats",
    "StopReason",
    "Sweep",
    "SweepAborted",
    "Throttled",
    "TrainingFailed",
    "TrainingPlan",
    "TrainingResult",
    "TransientError",
    "__version__",
    "check_model_running",
    "export",
    "find_near_duplicates",
    "follow_training",
    "model_states",
    "open_review",
    "open_scan",
    "plan",
    "plan_training",
    "run_training",
    "scan",
    "split_keeping_groups",
    "start_model",
    "stop_model",
]
