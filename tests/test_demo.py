"""``make demo`` is the README's first command: it must keep working, and keep telling the truth."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import anyio


async def test_demo_runs_end_to_end_and_checks_its_own_copies() -> None:
    proc = await anyio.run_process(
        [sys.executable, "-m", "asyncfilter", "demo", "--images", "120"], check=False
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "every hit is a real robin and every review image a blurry one: yes" in out
    for name in ("gt-classification", "gt-detection", "coco", "yolo", "labelstudio"):
        assert f"export {name}: " in out
    assert "review band listed in s3://demo-training/_review/Robin.manifest" in out


def _playground_session(images: int) -> tuple[str, dict[str, str], str, int]:
    """Start the playground as a newcomer would, paste its lines into a 'second terminal' (a
    child process with the printed environment), then Ctrl-C it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "asyncfilter", "playground", "--images", str(images),
         "--latency-ms", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )  # fmt: skip
    assert proc.stdout is not None
    printed: list[str] = []
    env: dict[str, str] = {}
    scan_line = ""
    try:
        deadline = time.monotonic() + 120
        for raw in proc.stdout:
            line = raw.decode().rstrip("\n")
            printed.append(line)
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                env[name] = shlex.split(value)[0]
            if line.startswith("asyncfilter scan "):
                scan_line = line
            if line.startswith("Ctrl-C here stops"):
                break
            assert time.monotonic() < deadline, printed
        assert scan_line, printed
        # only what was printed: a newcomer's terminal has no AWS_DEFAULT_REGION either
        second = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | env
        argv = [sys.executable, "-m", "asyncfilter", *shlex.split(scan_line)[1:], "--no-state",
                "--json"]  # fmt: skip
        argv.remove("--state")
        argv.remove("playground.sqlite")
        done = subprocess.run(argv, env=second, capture_output=True, check=False, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        summary = done.stdout.decode()
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0].decode()
    return summary, env, rest, proc.returncode


async def test_the_playground_prints_what_to_paste_and_stops_cleanly_on_ctrl_c() -> None:
    summary, env, rest, code = await anyio.to_thread.run_sync(_playground_session, 60)
    assert set(env) >= {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_REKOGNITION",
                        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}  # fmt: skip
    assert json.loads(summary)["hits"] > 0
    assert code == 0
    assert "stopping the servers" in rest
