"""The emulator speaks DetectLabels the way botocore expects it: a real client, real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import aioboto3
import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError
from conftest import DEFAULT_SETTINGS, STARTED_WITH

from asyncfilter.testing import (
    EmulatorProcess,
    EmulatorSettings,
    LabelStore,
    RekognitionEmulator,
    make_image,
)

LABELS = [
    {"Name": "Robin", "Confidence": 97.0, "Parents": [{"Name": "Bird"}]},
    {"Name": "Bird", "Confidence": 98.0},
    {"Name": "Branch", "Confidence": 60.0},
    {"Name": "Leaf", "Confidence": 40.0},
]


@pytest.fixture
def emulator() -> RekognitionEmulator:
    store = LabelStore()
    store.extend(
        [
            {"key": "robin.jpg", "labels": LABELS},
            {"bucket": "other", "key": "robin.jpg", "labels": []},
            {"key": "denied.jpg", "error": "AccessDeniedException"},
            {"sha256": hashlib.sha256(make_image(120, 90)).hexdigest(), "labels": LABELS[:1]},
            {"default": True, "labels": [{"Name": "Tree", "Confidence": 99.0}]},
        ]
    )
    return RekognitionEmulator(store, EmulatorSettings(check_objects=False))


@pytest.fixture
async def client(emulator: RekognitionEmulator) -> AsyncIterator[Any]:
    async with emulator.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        session = aioboto3.Session()
        config = AioConfig(retries={"total_max_attempts": 1})
        async with session.client("rekognition", endpoint_url=url, config=config) as rek:
            yield rek


def s3image(key: str, bucket: str = "bucket") -> dict[str, Any]:
    return {"S3Object": {"Bucket": bucket, "Name": key}}


async def test_default_min_confidence_is_55_and_labels_are_sorted(client: Any) -> None:
    response = await client.detect_labels(Image=s3image("robin.jpg"))
    assert [lb["Name"] for lb in response["Labels"]] == ["Bird", "Robin", "Branch"]
    assert response["Labels"][1]["Parents"] == [{"Name": "Bird"}]
    assert response["LabelModelVersion"]


async def test_min_confidence_and_max_labels(client: Any) -> None:
    response = await client.detect_labels(Image=s3image("robin.jpg"), MinConfidence=97.5)
    assert [lb["Name"] for lb in response["Labels"]] == ["Bird"]
    response = await client.detect_labels(Image=s3image("robin.jpg"), MinConfidence=0, MaxLabels=3)
    assert [lb["Name"] for lb in response["Labels"]] == ["Bird", "Robin", "Branch"]


async def test_lookup_by_bucket_by_content_and_default(client: Any) -> None:
    assert (await client.detect_labels(Image=s3image("robin.jpg", "other")))["Labels"] == []
    by_bytes = await client.detect_labels(Image={"Bytes": make_image(120, 90)})
    assert [lb["Name"] for lb in by_bytes["Labels"]] == ["Robin"]
    default = await client.detect_labels(Image=s3image("unknown.png"))
    assert [lb["Name"] for lb in default["Labels"]] == ["Tree"]


async def test_errors_reach_botocore_with_their_code(
    client: Any, emulator: RekognitionEmulator
) -> None:
    with pytest.raises(ClientError) as caught:
        await client.detect_labels(Image=s3image("denied.jpg"))
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert isinstance(caught.value, client.exceptions.AccessDeniedException)

    emulator.settings.update({"error_rate": 1.0})
    with pytest.raises(ClientError) as caught:
        await client.detect_labels(Image=s3image("robin.jpg"))
    assert caught.value.response["Error"]["Code"] == "InternalServerError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


async def test_quota_throttles_beyond_the_burst(client: Any, emulator: RekognitionEmulator) -> None:
    emulator.settings.update({"tps": 1.0, "burst": 2.0})
    codes = []
    for _ in range(4):
        try:
            await client.detect_labels(Image=s3image("robin.jpg"))
            codes.append("ok")
        except client.exceptions.ThrottlingException:
            codes.append("throttled")
    assert codes == ["ok", "ok", "throttled", "throttled"]
    assert emulator.stats.throttled == 2
    assert emulator.stats.answered == 2


async def test_rejected_access_key(client: Any, emulator: RekognitionEmulator) -> None:
    emulator.settings.update({"reject_access_keys": ["testing"]})
    with pytest.raises(ClientError) as caught:
        await client.detect_labels(Image=s3image("robin.jpg"))
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


async def test_counts_calls_per_object(client: Any, emulator: RekognitionEmulator) -> None:
    for _ in range(3):
        await client.detect_labels(Image=s3image("robin.jpg"))
    assert emulator.stats.calls_by_object["bucket/robin.jpg"] == 3
    assert emulator.stats.answered == 3


def test_malformed_labels_file_names_the_line(tmp_path: Any) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"key": "a.jpg", "labels": []}\n{"labels": [{"Confidence": 3}]}\n')
    with pytest.raises(ValueError, match=r"labels.jsonl:2: 'labels' must be a list"):
        LabelStore.from_file(path)


async def test_the_emulator_reads_a_local_s3_without_credentials_in_its_environment(
    moto: Any, s3: Any, buckets: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _ = buckets
    await s3.put_object(Bucket=source, Key="robin.jpg", Body=make_image(120, 90))
    store = LabelStore()
    store.extend([{"key": "robin.jpg", "labels": LABELS}])
    settings = EmulatorSettings(s3_endpoint_url=moto.endpoint_url)
    async with RekognitionEmulator(store, settings).serve() as url:
        config = AioConfig(retries={"total_max_attempts": 1})
        session = aioboto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)  # what the emulator's own S3 client sees
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        async with session.client("rekognition", endpoint_url=url, config=config) as rek:
            response = await rek.detect_labels(Image=s3image("robin.jpg", source))
    assert [lb["Name"] for lb in response["Labels"]][:2] == ["Bird", "Robin"]


def test_each_test_gets_an_emulator_with_every_setting_back_to_its_default(
    emulator_server: EmulatorProcess,
) -> None:
    # a test that injects hangs and truncations must not leave them to the next test
    emulator_server.configure(truncate_rate=0.5, hang_rate=0.5, hang_ms=10, latency_ms=5)
    restored = emulator_server.configure(**DEFAULT_SETTINGS)
    defaults = asdict(EmulatorSettings())
    assert {k: v for k, v in restored.items() if k not in STARTED_WITH} == {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in defaults.items()
        if k not in STARTED_WITH
    }
    assert restored["s3_endpoint_url"] is not None  # still reads the images from moto
