"""asyncfilter: keep only the images that really show what you want, where they live in S3.

The public API is everything named in ``__all__``; the modules behind it are private.

The data types, the configuration and the exceptions are imported at once; what needs the AWS
stack (aioboto3, botocore, aiohttp: most of a second to import) is imported the first time it
is used, so that ``asyncfilter --help`` and a program that only builds a configuration start
fast.
"""

from importlib import import_module as _import_module
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

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
    from .review import Review, open_review

try:
    __version__ = _version("asyncfilter")
except _PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

#: Public names imported on first use: ``name -> (module, attribute)``.
_LAZY = {
    "Copier": ("._copying", "Copier"),
    "S3Copier": ("._copying", "S3Copier"),
    "CustomLabelsDetector": ("._detection_custom", "CustomLabelsDetector"),
    "check_model_running": ("._detection_custom", "check_model_running"),
    "CustomLabelsError": ("._custom._errors", "CustomLabelsError"),
    "DatasetFailed": ("._custom._errors", "DatasetFailed"),
    "ModelNotRunning": ("._custom._errors", "ModelNotRunning"),
    "TrainingFailed": ("._custom._errors", "TrainingFailed"),
    "CustomLabelsPrices": ("._custom._pricing", "CustomLabelsPrices"),
    "ModelState": ("._custom._models", "ModelState"),
    "model_states": ("._custom._models", "model_states"),
    "start_model": ("._custom._models", "start_model"),
    "stop_model": ("._custom._models", "stop_model"),
    "TrainingPlan": ("._custom._training", "TrainingPlan"),
    "plan_training": ("._custom._training", "plan_training"),
    "run_training": ("._custom._training", "run_training"),
    "TrainingResult": ("._custom._evaluation", "TrainingResult"),
    "follow_training": ("._custom._evaluation", "follow_training"),
    "Detector": ("._detection", "Detector"),
    "RekognitionDetector": ("._detection", "RekognitionDetector"),
    "EXPORT_FORMATS": ("._export", "FORMATS"),
    "ExportReport": ("._export", "ExportReport"),
    "FormatReport": ("._export", "FormatReport"),
    "ManifestLimits": ("._export", "ManifestLimits"),
    "export": ("._export", "export"),
    "LedgerError": ("._ledger", "LedgerError"),
    "Lister": ("._listing", "Lister"),
    "S3Lister": ("._listing", "S3Lister"),
    "RandomOrderLister": ("._order", "RandomOrderLister"),
    "InventoryLister": ("._inventory", "InventoryLister"),
    "InventoryManifest": ("._inventory", "InventoryManifest"),
    "ListingStats": ("._listing_parallel", "ListingStats"),
    "ParallelS3Lister": ("._listing_parallel", "ParallelS3Lister"),
    "NearDuplicateGroup": ("._near_duplicates", "NearDuplicateGroup"),
    "NearDuplicatesReport": ("._near_duplicates", "NearDuplicatesReport"),
    "ReadEstimate": ("._near_duplicates", "ReadEstimate"),
    "find_near_duplicates": ("._near_duplicates", "find_near_duplicates"),
    "split_keeping_groups": ("._near_groups", "split_keeping_groups"),
    "Plan": ("._plan", "Plan"),
    "plan": ("._plan", "plan"),
    "Sweep": ("._scan", "Sweep"),
    "open_scan": ("._scan", "open_scan"),
    "scan": ("._scan", "scan"),
    "Review": (".review", "Review"),
    "open_review": (".review", "open_review"),
}


def __getattr__(name: str) -> _Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'asyncfilter' has no attribute {name!r}") from None
    value = getattr(_import_module(module, __name__), attribute)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
