"""``asyncfilter playground``: the local stand-ins for AWS, running until Ctrl-C, for trying
asyncfilter by hand in another terminal.

It starts moto's S3 server and the Rekognition emulator (each in its own process, on free
127.0.0.1 ports), seeds them with the demo's bucket of robins, nests and campfires unless told
not to, and prints the environment to export and a scan line to paste.
"""

from __future__ import annotations

import json
import shlex
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import anyio

from ._demo import DEST, SOURCE, _seed, story
from ._servers import TEST_CREDENTIALS, emulator_process, moto_server


def playground_env(s3_endpoint: str, rekognition_endpoint: str) -> dict[str, str]:
    """The environment a shell needs to point asyncfilter (or the AWS CLI) at the stand-ins."""
    return {
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ENDPOINT_URL_REKOGNITION": rekognition_endpoint,
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": TEST_CREDENTIALS["AWS_REGION"],
    }


def run_playground(
    *,
    images: int = 300,
    seed: int = 7,
    seeded: bool = True,
    latency_ms: float = 120.0,
    tps: float | None = 40.0,
    echo: Callable[[str], None] = print,
    ready: Callable[[dict[str, str]], None] | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM, then stop both servers; returns the exit code (0)."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with tempfile.TemporaryDirectory(prefix="asyncfilter-playground-") as tmp:
            entries = story(images, seed) if seeded else []
            labels = Path(tmp, "labels.jsonl")
            labels.write_text("".join(json.dumps({"key": k, "labels": lb}) + "\n"
                                      for k, _, lb in entries if lb))  # fmt: skip
            echo("starting moto S3 and the Rekognition emulator on 127.0.0.1 ...")
            with (
                moto_server() as moto,
                emulator_process(
                    s3_endpoint_url=moto.endpoint_url,
                    labels_file=str(labels),
                    latency_ms=latency_ms,
                    jitter_ms=latency_ms / 3,
                    tps=tps,
                    seed=seed,
                ) as emu,
            ):
                if seeded:
                    anyio.run(_seed, moto.endpoint_url, entries)
                env = playground_env(moto.endpoint_url, emu.endpoint_url)
                echo("")
                echo(f"S3 (moto)            {moto.endpoint_url}")
                echo(f"Rekognition emulator {emu.endpoint_url}")
                if seeded:
                    echo(f"seeded s3://{SOURCE}/robin/ with {images} images, and s3://{DEST}")
                echo("\nIn another terminal, export these (dummy credentials, local endpoints):\n")
                for name, value in env.items():
                    echo(f"export {name}={shlex.quote(value)}")
                echo("\nthen sweep (the venv's command is .venv/bin/asyncfilter):\n")
                echo(
                    f"asyncfilter scan s3://{SOURCE}/robin/ --dest s3://{DEST} --label Robin "
                    "--threshold 80 --review-threshold 60 --target 50 --state playground.sqlite"
                )
                echo("\nCtrl-C here stops both servers.")
                if ready is not None:
                    ready(env)
                stop.wait()
                echo("stopping the servers ...")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
