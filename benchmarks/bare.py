"""The floor for pipeline efficiency: a bare aiobotocore loop issuing the same DetectLabels calls
at the same concurrency, with nothing else (no listing, no matching, no copies, no bookkeeping)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import aioboto3
import anyio
from aiobotocore.config import AioConfig


async def bare_detect_loop(
    bucket: str, keys: Sequence[str], *, endpoint_url: str, concurrency: int
) -> float:
    """Detect every key with ``concurrency`` tasks; returns calls per second."""
    session = aioboto3.Session()
    config = AioConfig(max_pool_connections=concurrency + 8, retries={"total_max_attempts": 1})
    async with session.client("rekognition", endpoint_url=endpoint_url, config=config) as rek:
        send, receive = anyio.create_memory_object_stream[str](len(keys))
        for key in keys:
            send.send_nowait(key)
        send.close()

        async def worker(stream: anyio.abc.ObjectReceiveStream[str]) -> None:
            async with stream:
                async for key in stream:
                    await rek.detect_labels(
                        Image={"S3Object": {"Bucket": bucket, "Name": key}}, MinConfidence=80.0
                    )

        started = time.perf_counter()
        async with anyio.create_task_group() as tg, receive:
            for _ in range(concurrency):
                tg.start_soon(worker, receive.clone())
        return len(keys) / (time.perf_counter() - started)
