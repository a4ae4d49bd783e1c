"""What you need to test code that uses asyncfilter, with no AWS account.

- :class:`RekognitionEmulator`: DetectLabels over real HTTP, answering from a
  :class:`LabelStore`, with latency, a TPS quota and fault injection.
- :func:`emulator_process` and :func:`moto_server`: the emulator and moto's S3 server as child
  processes on free 127.0.0.1 ports.
- :class:`SyntheticS3` and :func:`synthetic_s3_server`: ListObjectsV2 over buckets of millions
  of generated keys, with S3's per-page latency, to measure listing at scale.
- :class:`FakeLister`, :class:`FakeDetector`, :class:`FakeCopier`: in-process fakes to pass to
  :func:`asyncfilter.scan`.
- :func:`make_image`: valid JPEG/PNG bytes.
"""

from ._emulator import EmulatorSettings, RekognitionEmulator
from ._fakes import FakeCopier, FakeDetector, FakeLister
from ._images import make_image
from ._labels import LabelStore
from ._s3_faults import S3FaultProxy, S3FaultSettings
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
from ._synthetic_s3 import SyntheticS3

__all__ = [
    "TEST_CREDENTIALS",
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
