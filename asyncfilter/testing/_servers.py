"""Start the local stand-ins for AWS as real servers in their own processes.

Both run on 127.0.0.1 on a free port, are waited for until they answer, and are stopped when the
``with`` block ends, so a test session, a benchmark or the demo never leaves a process behind.
Running them in their own processes keeps their CPU off the sweep being measured.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: Credentials that the stand-ins accept; never real ones.
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AWS_"):
            del env[name]  # a stand-in must never see, or use, real credentials
    env.update(TEST_CREDENTIALS)
    env.update(extra or {})
    return env


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer at {url} within {timeout} s") from None
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class MotoServer:
    """moto's S3 server, running in a child process."""

    endpoint_url: str
    pid: int

    def reset(self) -> None:
        """Forget every bucket and object."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


@contextmanager
def moto_server(*, keep_alive: bool = False, timeout: float = 60.0) -> Iterator[MotoServer]:
    """Run moto's S3 on 127.0.0.1 for the duration of the block.

    By default this is ``moto.server`` (werkzeug), which closes the connection after every
    response. With ``keep_alive`` moto is served by waitress, which keeps connections open as S3
    does, so that a client's cost per request is what it would be against AWS: use it to
    measure. Its limit: waitress never answers a zero-byte upload sent with
    ``Expect: 100-continue`` (botocore's PutObject), so do not upload empty objects through it.
    """
    port = free_port()
    if keep_alive:
        command = [sys.executable, "-m", "asyncfilter.testing._moto_keepalive", "--port", str(port)]
    else:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_child_env(),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{url}/moto-api/", proc, "moto server", timeout)
        yield MotoServer(url, proc.pid)
    finally:
        _stop(proc)


@dataclass(frozen=True)
class SyntheticS3Server:
    """The synthetic S3 listing server (:class:`SyntheticS3`), running in a child process."""

    endpoint_url: str
    pid: int

    def stats(self) -> dict[str, int]:
        """Requests answered so far: ``list``, ``get``, ``head``, ``copy`` and ``put``."""
        with urllib.request.urlopen(f"{self.endpoint_url}/_synthetic/stats", timeout=10) as r:
            result: dict[str, int] = json.loads(r.read())
            return result


@contextmanager
def synthetic_s3_server(
    buckets: Mapping[str, str],
    *,
    files: Mapping[str, str] | None = None,
    writable: Sequence[str] = (),
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    timeout: float = 60.0,
) -> Iterator[SyntheticS3Server]:
    """Run a synthetic S3 in a child process for the duration of the block.

    ``buckets`` maps each bucket name to a key space: ``"hashes:10000000"``, ``"folder:N"``,
    ``"deep:N"``, ``"unicode:N"`` or ``"file:/path/to/keys.txt"``; ``files`` maps a bucket name
    to a directory served as its objects; ``writable`` names buckets that start empty and take
    CopyObject and PutObject (a sweep's destination). Its own process keeps its CPU apart from
    the client's. A listing page is answered ``latency_ms`` (plus up to ``jitter_ms``) after it
    was asked for, the time spent writing it included.
    """
    port = free_port()
    args = [sys.executable, "-m", "asyncfilter.testing._synthetic_s3", "--port", str(port)]
    args += ["--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    for name, spec in buckets.items():
        args += ["--bucket", f"{name}={spec}"]
    for name, directory in (files or {}).items():
        args += ["--files", f"{name}={directory}"]
    if isinstance(writable, str):
        raise TypeError("writable: a sequence of bucket names, not one string")
    for name in writable:
        args += ["--writable", name]
    with tempfile.TemporaryFile() as errors:  # a pipe nobody reads could stall the server
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors, env=_child_env())
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_until_up(f"{url}/_synthetic/stats", proc, "synthetic S3 server", timeout)
            except RuntimeError as exc:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"{exc}: {lines[-1]}" if lines else str(exc)) from None
            yield SyntheticS3Server(url, proc.pid)
        finally:
            _stop(proc)


@dataclass(frozen=True)
class EmulatorProcess:
    """The Rekognition emulator running in a child process, with a small admin client.

    The admin calls are plain blocking HTTP, for fixtures and scripts; from async code call
    them through ``anyio.to_thread.run_sync`` (they take a millisecond against loopback).
    """

    endpoint_url: str
    pid: int

    def _call(self, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.endpoint_url}{path}", data=body, method="POST" if body is not None else "GET"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        """Call counts since the last reset (``calls``, ``answered``, ``throttled``, per object)."""
        result: dict[str, Any] = self._call("/_emulator/stats")
        return result

    def reset(self, *, labels: bool = False) -> None:
        """Zero the counts (and forget the labels when ``labels`` is true)."""
        self._call("/_emulator/reset" + ("?labels=1" if labels else ""), b"")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change :class:`EmulatorSettings` fields, e.g. ``configure(tps=5, latency_ms=50)``."""
        result: dict[str, Any] = self._call("/_emulator/settings", json.dumps(settings).encode())
        return result

    def add_labels(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Add labels-file entries (see :class:`LabelStore`)."""
        body = "\n".join(json.dumps(entry) for entry in entries).encode()
        self._call("/_emulator/labels", body)


@contextmanager
def emulator_process(
    *,
    s3_endpoint_url: str | None = None,
    labels_file: str | None = None,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    tps: float | None = None,
    error_rate: float = 0.0,
    check_objects: bool = True,
    seed: int | None = None,
    timeout: float = 30.0,
) -> Iterator[EmulatorProcess]:
    """Run ``asyncfilter emulator`` in a child process for the duration of the block."""
    port = free_port()
    args = [sys.executable, "-m", "asyncfilter", "emulator", "--port", str(port)]
    args += ["--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)]
    args += ["--error-rate", str(error_rate)]
    if s3_endpoint_url:
        args += ["--s3-endpoint-url", s3_endpoint_url]
    if labels_file:
        args += ["--labels", labels_file]
    if tps is not None:
        args += ["--tps", str(tps)]
    if not check_objects:
        args.append("--no-object-check")
    if seed is not None:
        args += ["--seed", str(seed)]
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_child_env()
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{url}/_emulator/health", proc, "Rekognition emulator", timeout)
        yield EmulatorProcess(url, proc.pid)
    finally:
        _stop(proc)
