"""``asyncfilter demo``: the published story, swept for real over HTTP on this machine.

A scrape for "robin" filled a bucket with robins, but also other birds, nests, campfires
("round robin" cook-outs), an archer in a Robin Hood costume and some junk. The demo starts
moto's S3 server and the Rekognition emulator in their own processes, seeds that bucket, runs the
real ``asyncfilter scan`` command against them, and shows what landed in the training bucket.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from ._images import make_image
from ._servers import TEST_CREDENTIALS, _child_env, emulator_process, moto_server

SOURCE, DEST = "demo-scraped", "demo-training"


def _label(name: str, conf: float, parents: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": name,
        "Confidence": round(conf, 2),
        "Parents": [{"Name": p} for p in parents],
        "Aliases": [{"Name": a} for a in extra.get("aliases", ())],
        "Categories": [{"Name": c} for c in extra.get("categories", ())],
        "Instances": [],
    }
    if extra.get("box"):
        out["Instances"] = [{"BoundingBox": extra["box"], "Confidence": round(conf, 2)}]
    return out


def story(count: int, seed: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(key, kind, labels) for ``count`` scraped images, in a seeded random order."""
    rng = random.Random(seed)
    box = {"Left": 0.2, "Top": 0.15, "Width": 0.5, "Height": 0.6}
    kinds: list[tuple[str, float]] = [
        ("robin", 0.42),
        ("blurry-robin", 0.06),
        ("sparrow", 0.10),
        ("nest", 0.12),
        ("campfire", 0.14),
        ("archer", 0.08),
        ("junk", 0.08),
    ]
    out = []
    for i in range(count):
        kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
        conf = rng.uniform(86, 99.5)
        labels: list[dict[str, Any]]
        if kind == "robin":
            labels = [
                _label(
                    "Robin", conf, ("Bird", "Animal"), box=box, categories=("Animals and Pets",)
                ),
                _label("Bird", conf + 0.3, ("Animal",), box=box),
                _label("Animal", conf + 0.4),
            ]
        elif kind == "blurry-robin":
            labels = [_label("Robin", rng.uniform(60, 75), ("Bird", "Animal")), _label("Bird", 88)]
        elif kind == "sparrow":
            labels = [_label("Sparrow", conf, ("Bird", "Animal"), box=box), _label("Bird", conf)]
        elif kind == "nest":
            labels = [_label("Bird Nest", conf, ("Nest",)), _label("Egg", conf - 10)]
        elif kind == "campfire":
            labels = [_label("Bonfire", conf, ("Fire", "Flame")), _label("Campfire", conf - 3)]
        elif kind == "archer":
            labels = [
                _label("Person", conf, box=box, aliases=("Human",)),
                _label("Archery", conf - 5, ("Sport",)),
                _label("Costume", conf - 8, ("Clothing",)),
            ]
        else:
            labels = []
        out.append((f"robin/{i:05d}.jpg", kind, labels))
    return out


def _test_session() -> Any:
    import aioboto3

    return aioboto3.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=TEST_CREDENTIALS["AWS_REGION"],
    )


async def _seed(endpoint: str, entries: list[tuple[str, str, list[dict[str, Any]]]]) -> None:
    junk = [
        (b"", "zero-byte upload"),
        (b"<html>403 Forbidden</html>", "an error page saved as .jpg"),
        (make_image(40, 40), "a thumbnail too small to label"),
    ]
    session = _test_session()
    async with session.client("s3", endpoint_url=endpoint) as s3:
        for bucket in (SOURCE, DEST):
            await s3.create_bucket(Bucket=bucket)
        limiter = anyio.Semaphore(16)

        async def put(key: str, body: bytes) -> None:
            async with limiter:
                await s3.put_object(Bucket=SOURCE, Key=key, Body=body)

        async with anyio.create_task_group() as tg:
            for n, (key, kind, _) in enumerate(entries):
                if kind == "junk":
                    body = junk[n % len(junk)][0]
                else:
                    body = make_image(96 + n % 5, 96, color=(n % 255, 90, 160))
                tg.start_soon(put, key, body)
            tg.start_soon(put, "robin/captions.txt", b"robin, robin redbreast, round robin")
            tg.start_soon(put, "robin/animated.gif", make_image(96, 96, fmt="GIF"))
            tg.start_soon(put, "robin/originals/", b"")


async def _copied(endpoint: str) -> list[str]:
    keys: list[str] = []
    async with _test_session().client("s3", endpoint_url=endpoint) as s3:
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=DEST):
            keys.extend(item["Key"] for item in page.get("Contents", ()))
    return keys


def run_demo(*, images: int = 300, seed: int = 7) -> int:
    """Run the demo end to end; returns the scan's exit code."""
    started = time.monotonic()
    entries = story(images, seed)
    kinds: dict[str, int] = {}
    for _, kind, _ in entries:
        kinds[kind] = kinds.get(kind, 0) + 1
    with tempfile.TemporaryDirectory(prefix="asyncfilter-demo-") as tmp:
        labels_file = Path(tmp, "labels.jsonl")
        labels_file.write_text(
            "\n".join(json.dumps({"key": k, "labels": lb}) for k, _, lb in entries if lb) + "\n"
        )
        print("asyncfilter demo: starting moto S3 and the Rekognition emulator on 127.0.0.1 ...")
        with (
            moto_server() as moto,
            emulator_process(
                s3_endpoint_url=moto.endpoint_url,
                labels_file=str(labels_file),
                latency_ms=120,
                jitter_ms=40,
                tps=40,
                seed=seed,
            ) as emu,
        ):
            anyio.run(_seed, moto.endpoint_url, entries)
            print(
                f"seeded s3://{SOURCE}/robin/ with {images + 3} objects: "
                + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
                + " (+ a caption file, a GIF and a folder marker)"
            )
            results = Path(tmp, "results.jsonl")
            command = [
                "asyncfilter", "scan", f"s3://{SOURCE}/robin/", "--dest", f"s3://{DEST}",
                "--label", "Robin", "--threshold", "80", "--target", "60", "--miss-cutoff", "25",
                "--tps", "40", "--concurrency", "16", "--results", str(results),
                "--state", str(Path(tmp, "ledger.sqlite")),
                "--s3-endpoint-url", moto.endpoint_url,
                "--rekognition-endpoint-url", emu.endpoint_url,
            ]  # fmt: skip
            print("\n$ " + " ".join(command[:13]) + " ...\n", flush=True)
            env = _child_env()
            env.update(TEST_CREDENTIALS)
            code = subprocess.call(
                [sys.executable, "-m", "asyncfilter", *command[1:]],
                env=env,
                stdin=subprocess.DEVNULL,
            )
            copied = anyio.run(_copied, moto.endpoint_url)
            stats = emu.stats()
            lines = [json.loads(line) for line in results.read_text().splitlines()]
        by_key = {k: kind for k, kind, _ in entries}
        wrong = [k for k in copied if by_key.get(k.partition("/")[2]) != "robin"]
        print(f"\ncopied {len(copied)} objects to s3://{DEST}/, for example:")
        for key in copied[:5]:
            print(f"  s3://{DEST}/{key}")
        print(
            f"every copy is a real robin: {'yes' if not wrong else 'NO: ' + ', '.join(wrong)}; "
            f"the emulator answered {stats['answered']} of {stats['calls']} calls; "
            f"{len(lines)} results recorded"
        )
        print(f"demo finished in {time.monotonic() - started:.1f} s")
        return code if not wrong else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
