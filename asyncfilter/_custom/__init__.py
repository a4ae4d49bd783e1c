"""Rekognition Custom Labels: train a model from a ledger, start it, stop it, guard its cost."""

from ._errors import CustomLabelsError, DatasetFailed, ModelNotRunning, TrainingFailed
from ._models import ModelState, check_model_running, model_states, start_model, stop_model
from ._pricing import PRICES, CustomLabelsPrices
from ._registry import Registry

__all__ = [
    "PRICES",
    "CustomLabelsError",
    "CustomLabelsPrices",
    "DatasetFailed",
    "ModelNotRunning",
    "ModelState",
    "Registry",
    "TrainingFailed",
    "check_model_running",
    "model_states",
    "start_model",
    "stop_model",
]
