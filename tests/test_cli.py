"""The command line: bad input, a real sweep, JSON output, results files and Ctrl-C."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from helpers import jpeg, labels_entries, robin, seed

from asyncfilter.cli import main
from asyncfilter.testing import EmulatorProcess, MotoServer


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


GOOD = ["scan", "s3://source-bucket", "--dest", "s3://dest-bucket", "--label", "Robin"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["scan", "source-bucket", "--dest", "s3://dest-bucket", "--label", "x"],
            "source must be an s3:// URL",
        ),
        (
            ["scan", "s3://Bad_Name", "--dest", "s3://dest-bucket", "--label", "x"],
            "invalid bucket name",
        ),
        (
            ["scan", "s3://source-bucket", "--dest", "dest-bucket", "--label", "x"],
            "destination must be an s3:// URL",
        ),
        (
            ["scan", "s3://source-bucket", "--dest", "s3://source-bucket", "--label", "x"],
            "would write into the source",
        ),
        ([*GOOD, "--threshold", "101"], "'--threshold': 101.0 is not in the range"),
        ([*GOOD, "--threshold", "-1"], "'--threshold'"),
        ([*GOOD, "--target", "0"], "'--target': 0 is not in the range x>=1"),
        ([*GOOD, "--max-scan", "-5"], "'--max-scan'"),
        ([*GOOD, "--miss-cutoff", "0"], "'--miss-cutoff'"),
        ([*GOOD, "--concurrency", "0"], "'--concurrency'"),
        ([*GOOD, "--tps", "0"], "'--tps'"),
        ([*GOOD, "--target", "many"], "'--target': 'many' is not a valid integer"),
        (
            ["scan", "s3://source-bucket", "--dest", "s3://dest-bucket", "--label", ""],
            "labels must be non-empty",
        ),
        (["scan", "s3://source-bucket", "--label", "x"], "Missing option '--dest'"),
        (["scan", "s3://source-bucket", "--dest", "s3://dest-bucket"], "Missing option '--label'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("asyncfilter: error: ")
    assert message in err
    assert out == ""


def test_no_region_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code, _, err = run_main([*GOOD, "--log-level", "error"], capsys)
    assert code == 2
    assert "no AWS region" in err


def cli_env(moto: MotoServer, emulator: EmulatorProcess) -> dict[str, str]:
    env = dict(os.environ)
    # endpoints from the environment, as the AWS CLI reads them
    env["AWS_ENDPOINT_URL_S3"] = moto.endpoint_url
    env["AWS_ENDPOINT_URL_REKOGNITION"] = emulator.endpoint_url
    return env


def scan_argv(source: str, dest: str, *options: str) -> list[str]:
    """``python -m asyncfilter scan s3://SOURCE --dest s3://DEST --label robin OPTIONS...``"""
    return [sys.executable, "-m", "asyncfilter", "scan", f"s3://{source}", "--dest",
            f"s3://{dest}", "--label", "robin", *options]  # fmt: skip


async def prepare(s3: Any, emulator: EmulatorProcess, source: str, count: int) -> None:
    keys = [f"{i:04d}.jpg" for i in range(count)]
    await seed(s3, source, {k: jpeg(k) for k in keys})
    entries = labels_entries(
        source, {k: [robin()] if i % 2 == 0 else [] for i, k in enumerate(keys)}
    )
    await anyio.to_thread.run_sync(emulator.add_labels, entries)


async def test_scan_json_summary_and_results_file(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    await prepare(s3, emulator, source, 20)
    results = tmp_path / "out.jsonl"
    proc = await anyio.run_process(
        scan_argv(
            source, dest, "--target", "4", "--json", "--results", str(results), "--tps", "200"
        ),
        env=cli_env(moto, emulator),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    assert summary["stop_reason"] == "target"
    assert summary["hits"] == 4
    assert summary["estimated_cost_usd"] == pytest.approx(summary["paid_calls"] * 0.001)
    lines = [orjson.loads(line) for line in results.read_bytes().splitlines()]
    assert len(lines) == summary["decided"]
    assert sum(line["outcome"] == "hit" for line in lines) == 4
    assert all(line["dest_key"].startswith("robin/") for line in lines if line["outcome"] == "hit")
    assert not (tmp_path / "out.jsonl.part").exists()


async def test_scan_text_summary_and_aborted_exit_1(
    moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]
) -> None:
    proc = await anyio.run_process(
        scan_argv("missing-source-bucket", buckets[1]),
        env=cli_env(moto, emulator),
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines()[-1] == (
        "asyncfilter: error: source bucket 'missing-source-bucket' does not exist"
    )


def _start_slow_scan(
    moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], results: Path
) -> subprocess.Popen[bytes]:
    source, dest = buckets
    return subprocess.Popen(
        scan_argv(source, dest, "--results", str(results), "--concurrency", "4", "--json"),
        env=cli_env(moto, emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_calls(emulator: EmulatorProcess, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while emulator.stats()["answered"] < at_least:
        assert time.monotonic() < deadline, "the scan never started calling"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_first_signal_stops_gracefully_with_summary(
    s3: Any,
    moto: MotoServer,
    emulator: EmulatorProcess,
    buckets: tuple[str, str],
    tmp_path: Path,
    signum: int,
) -> None:
    await prepare(s3, emulator, buckets[0], 150)
    await anyio.to_thread.run_sync(lambda: emulator.configure(latency_ms=150))
    results = tmp_path / "r.jsonl"
    proc = _start_slow_scan(moto, emulator, buckets, results)
    await anyio.to_thread.run_sync(_wait_for_calls, emulator, 4)
    proc.send_signal(signum)
    out, err = await anyio.to_thread.run_sync(proc.communicate)
    assert proc.returncode == 130, err.decode()
    summary = orjson.loads(out)
    assert summary["stop_reason"] == "interrupted"
    stats = await anyio.to_thread.run_sync(emulator.stats)
    # every call that was answered is in the results: in-flight work finished and was recorded
    lines = results.read_bytes().splitlines()
    assert len(lines) == summary["decided"] == stats["answered"] < 150


async def test_second_signal_exits_at_once_on_a_clean_line(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    await prepare(s3, emulator, buckets[0], 60)
    # calls that take a minute: only the second signal can end the process within the bound
    await anyio.to_thread.run_sync(lambda: emulator.configure(latency_ms=60_000))
    source, dest = buckets
    # stderr on a pseudo-terminal, so the live progress line is drawn as a person sees it
    master, slave = pty.openpty()
    proc = await anyio.to_thread.run_sync(
        lambda: subprocess.Popen(
            scan_argv(source, dest, "--concurrency", "4", "--progress"),
            env=cli_env(moto, emulator),
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
    )
    os.close(slave)
    try:
        deadline = time.monotonic() + 60
        while (await anyio.to_thread.run_sync(emulator.stats))["calls"] < 4:
            assert time.monotonic() < deadline
            await anyio.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        await anyio.sleep(0.5)
        assert proc.poll() is None  # still finishing the calls in flight
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            await anyio.to_thread.run_sync(proc.wait)
        assert proc.returncode == 130
        screen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end is closed: all of it has been read
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert b"stopping" in screen
    assert screen.endswith(b"\n"), screen[-80:]


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY42"


async def test_credentials_never_reach_output_logs_or_results(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str], tmp_path: Path
) -> None:
    source, dest = buckets
    await prepare(s3, emulator, source, 6)
    await seed(s3, source, {"broken.jpg": b"not an image"})
    env = cli_env(moto, emulator)
    env["AWS_SECRET_ACCESS_KEY"] = SECRET
    results = tmp_path / "r.jsonl"
    proc = await anyio.run_process(
        scan_argv(source, dest, "--results", str(results), "--log-level", "debug",
                  "--log-format", "json"),
        env=env,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    for text in (proc.stdout, proc.stderr, results.read_bytes()):
        assert SECRET.encode() not in text
    assert b"InvalidImageFormatException" in results.read_bytes()


def test_progress_line_shows_counts_rate_and_spend() -> None:
    from rich.console import Console

    from asyncfilter import Stats
    from asyncfilter.cli._output import progress_text

    console = Console(record=True, width=200)
    console.print(
        progress_text(
            Stats(hits=3, misses=5, skipped=1, errors=2, elapsed_s=2.0, estimated_cost_usd=0.008)
        )
    )
    line = console.export_text()
    assert "11 done" in line
    assert "3 hit" in line
    assert "2 err" in line
    assert "5.5/s" in line
    assert "$0.01" in line


def test_progress_line_fits_80_columns_at_millions_of_images() -> None:
    from asyncfilter import Stats
    from asyncfilter.cli._output import progress_text

    big = Stats(
        hits=1_234_567,
        misses=8_765_432,
        skipped=123_456,
        errors=12_345,
        review=54_321,
        retries=99_999,
        elapsed_s=3600.0,
        estimated_cost_usd=9_876.54,
    )
    line = progress_text(big).plain
    assert len(line) <= 80, (len(line), line)
    assert "100k retry" in line
    assert "1.23M hit" in line


def test_log_redaction_processor() -> None:
    from asyncfilter.cli._logging import redact

    event = redact(
        None,
        "info",
        {"event": f"boto said aws_secret_access_key={SECRET}", "aws_secret_access_key": SECRET},
    )
    assert SECRET not in str(event)


async def test_json_debug_logs_follow_a_sweep_from_start_to_summary(
    s3: Any, moto: MotoServer, emulator: EmulatorProcess, buckets: tuple[str, str]
) -> None:
    source, dest = buckets
    await prepare(s3, emulator, source, 6)
    proc = await anyio.run_process(
        scan_argv(source, dest, "--no-state", "--log-format", "json", "--log-level", "debug",
                  "--target", "2"),
        env=cli_env(moto, emulator),
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    events = [orjson.loads(line) for line in proc.stderr.splitlines() if line.startswith(b"{")]
    names = [e["event"] for e in events]
    for expected in ("sweep.start", "listing.page", "image.decided", "sweep.stopping",
                     "sweep.summary"):  # fmt: skip
        assert expected in names, names
    start = events[names.index("sweep.start")]
    assert start["labels"] == ["robin"]
    assert start["target"] == 2
    assert events[names.index("sweep.stopping")]["reason"] == "target"
    assert events[names.index("sweep.summary")]["hits"] == 2
    assert all(e["level"] in ("debug", "info", "warning", "error") for e in events)


def test_summary_gives_each_error_code_with_a_message_and_counts_retries() -> None:
    from asyncfilter import Report, Stats, StopReason
    from asyncfilter.cli._output import summary_text

    report = Report(
        stats=Stats(errors=3, retries=7, throttled=2),
        stop_reason=StopReason.ABORTED,
        errors_by_code={"EndpointConnectionError": 3},
        error_examples={"EndpointConnectionError": 'Could not connect to "http://x"'},
    )
    text = summary_text(report)
    assert 'error EndpointConnectionError x3: Could not connect to "http://x"' in text
    assert "retried calls 7 (throttled responses 2)" in text


def test_progress_lines_show_the_estimate_forecast_and_hint_within_80_columns() -> None:
    from asyncfilter import Stats
    from asyncfilter._estimate import hit_rate
    from asyncfilter._forecast import forecast
    from asyncfilter.cli._output import progress_lines

    estimate = hit_rate(600, 29, population=12_000_000)
    stats = Stats(
        hits=29, misses=571, elapsed_s=12.0, rate=50.0, hit_rate=estimate, random_order=True,
        forecast=forecast(estimate, hits=29, target=50_000, calls_per_s=50.0),
        hint='"Robbin" never appeared; closest seen: "Robin" (in 38% of images); most common: '
        "Bird, Animal, Robin, Tree",
    )  # fmt: skip
    lines = progress_lines(stats, target=50_000).plain.splitlines()
    assert len(lines) == 4
    assert lines[1].startswith("hit rate 4.8% (95%: ")
    assert "of 12,000,000 eligible" in lines[1]
    assert lines[2].startswith("50,000 hits need ")
    assert lines[3].startswith('"Robbin" never appeared')
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]


def test_help_loads_neither_the_aws_stack_nor_the_log_renderers() -> None:
    # `asyncfilter --help` must answer at once: what it does not need is imported on first use
    probe = (
        "import sys, runpy; sys.argv = ['asyncfilter', '--help']\n"
        "try:\n    runpy.run_module('asyncfilter', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('botocore', 'aioboto3', 'aiohttp', 'structlog', "
        "'importlib.metadata') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip().splitlines()[-1] == "[]", out
