"""Exact copies cost nothing: the same bytes under several keys are paid for once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import labels_entries, list_keys, robin, seed

from asyncfilter import ImageResult, Outcome, S3Object, scan
from asyncfilter._duplicates import Answer, Duplicates, digest
from asyncfilter.testing import EmulatorProcess, make_image

MB = 1024 * 1024


async def admin(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))


async def multipart(s3: Any, bucket: str, key: str, body: bytes, part_size: int) -> str:
    upload = await s3.create_multipart_upload(Bucket=bucket, Key=key)
    parts = []
    for number, start in enumerate(range(0, len(body), part_size), 1):
        part = await s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number,
            Body=body[start : start + part_size],
        )  # fmt: skip
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    done = await s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    return str(done["ETag"]).strip('"')


async def test_copies_of_the_same_bytes_are_paid_once_and_each_gets_its_outcome(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    robin_bytes, tree_bytes = make_image(100, 90), make_image(90, 100)
    # a JPEG padded past S3's 5 MB minimum part, so it can be uploaded in parts
    big = make_image(120, 100) + b"\0" * (6 * MB)
    await seed(s3, source, {
        "a/robin.jpg": robin_bytes, "b/robin-copy.jpg": robin_bytes,
        "c/robin-again.jpg": robin_bytes, "a/tree.jpg": tree_bytes, "b/tree-copy.jpg": tree_bytes,
    })  # fmt: skip
    same_layout = {await multipart(s3, source, f"big/{n}.jpg", big, 5 * MB) for n in (1, 2)}
    other_layout = await multipart(s3, source, "big/3.jpg", big, 5 * MB + 512 * 1024)
    assert len(same_layout) == 1
    assert other_layout not in same_layout  # same bytes, another ETag: not recognised, paid
    # the emulator answers by content, so every copy would get the same answer if asked
    await admin(emulator.add_labels, [
        {"sha256": hashlib.sha256(b).hexdigest(), "labels": labels}
        for b, labels in ((robin_bytes, [robin()]), (big, [robin()]),
                          (tree_bytes, [{"Name": "Tree", "Confidence": 99.0}]))
    ])  # fmt: skip
    state = tmp_path / "ledger.sqlite"
    seen: list[ImageResult] = []
    report = await scan(config_for(state=str(state), concurrency=8), on_result=seen.append)
    stats = await admin(emulator.stats)
    # distinct images: the robin, the tree, the multipart big one, and its other-layout twin
    assert stats["calls"] == 4
    assert report.stats.paid_calls == 4
    assert report.stats.duplicates == 4
    assert report.stats.saved_usd == pytest.approx(0.004)
    outcomes = {r.object.key: r.outcome for r in seen}
    assert outcomes == {
        "a/robin.jpg": Outcome.HIT, "b/robin-copy.jpg": Outcome.HIT,
        "c/robin-again.jpg": Outcome.HIT, "a/tree.jpg": Outcome.MISS,
        "b/tree-copy.jpg": Outcome.MISS, "big/1.jpg": Outcome.HIT, "big/2.jpg": Outcome.HIT,
        "big/3.jpg": Outcome.HIT,
    }  # fmt: skip
    copied = sorted(await list_keys(s3, dest))
    assert copied == sorted(f"Robin/{k}" for k, o in outcomes.items() if o is Outcome.HIT)

    # resumed or re-run, nothing is paid again, and copies keep their own answers
    again = await scan(config_for(state=str(state)))
    assert (await admin(emulator.stats))["calls"] == 4
    assert again.stats.paid_calls == 0
    assert again.stats.hits == 6


async def test_a_copy_under_another_prefix_is_answered_from_the_ledger(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, _ = buckets
    body = make_image(100, 90)
    await seed(s3, source, {"2023/robin.jpg": body, "2024/same-robin.jpg": body})
    await admin(emulator.add_labels, labels_entries(source, {
        "2023/robin.jpg": [robin()], "2024/same-robin.jpg": [robin()]
    }))  # fmt: skip
    state = str(tmp_path / "ledger.sqlite")
    first = await scan(config_for(source=f"s3://{source}/2023/", state=state))
    assert first.stats.paid_calls == 1
    second = await scan(config_for(source=f"s3://{source}/2024/", state=state))
    assert second.stats.paid_calls == 0
    assert second.stats.duplicates == 1
    assert second.stats.hits == 1
    assert (await admin(emulator.stats))["calls"] == 1


async def test_no_dedupe_pays_for_every_copy(
    s3: Any, emulator: EmulatorProcess, config_for: Any, buckets: tuple[str, str]
) -> None:
    source, _ = buckets
    body = make_image(100, 90)
    await seed(s3, source, {f"{n}.jpg": body for n in range(4)})
    report = await scan(config_for(dedupe=False))
    assert report.stats.paid_calls == 4
    assert report.stats.duplicates == 0


async def test_a_copy_waits_for_the_call_in_flight_and_takes_over_if_it_fails() -> None:
    table = Duplicates()
    a, b, c = (S3Object("s", k, 10, "abc") for k in ("a.jpg", "b.jpg", "c.jpg"))
    assert await table.claim(a) is None  # a pays
    got: dict[str, Answer | None] = {}

    async def wait(obj: S3Object) -> None:
        got[obj.key] = await table.claim(obj)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, b)
        await anyio.wait_all_tasks_blocked()
        table.settle(a, None)  # a's call failed: b makes its own
    assert got == {"b.jpg": None}
    answer = Answer("b.jpg", {"Labels": []}, "3.0")
    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, c)
        await anyio.wait_all_tasks_blocked()
        table.settle(b, answer)
    assert got["c.jpg"] == answer
    assert digest(S3Object("s", "empty.jpg", 0, "abc")) is None
    assert digest(S3Object("s", "no-etag.jpg", 10, "")) is None
