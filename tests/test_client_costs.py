"""What the sweep's clients no longer redo per request or per sweep: endpoint resolution per
object (only what the rules read is passed, so botocore's cache hits per bucket), the
User-Agent per request, and the service models per session."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import botocore.session
import pytest
from botocore.endpoint_provider import EndpointProvider
from helpers import unique

import asyncfilter
from asyncfilter import S3Object, ScanConfig
from asyncfilter._clients import make_session, open_s3
from asyncfilter._copying import S3Copier
from asyncfilter._endpoint_cache import cache_endpoint_resolution, unreferenced_parameters
from asyncfilter.testing import MotoServer


def _client(**kwargs: Any) -> Any:
    session = botocore.session.get_session()
    return session.create_client("s3", aws_access_key_id="a", aws_secret_access_key="b", **kwargs)


def test_the_parameters_dropped_are_optional_ones_no_rule_reads() -> None:
    ruleset = _client(region_name="us-east-1")._ruleset_resolver._provider.ruleset
    unused = unreferenced_parameters(ruleset)
    assert {"Key", "CopySource"} <= unused
    assert not unused & {"Bucket", "Region", "Endpoint", "ForcePathStyle", "UseFIPS"}


@pytest.mark.parametrize(
    "kwargs",
    [{"region_name": "eu-west-1"}, {"region_name": "us-east-1", "endpoint_url": "http://h:9"}],
)
def test_endpoints_are_the_same_with_and_without_the_cache(kwargs: dict[str, Any]) -> None:
    plain, cached = _client(**kwargs), _client(**kwargs)
    assert cache_endpoint_resolution(cached)
    assert not cache_endpoint_resolution(cached)  # once is enough
    for bucket in ["simple", "with.dots", "arn:aws:s3:eu-west-1:123456789012:accesspoint/ap"]:
        for key in ["a.jpg", "deep/é key+%.png"]:
            params = {"Bucket": bucket, "Key": key, "CopySource": f"src/{key}"}
            model = plain.meta.service_model.operation_model("CopyObject")
            want = plain._resolve_endpoint_ruleset(model, params, {})
            got = cached._resolve_endpoint_ruleset(model, params, {})
            assert got == want


def test_object_keys_no_longer_reach_the_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    original = EndpointProvider.resolve_endpoint

    def spy(self: Any, **params: Any) -> Any:
        calls.append(params)
        return original(self, **params)

    monkeypatch.setattr(EndpointProvider, "resolve_endpoint", spy)
    client = _client(region_name="us-east-1")
    assert cache_endpoint_resolution(client)
    model = client.meta.service_model.operation_model("CopyObject")
    for key in ["a", "b"]:
        client._resolve_endpoint_ruleset(
            model, {"Bucket": "b", "Key": key, "CopySource": "s/k"}, {}
        )
    assert len(calls) == 2
    assert calls[0] == calls[1]  # the same arguments for every object: botocore's cache hits
    assert "Key" not in calls[0]
    assert "CopySource" not in calls[0]
    assert calls[0]["Bucket"] == "b"


async def test_a_sweeps_s3_client_copies_with_the_cache(moto: MotoServer, s3: Any) -> None:
    source, dest = f"src-{unique()}", f"dst-{unique()}"
    await s3.create_bucket(Bucket=source)
    await s3.create_bucket(Bucket=dest)
    keys = ["a.jpg", "deep/é key+%.png"]
    for key in keys:
        await s3.put_object(Bucket=source, Key=key, Body=b"x")
    config = ScanConfig(
        source=f"s3://{source}", dest=f"s3://{dest}", labels=("Robin",),
        s3_endpoint_url=moto.endpoint_url,
    )  # fmt: skip
    async with AsyncExitStack() as stack:
        client = await open_s3(stack, make_session(config), config)
        assert "resolve_endpoint" in vars(client._ruleset_resolver._provider)
        copier = S3Copier(client)
        for key in keys:
            await copier.copy(S3Object(source, key, 1), dest, f"robin/{key}")
    listed = await s3.list_objects_v2(Bucket=dest)
    assert sorted(o["Key"] for o in listed["Contents"]) == [f"robin/{k}" for k in sorted(keys)]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_the_sweeps_clients_send_a_user_agent_built_once(moto: MotoServer) -> None:
    from asyncfilter._clients import FIXED_USER_AGENT

    config = ScanConfig(
        source="s3://src-bucket", dest="s3://dst-bucket", labels=("Robin",),
        s3_endpoint_url=moto.endpoint_url,
    )  # fmt: skip
    sent: list[str] = []
    async with AsyncExitStack() as stack:
        client = await open_s3(stack, make_session(config), config)

        def note(request: Any, **_: Any) -> None:
            sent.append(_text(request.headers["User-Agent"]))

        client.meta.events.register("before-send.s3.*", note)
        await client.list_buckets()
        await client.list_buckets()
    assert FIXED_USER_AGENT is not None
    assert FIXED_USER_AGENT.startswith("aiobotocore/")
    assert sent == [sent[0], sent[0]]
    assert sent[0].startswith(FIXED_USER_AGENT)
    assert sent[0].endswith(f"asyncfilter/{asyncfilter.__version__}")


def test_sessions_made_for_sweeps_share_the_service_models_they_have_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from asyncfilter._clients import session_for

    first = session_for(profile=None, region="us-east-1")._session
    second = session_for(profile=None, region="eu-west-1")._session
    assert first.get_component("data_loader") is second.get_component("data_loader")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))  # models from elsewhere: not shared
    other = session_for(profile=None, region="us-east-1")._session
    assert other.get_component("data_loader") is not first.get_component("data_loader")
    assert str(tmp_path) in other.get_component("data_loader").search_paths
