"""What you need to test code that uses asyncfilter, with no AWS account.

- :class:`RekognitionEmulator`: DetectLabels over real HTTP, answering from a
  :class:`LabelStore`, with latency, a TPS quota and fault injection.
- :class:`CustomLabelsAdmin`: drive the emulator's Custom Labels (projects, training, models):
  durations, its clock, DetectCustomLabels answers.
- :func:`emulator_process` and :func:`moto_server`: the emulator and moto's S3 server as child
  processes on free 127.0.0.1 ports.
- :class:`S3FaultProxy`: SlowDown, denied listings and rejected keys in front of any S3.
- :class:`SyntheticS3` and :func:`synthetic_s3_server`: ListObjectsV2 over buckets of millions
  of generated keys, with S3's per-page latency, to measure listing at scale.
- :class:`FakeLister`, :class:`FakeDetector`, :class:`FakeCopier`: in-process fakes to pass to
  :func:`asyncfilter.scan`.
- :func:`make_image`: valid JPEG/PNG bytes.

The fakes, the labels store and the launchers import with the core dependencies alone; the
in-process servers (the emulator, the fault proxy) need aiohttp, from the ``emulator`` extra,
and are imported on first use.
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports
from ._custom_admin import CustomLabelsAdmin
from ._custom_state import CustomLabelsSettings
from ._fakes import FakeCopier, FakeDetector, FakeLister
from ._images import make_image
from ._labels import LabelStore
from ._servers import (
    TEST_CREDENTIALS,
    EmulatorProcess,
    MotoServer,
    SyntheticS3Server,
    emulator_process,
    free_port,
    moto_server,
    synthetic_s3_server,
)

if _TYPE_CHECKING:
    from ._emulator import EmulatorSettings, RekognitionEmulator
    from ._s3_faults import S3FaultProxy, S3FaultSettings
    from ._synthetic_s3 import SyntheticS3

_LAZY = {
    "EmulatorSettings": "._emulator",
    "RekognitionEmulator": "._emulator",
    "S3FaultProxy": "._s3_faults",
    "S3FaultSettings": "._s3_faults",
    "SyntheticS3": "._synthetic_s3",
}


__getattr__, __dir__ = _lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "TEST_CREDENTIALS",
    "CustomLabelsAdmin",
    "CustomLabelsSettings",
    "EmulatorProcess",
    "EmulatorSettings",
    "FakeCopier",
    "FakeDetector",
    "FakeLister",
    "LabelStore",
    "MotoServer",
    "RekognitionEmulator",
    "S3FaultProxy",
    "S3FaultSettings",
    "SyntheticS3",
    "SyntheticS3Server",
    "emulator_process",
    "free_port",
    "make_image",
    "moto_server",
    "synthetic_s3_server",
]
