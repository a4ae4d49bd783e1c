"""The benchmark's baseline must behave like the published loop, flaws included."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError
from helpers import jpeg, labels_entries, list_keys, seed

from asyncfilter.testing import EmulatorProcess, MotoServer
from benchmarks.baseline import published_loop

BIRD = [{"Name": "Bird", "Confidence": 97.0}]
SONGBIRD = [{"Name": "Songbird", "Confidence": 97.0, "Parents": [{"Name": "Bird"}]}]


async def test_matches_names_only_and_copies_sequentially(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    await seed(s3, source, {"a.jpg": jpeg("a.jpg"), "b.jpg": jpeg("b.jpg"), "c.jpg": jpeg("c.jpg")})
    entries = labels_entries(
        source, {"a.jpg": BIRD, "b.jpg": SONGBIRD, "c.jpg": [{"Name": "Bird", "Confidence": 50.0}]}
    )
    await anyio.to_thread.run_sync(emulator.add_labels, entries)
    result = await anyio.to_thread.run_sync(
        lambda: published_loop(
            source, dest, "bird", "birds", 80.0,
            s3_endpoint_url=moto.endpoint_url, rekognition_endpoint_url=emulator.endpoint_url,
        )
    )  # fmt: skip
    assert result.images == 3
    # the songbird, whose parent is Bird, is missed: the published loop reads names only
    assert await list_keys(s3, dest) == ["birds/a.jpg"]


async def test_dies_at_the_first_non_image(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    await seed(s3, source, {"a.txt": b"caption", "b.jpg": jpeg("b.jpg")})
    with pytest.raises(ClientError, match="InvalidImageFormatException"):
        await anyio.to_thread.run_sync(
            lambda: published_loop(
                source, dest, "bird", "birds", 80.0,
                s3_endpoint_url=moto.endpoint_url, rekognition_endpoint_url=emulator.endpoint_url,
            )
        )  # fmt: skip
