"""Choosing the source: configuration, the command line, and make_lister."""

from __future__ import annotations

from typing import Any

import pytest
from test_cli import GOOD, run_main

from asyncfilter import ConfigError, S3Lister, ScanConfig
from asyncfilter._inventory import InventoryLister
from asyncfilter._listing_parallel import ParallelS3Lister
from asyncfilter._sources import make_lister, source_kind


def config(**overrides: Any) -> ScanConfig:
    values: dict[str, Any] = {
        "source": "s3://src-bucket",
        "dest": "s3://dst-bucket",
        "labels": "Robin",
    }
    return ScanConfig(**(values | overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"list_concurrency": 0}, "list_concurrency must be a positive whole number, got 0"),
        ({"list_concurrency": 2.5}, "list_concurrency"),
        ({"inventory": "https://example.com/manifest.json"}, "inventory must be an s3:// URL"),
        ({"inventory": "s3://Bad_Bucket/m.json"}, "invalid bucket name"),
    ],
)
def test_bad_listing_settings_name_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**overrides)


async def test_make_lister_follows_the_configuration(s3: Any) -> None:
    assert source_kind(config()) == "parallel"
    parallel = make_lister(config(list_concurrency=4, page_size=10), s3)
    assert isinstance(parallel, ParallelS3Lister)
    assert (parallel._concurrency, parallel._page_size) == (4, 10)
    assert isinstance(make_lister(config(list_concurrency=1), s3), S3Lister)
    inventory = make_lister(config(inventory="s3://inv-bucket/x/manifest.json"), s3)
    assert isinstance(inventory, InventoryLister)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*GOOD, "--list-concurrency", "0"], "'--list-concurrency': 0 is not in the range x>=1"),
        ([*GOOD, "--inventory", "inv-bucket/manifest.json"], "inventory must be an s3:// URL"),
    ],
)
def test_bad_listing_options_are_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert message in err
    assert out == ""
