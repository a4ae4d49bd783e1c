"""The exceptions of training and running Custom Labels models.

::

    SweepAborted
    └── CustomLabelsError          a Custom Labels call or state stops what was asked (exit 1)
        ├── ModelNotRunning        the model cannot answer: it is not RUNNING
        ├── TrainingFailed         training ended TRAINING_FAILED (the service's message)
        └── DatasetFailed          a data set ended CREATE_FAILED (the service's message)

Bad input (a label with no image, too few labels, an image too small) is a
:class:`~asyncfilter.ConfigError`, raised before anything is paid.
"""

from __future__ import annotations

from .._errors import SweepAborted


class CustomLabelsError(SweepAborted):
    """A Custom Labels call failed or a resource is not in the state asked for.

    ``code`` is the service's error code when the service refused a call, else ``None``.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ModelNotRunning(CustomLabelsError):
    """The model is not RUNNING, so DetectCustomLabels would fail (start it first)."""


class TrainingFailed(CustomLabelsError):
    """Training ended in TRAINING_FAILED; the message is the service's StatusMessage."""


class DatasetFailed(CustomLabelsError):
    """Creating a data set ended in CREATE_FAILED; the message is the service's StatusMessage."""
