from __future__ import annotations

from typing import Any

import pytest

from asyncfilter import ConfigError, S3Location, ScanConfig


def make(**overrides: Any) -> ScanConfig:
    values: dict[str, Any] = {
        "source": "s3://raw-images",
        "dest": "s3://training",
        "labels": ("Robin",),
    }
    values.update(overrides)
    return ScanConfig(**values)


def test_parses_urls_and_defaults() -> None:
    config = make(source="s3://raw-images/robin/", dest="s3://training/sets")
    assert config.source == S3Location("raw-images", "robin/")
    assert config.dest.folder == "sets/"
    assert config.threshold == 80.0
    assert config.folder_name == "Robin"
    assert config.effective_queue_size == 4 * config.concurrency
    assert config.dest_key("a b/+&%é.jpg") == "sets/Robin/a b/+&%é.jpg"


def test_name_overrides_folder() -> None:
    assert make(name="robins").dest_key("x.jpg") == "robins/x.jpg"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"source": "raw-images"}, "source must be an s3:// URL"),
        ({"source": "s3://"}, "has no bucket name"),
        ({"dest": "s3://Bad_Bucket"}, "invalid bucket name 'Bad_Bucket'"),
        ({"dest": "s3://ab"}, "invalid bucket name"),
        ({"dest": "s3://192.168.1.1"}, "invalid bucket name"),
        ({"labels": ()}, "at least one label"),
        ({"labels": ("  ",)}, "labels must be non-empty"),
        ({"threshold": 100.5}, "threshold must be between 0 and 100"),
        ({"threshold": -1}, "threshold must be between 0 and 100"),
        ({"target": 0}, "target must be a positive whole number"),
        ({"max_scan": -3}, "max_scan must be a positive whole number"),
        ({"miss_cutoff": 0}, "miss_cutoff must be a positive whole number"),
        ({"concurrency": 0}, "concurrency must be a positive whole number"),
        ({"tps": 0}, "tps must be a positive number"),
        ({"tps": float("nan")}, "tps must be a positive number"),
        ({"name": "a/b"}, "name must be non-empty and contain no '/'"),
        ({"expected_bucket_owner": "me"}, "expected_bucket_owner must be a 12-digit"),
        ({"max_error_rate": 0}, "max_error_rate must be a share above 0"),
        ({"max_error_rate": 1.5}, "max_error_rate must be a share above 0"),
        ({"budget_usd": -1}, "budget_usd must be a positive number"),
        ({"dest": "s3://raw-images"}, "would write into the source listing"),
        ({"dest": "s3://raw-images/robin/x", "source": "s3://raw-images/robin/"}, "would write"),
    ],
)
def test_rejects_bad_values_naming_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        make(**overrides)


def test_same_bucket_outside_source_prefix_is_allowed() -> None:
    config = make(source="s3://raw-images/scraped/", dest="s3://raw-images/clean")
    assert config.dest_key("scraped/a.jpg") == "clean/Robin/scraped/a.jpg"


def test_config_is_frozen() -> None:
    config = make()
    with pytest.raises(AttributeError):
        config.threshold = 10  # type: ignore[misc]
