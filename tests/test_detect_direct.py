"""The direct DetectLabels transport answers and fails exactly as botocore's path does.

Every behaviour is run through both :class:`RekognitionDetector` paths against the same
emulator (real HTTP): the labels, and for each failure the asyncfilter error and code the
engine sees, which decide retries, throttling and stopping.
"""

from __future__ import annotations

import datetime
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
import pytest
from aiobotocore.config import AioConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from helpers import sign_as_botocore

from asyncfilter import (
    CredentialsError,
    Detection,
    ImageFailed,
    RekognitionDetector,
    S3Object,
    ScanConfig,
    Throttled,
    TransientError,
)
from asyncfilter._clients import make_session, open_rekognition
from asyncfilter._detect_direct import direct_detect_labels, parse_error
from asyncfilter._detection import install_direct_detection
from asyncfilter._errors import Unreachable
from asyncfilter._sigv4 import JsonPostSigner, host_header
from asyncfilter.testing import EmulatorSettings, LabelStore, RekognitionEmulator

LABELS = [
    {"Name": "Robin", "Confidence": 97.0, "Parents": [{"Name": "Bird"}]},
    {"Name": "Bird", "Confidence": 98.0},
    {"Name": "Branch", "Confidence": 60.0},
]
ROBIN = S3Object("bucket", "robin.jpg", 1000)
DENIED = S3Object("bucket", "denied.jpg", 1000)

Detectors = dict[str, RekognitionDetector]


@pytest.fixture
def emulator() -> RekognitionEmulator:
    store = LabelStore()
    store.extend(
        [
            {"key": "robin.jpg", "labels": LABELS},
            {"key": "denied.jpg", "error": "AccessDeniedException"},
        ]
    )
    return RekognitionEmulator(store, EmulatorSettings(check_objects=False))


async def _detectors(url: str, read_timeout: float = 5.0) -> AsyncIterator[Detectors]:
    """Both paths on clients configured as a sweep configures its own."""
    config = ScanConfig(
        source="s3://bucket",
        dest="s3://dest",
        labels=("Robin",),
        rekognition_endpoint_url=url,
        request_timeout_s=read_timeout,
    )
    async with AsyncExitStack() as stack:
        session = make_session(config)
        direct = await open_rekognition(stack, session, config)
        plain = await open_rekognition(stack, session, config, direct=False)
        detectors = {"botocore": RekognitionDetector(plain), "direct": RekognitionDetector(direct)}
        assert detectors["direct"]._direct is not None
        assert detectors["botocore"]._direct is None
        yield detectors


@pytest.fixture
async def detectors(emulator: RekognitionEmulator) -> AsyncIterator[Detectors]:
    async with emulator.serve() as url:
        async for pair in _detectors(url):
            yield pair


async def outcome(call: Callable[[], Awaitable[Detection]]) -> tuple[str, str | None]:
    """What the engine sees: the error's type and code (or the labels when it answers)."""
    try:
        detection = await call()
    except Exception as exc:
        return type(exc).__name__, getattr(exc, "code", None)
    return "answered", ",".join(label.name for label in detection.labels)


async def both(
    detectors: Detectors, obj: S3Object = ROBIN, **kwargs: Any
) -> dict[str, tuple[str, str | None]]:
    kwargs = {"min_confidence": 55.0, "max_labels": None, **kwargs}
    return {
        name: await outcome(lambda d=d: d.detect(obj, **kwargs))  # type: ignore[misc]
        for name, d in detectors.items()
    }


async def test_both_paths_give_the_same_labels_for_each_confidence_and_limit(
    detectors: Detectors,
) -> None:
    for kwargs in [{}, {"min_confidence": 97.5}, {"min_confidence": 0.0, "max_labels": 2}]:
        results = {
            name: await d.detect(ROBIN, **{"min_confidence": 55.0, "max_labels": None, **kwargs})
            for name, d in detectors.items()
        }
        assert results["direct"].labels == results["botocore"].labels
        assert results["direct"].model_version == results["botocore"].model_version
    assert [label.name for label in results["direct"].labels] == ["Bird", "Robin"]
    assert results["direct"].labels[1].parents == ("Bird",)


async def test_an_error_the_service_gives_for_one_image_fails_that_image_alike(
    detectors: Detectors,
) -> None:
    results = await both(detectors, DENIED)
    assert results["direct"] == results["botocore"] == ("ImageFailed", "AccessDeniedException")


async def test_throttling_beyond_the_quota_is_throttled_on_both_paths(
    detectors: Detectors, emulator: RekognitionEmulator
) -> None:
    emulator.settings.update({"tps": 0.001, "burst": 1.0})
    first = await both(detectors)  # one token: the first call of the two answers
    assert sorted(kind for kind, _ in first.values()) == ["Throttled", "answered"]
    again = await both(detectors)
    assert again["direct"] == again["botocore"] == ("Throttled", "ThrottlingException")


@pytest.mark.parametrize(
    ("code", "expected"),
    [("InternalServerError", "TransientError"), ("ProvisionedThroughputExceededException",
      "Throttled"), ("InvalidImageFormatException", "ImageFailed")],
)  # fmt: skip
async def test_injected_service_errors_are_classified_alike(
    detectors: Detectors, emulator: RekognitionEmulator, code: str, expected: str
) -> None:
    emulator.settings.update({"error_rate": 1.0, "error_code": code})
    results = await both(detectors)
    assert results["direct"] == results["botocore"] == (expected, code)


async def test_rejected_credentials_stop_the_sweep_on_both_paths(
    detectors: Detectors, emulator: RekognitionEmulator
) -> None:
    emulator.settings.update({"reject_access_keys": ["testing"]})
    for detector in detectors.values():
        with pytest.raises(CredentialsError, match="security token"):
            await detector.detect(ROBIN, min_confidence=55.0, max_labels=None)


@pytest.mark.parametrize("fault", ["reset_rate", "truncate_rate"])
async def test_a_dropped_or_cut_response_is_the_same_retryable_error(
    detectors: Detectors, emulator: RekognitionEmulator, fault: str
) -> None:
    emulator.settings.update({fault: 1.0})
    results = await both(detectors)
    assert results["direct"] == results["botocore"]
    kind = {"TransientError": TransientError, "Unreachable": Unreachable}[results["direct"][0]]
    assert issubclass(kind, TransientError)


async def test_a_stalled_answer_times_out_alike(emulator: RekognitionEmulator) -> None:
    emulator.settings.update({"hang_rate": 1.0, "hang_ms": 1500.0})
    async with emulator.serve() as url:
        async for detectors in _detectors(url, read_timeout=0.2):
            results = await both(detectors)
    assert results["direct"] == results["botocore"] == ("TransientError", "ReadTimeoutError")


async def test_an_endpoint_that_refuses_connections_is_unreachable_on_both_paths() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async for detectors in _detectors(f"http://127.0.0.1:{port}"):
        results = await both(detectors)
        with pytest.raises(Unreachable):
            await detectors["direct"].detect(ROBIN, min_confidence=55.0, max_labels=None)
    assert results["direct"] == results["botocore"] == ("Unreachable", "EndpointConnectionError")


def test_error_bodies_are_read_as_botocore_reads_json_errors() -> None:
    namespaced = parse_error(400, {}, b'{"__type": "com.amazon.coral#ThrottlingException"}')
    assert namespaced["Error"] == {"Code": "ThrottlingException", "Message": ""}
    lowercase = parse_error(400, {}, b'{"__type": "X:http://a", "message": "m"}')
    assert lowercase["Error"] == {"Code": "X", "Message": "m"}
    html = parse_error(502, {"x-amzn-requestid": "r1"}, b"<html>Bad Gateway</html>")
    assert html["Error"]["Code"] == "502"
    assert html["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert html["ResponseMetadata"]["RequestId"] == "r1"


def test_errors_the_engine_retries_are_subclasses_it_knows() -> None:
    assert issubclass(Throttled, ImageFailed)
    assert issubclass(Unreachable, TransientError)


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(
    "url",
    ["https://rekognition.eu-west-1.amazonaws.com/", "http://127.0.0.1:8123/", "http://[::1]:80/"],
)
def test_signatures_are_botocores(token: str | None, url: str) -> None:
    body = b'{"Image": {"S3Object": {"Bucket": "b", "Name": "k \\u00e9"}}, "MinConfidence": 55.0}'
    headers = {
        "X-Amz-Target": "RekognitionService.DetectLabels",
        "Content-Type": "application/x-amz-json-1.1",
        "User-Agent": "asyncfilter/test",
    }
    when = datetime.datetime(2026, 11, 28, 23, 59, 59, tzinfo=datetime.UTC)
    signer = JsonPostSigner(url=url, region="eu-west-1", service="rekognition")
    ours = signer.sign(headers, body, access_key="AKID", secret_key="SECRET", token=token, now=when)

    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    auth = SigV4Auth(ReadOnlyCredentials("AKID", "SECRET", token), "rekognition", "eu-west-1")
    sign_as_botocore(auth, request, when)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert host_header(url) in {"rekognition.eu-west-1.amazonaws.com", "127.0.0.1:8123", "[::1]"}
    # the signing key is derived once a day: the next day signs with the next key
    later = signer.sign(
        headers, body, access_key="AKID", secret_key="SECRET", token=token,
        now=when + datetime.timedelta(seconds=1),
    )  # fmt: skip
    assert "Credential=AKID/20261129/eu-west-1/rekognition/aws4_request" in later["Authorization"]


async def test_clients_the_caller_configures_otherwise_keep_botocores_path() -> None:
    session = aioboto3.Session()
    proxied = AioConfig(proxies={"http": "http://127.0.0.1:9", "https": "http://127.0.0.1:9"})
    async with (
        session.client("rekognition", endpoint_url="http://127.0.0.1:9", config=proxied) as a,
        session.client("s3", endpoint_url="http://127.0.0.1:9") as b,
        session.client("rekognition", endpoint_url="http://127.0.0.1:9") as c,
    ):
        assert direct_detect_labels(a) is None  # a proxy: botocore's
        assert direct_detect_labels(b) is None  # not Rekognition
        assert RekognitionDetector(c)._direct is None  # not installed: botocore's
        assert install_direct_detection(c)
        assert RekognitionDetector(c)._direct is not None
