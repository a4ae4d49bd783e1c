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
    for box in extra.get("boxes", ()):
        out["Instances"].append({"BoundingBox": box, "Confidence": round(conf - 1.5, 2)})
    return out


def _boxes(rng: random.Random, count: int) -> list[dict[str, float]]:
    """Where the birds are: fractions of the image, now and then reaching past its edge, as
    Rekognition's boxes do."""
    boxes = []
    for _ in range(count):
        width, height = rng.uniform(0.15, 0.5), rng.uniform(0.15, 0.5)
        left, top = rng.uniform(-0.05, 1.0 - width * 0.7), rng.uniform(-0.05, 1.0 - height * 0.7)
        boxes.append(
            {"Left": round(left, 4), "Top": round(top, 4), "Width": round(width, 4),
             "Height": round(height, 4)}
        )  # fmt: skip
    return boxes


def story(count: int, seed: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(key, kind, labels) for ``count`` scraped images, in a seeded random order."""
    rng = random.Random(seed)
    person = [{"Left": 0.3, "Top": 0.1, "Width": 0.35, "Height": 0.85}]
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
            boxes = _boxes(rng, rng.choice((1, 1, 1, 2)))
            labels = [
                _label(
                    "Robin", conf, ("Bird", "Animal"), boxes=boxes,
                    categories=("Animals and Pets",),
                ),
                _label("Bird", conf + 0.3, ("Animal",), boxes=boxes),
                _label("Animal", conf + 0.4),
            ]  # fmt: skip
        elif kind == "blurry-robin":
            # the review band: a robin, probably, that a person should look at
            boxes = _boxes(rng, 1) if rng.random() < 0.7 else []
            labels = [
                _label("Robin", rng.uniform(60, 75), ("Bird", "Animal"), boxes=boxes),
                _label("Bird", 88),
            ]
        elif kind == "sparrow":
            boxes = _boxes(rng, 1)
            labels = [
                _label("Sparrow", conf, ("Bird", "Animal"), boxes=boxes),
                _label("Bird", conf),
            ]
        elif kind == "nest":
            labels = [_label("Bird Nest", conf, ("Nest",)), _label("Egg", conf - 10)]
        elif kind == "campfire":
            labels = [_label("Bonfire", conf, ("Fire", "Flame")), _label("Campfire", conf - 3)]
        elif kind == "archer":
            labels = [
                _label("Person", conf, boxes=person, aliases=("Human",)),
                _label("Archery", conf - 5, ("Sport",)),
                _label("Costume", conf - 8, ("Clothing",)),
            ]
        else:
            labels = []
        out.append((f"robin/{i:05d}.jpg", kind, labels))
    return out


_JUNK = (
    (b"", "zero-byte upload"),
    (b"<html>403 Forbidden</html>", "an error page saved as .jpg"),
)


def image_for(n: int, kind: str) -> bytes:
    """The bytes of the story's ``n``-th object: phone photos (every seventh is stored
    sideways with EXIF orientation 6, as phones do), or junk."""
    if kind == "junk":
        return _JUNK[n % 3][0] if n % 3 < 2 else make_image(40, 40)  # the last: too small
    if n % 7 == 3:
        return make_image(160 + n % 5, 120, color=(n % 255, 90, 160), orientation=6, tag=b"%d" % n)
    # every photo has bytes of its own (exact copies would be answered once)
    return make_image(160 + n % 5, 120, color=(n % 255, 90, 160), tag=b"%d" % n)


def _wrapped(command: list[str], width: int = 88) -> str:
    """The command as a shell would show it, an option and its value never split."""
    words = command[:3]
    rest = command[3:]
    words += [f"{rest[i]} {rest[i + 1]}" for i in range(0, len(rest) - 1, 2)]
    lines, line = [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = "   "
        line = f"{line} {word}" if line else word
    return " \\\n".join([*lines, line])


def _test_session() -> Any:
    import aioboto3

    return aioboto3.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=TEST_CREDENTIALS["AWS_REGION"],
    )


async def _seed(endpoint: str, entries: list[tuple[str, str, list[dict[str, Any]]]]) -> None:
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
                tg.start_soon(put, key, image_for(n, kind))
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
                "--label", "Robin", "--threshold", "80", "--review-threshold", "60",
                "--target", "60", "--miss-cutoff", "25",
                "--manifest", "gt-classification", "--manifest", "gt-detection",
                "--manifest", "coco", "--manifest", "yolo", "--manifest", "labelstudio",
                "--tps", "40", "--concurrency", "16", "--results", str(results),
                "--state", str(Path(tmp, "ledger.sqlite")),
                "--s3-endpoint-url", moto.endpoint_url,
                "--rekognition-endpoint-url", emu.endpoint_url,
            ]  # fmt: skip
            print("\n$ " + _wrapped(command[: command.index("--results")]) + " ...\n", flush=True)
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
        hits = [k for k in copied if k.startswith("Robin/")]
        review = [k for k in copied if k.startswith("_review/Robin/")]
        manifests = [k for k in copied if k.startswith("_manifests/")]
        wrong = [k for k in hits if by_key.get(k.partition("/")[2]) != "robin"]
        wrong += [k for k in review if by_key.get(k.split("/", 2)[2]) != "blurry-robin"]
        print(f"\ncopied {len(hits)} hits to s3://{DEST}/Robin/, for example:")
        for key in hits[:3]:
            print(f"  s3://{DEST}/{key}")
        print(
            f"copied {len(review)} borderline images for review to s3://{DEST}/_review/Robin/, "
            f"listed in s3://{DEST}/_review/Robin.manifest"
        )
        print(f"wrote {len(manifests)} export files under s3://{DEST}/_manifests/, for example:")
        for key in [k for k in manifests if "/labels/" not in k][:6]:
            print(f"  s3://{DEST}/{key}")
        print(
            f"every hit is a real robin and every review image a blurry one: "
            f"{'yes' if not wrong else 'NO: ' + ', '.join(wrong)}; "
            f"the emulator answered {stats['answered']} of {stats['calls']} calls; "
            f"{len(lines)} results recorded"
        )
        print(f"demo finished in {time.monotonic() - started:.1f} s")
        return code if not wrong else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
