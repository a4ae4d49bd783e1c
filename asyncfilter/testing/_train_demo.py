"""``make train-demo``: the whole loop offline: sweep, train, start, sweep with the model, stop.

It runs the real commands against moto's S3 and the emulator (Custom Labels' states last a
second or three instead of hours): a DetectLabels sweep of the demo's scraped bucket, ``train``
on its robins against a sample of its misses, then a sweep of a second bucket with the trained
model (``scan --model ARN --start-model``, which starts it and stops it), and ``model status``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from ._custom_admin import CustomLabelsAdmin
from ._demo import DEST, SOURCE, _seed, _test_session, image_for, story
from ._servers import TEST_CREDENTIALS, _child_env, emulator_process, moto_server

NEXT = "demo-next"


def _run(command: list[str], env: dict[str, str], *, capture: bool = False) -> str:
    shown = [a for i, a in enumerate(command) if "127.0.0.1" not in a
             and not (a.endswith("-endpoint-url") and i + 1 < len(command))]  # fmt: skip
    print("\n$ asyncfilter " + " ".join(shown), flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "asyncfilter", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        check=True,
    )
    return done.stdout.decode() if capture else ""


async def _seed_next(endpoint: str, entries: list[tuple[str, str, list[Any]]]) -> None:
    async with _test_session().client("s3", endpoint_url=endpoint) as s3:
        await s3.create_bucket(Bucket=NEXT)
        for n, (key, kind, _) in enumerate(entries):
            await s3.put_object(Bucket=NEXT, Key=key, Body=image_for(n, kind))


def run_train_demo(*, images: int = 200, seed: int = 7) -> int:
    started = time.monotonic()
    first = story(images, seed)
    nxt = [(k, kind, lb) for k, kind, lb in story(60, seed + 1) if kind != "junk"]
    with tempfile.TemporaryDirectory(prefix="asyncfilter-train-demo-") as tmp:
        labels_file = Path(tmp, "labels.jsonl")
        labels_file.write_text(
            "\n".join(json.dumps({"bucket": SOURCE, "key": k, "labels": lb}) for k, _, lb in first)
            + "\n"
        )
        print("asyncfilter train-demo: moto S3 and the Rekognition emulator on 127.0.0.1 ...")
        with (
            moto_server() as moto,
            emulator_process(s3_endpoint_url=moto.endpoint_url, labels_file=str(labels_file))
            as emu,
        ):  # fmt: skip
            admin = CustomLabelsAdmin(emu.endpoint_url)
            admin.configure(dataset_s=1, training_s=3, starting_s=1, stopping_s=1)
            anyio.run(_seed, moto.endpoint_url, first)
            anyio.run(_seed_next, moto.endpoint_url, nxt)
            # what the trained model will say about the next bucket
            admin.add_labels(
                [
                    {"bucket": NEXT, "key": k, "labels": [
                        {"Name": "Robin" if kind == "robin" else "not-Robin", "Confidence": 92.0}
                    ]}
                    for k, kind, _ in nxt
                ]
            )  # fmt: skip
            env = _child_env() | TEST_CREDENTIALS | {"ASYNCFILTER_STATE_DIR": tmp}
            aws = ["--s3-endpoint-url", moto.endpoint_url,
                   "--rekognition-endpoint-url", emu.endpoint_url]  # fmt: skip
            ledger = str(Path(tmp, "ledger.sqlite"))
            _run(["scan", f"s3://{SOURCE}/robin/", "--dest", f"s3://{DEST}", "--label", "Robin",
                  "--state", ledger, "--no-progress", *aws], env)  # fmt: skip
            out = _run(["train", "--state", ledger, "--name", "Robin", "--project", "robins",
                        "--negatives", "misses", "--seed", str(seed), "--yes", "--json",
                        "--poll-seconds", "0.5", *aws], env, capture=True)  # fmt: skip
            trained = json.loads(out)
            print(json.dumps(trained, indent=1))
            arn = trained["arn"]
            _run(["scan", f"s3://{NEXT}/", "--dest", f"s3://{DEST}", "--label", "Robin",
                  "--name", "Robin-by-model", "--model", arn, "--start-model", "--no-progress",
                  *aws], env)  # fmt: skip
            _run(["model", "stop", arn, "--poll-seconds", "0.5", *aws[2:]], env)
            _run(["model", "status", arn, *aws[2:]], env)
    robins = sum(1 for _, kind, _ in nxt if kind == "robin")
    print(f"\nthe next bucket had {robins} robins; train-demo finished in "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run_train_demo())
