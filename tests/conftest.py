"""Shared fixtures: real servers on 127.0.0.1, started once per session.

moto's S3 server and the Rekognition emulator each run in their own process; every test gets
fresh, uniquely named buckets and a reset emulator, so tests never see each other's data.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aioboto3
import pytest
import structlog

from asyncfilter import ScanConfig
from asyncfilter._custom._registry import Registry
from asyncfilter.testing import (
    TEST_CREDENTIALS,
    CustomLabelsAdmin,
    EmulatorProcess,
    EmulatorSettings,
    MotoServer,
    emulator_process,
    moto_server,
)

#: What the emulator was started with (its S3 endpoint, its seed) stays; every other setting
#: goes back to its default, so one test's injected faults (hangs, truncations...) never
#: reach the next test.
STARTED_WITH = ("s3_endpoint_url", "seed")
DEFAULT_SETTINGS: dict[str, Any] = {
    name: value for name, value in asdict(EmulatorSettings()).items() if name not in STARTED_WITH
}


def pytest_configure(config: pytest.Config) -> None:
    """A test run started in the background of a script ignores SIGINT, and so would every
    command a test starts (an ignored signal is inherited): the tests that press Ctrl-C at a
    child would wait forever. Children of the test run start with Python's default instead."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _aws_test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests must never see real credentials, reach AWS, or write ledgers outside tmp."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "ASYNCFILTER_"))}
    for name in saved:
        del os.environ[name]
    os.environ.update(TEST_CREDENTIALS)
    os.environ["ASYNCFILTER_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    yield
    for name in [*TEST_CREDENTIALS, "ASYNCFILTER_STATE_DIR"]:
        os.environ.pop(name, None)
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """The CLI configures structlog globally; give every test the defaults back."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def moto(_aws_test_environment: None) -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def emulator_server(moto: MotoServer) -> Iterator[EmulatorProcess]:
    with emulator_process(s3_endpoint_url=moto.endpoint_url) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorProcess) -> EmulatorProcess:
    """The session's emulator, with zeroed counts and default behaviour."""
    emulator_server.reset()
    emulator_server.configure(**DEFAULT_SETTINGS)
    return emulator_server


@pytest.fixture
async def s3(moto: MotoServer) -> AsyncIterator[Any]:
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=moto.endpoint_url) as client:
        yield client


@pytest.fixture
async def buckets(s3: Any) -> tuple[str, str]:
    """A fresh (source, destination) pair of buckets."""
    tag = uuid.uuid4().hex[:12]
    source, dest = f"src-{tag}", f"dst-{tag}"
    await s3.create_bucket(Bucket=source)
    await s3.create_bucket(Bucket=dest)
    return source, dest


@pytest.fixture
def config_for(moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]) -> Any:
    """Build a ScanConfig pointed at the local servers and this test's buckets."""
    source, dest = buckets

    def build(**overrides: Any) -> ScanConfig:
        values: dict[str, Any] = {
            "source": f"s3://{source}",
            "dest": f"s3://{dest}",
            "labels": ("Robin",),
            "tps": None,
            "concurrency": 8,
            "s3_endpoint_url": moto.endpoint_url,
            "rekognition_endpoint_url": emulator.endpoint_url,
            "retry_base_s": 0.01,
            "retry_cap_s": 0.05,
        }
        values.update(overrides)
        return ScanConfig(**values)

    return build


_SERVER_FIXTURES = frozenset({"moto", "emulator_server", "emulator", "s3", "buckets", "config_for"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start or use the real servers carry the ``servers`` marker, so that
    ``pytest -m "not servers"`` is a fast loop over the in-process tests."""
    for item in items:
        if _SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


# --- Custom Labels: the emulator's admin client, a Rekognition client, a model registry ------


@pytest.fixture
def admin(emulator: EmulatorProcess) -> CustomLabelsAdmin:
    """The emulator's Custom Labels admin (its clock and durations as the emulator starts)."""
    return CustomLabelsAdmin(emulator.endpoint_url)


@pytest.fixture
async def rek(emulator: EmulatorProcess) -> AsyncIterator[Any]:
    async with aioboto3.Session().client("rekognition", endpoint_url=emulator.endpoint_url) as c:
        yield c


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """A registry of started models of this test's own."""
    return Registry(tmp_path / "models.json")
