"""Only the quota-saturation scenarios (50 and 500 TPS), with CPU per image, for working on
the raised-quota target without the whole suite.

python -m benchmarks.quota500 [--source synthetic|moto] [--images N]
                              [--variants 500,500_botocore] [--repeat N]
                              [--profile out.prof]   # cProfile (CPU time) of the "500" runs

``--source synthetic`` (the default) lists ``--images`` keys (default 20,000: 40 s at 500 TPS)
from a synthetic S3 that pages in 50 ms and takes the copies; ``--source moto`` seeds real
objects in moto (default 3,000: it cannot list many more quickly) and also runs the 50 TPS
figure. ``500_botocore``: DetectLabels through botocore's request pipeline, the rest as in
``500``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import anyio

from asyncfilter.testing import TEST_CREDENTIALS, EmulatorProcess, emulator_process, moto_server

from . import scenarios

VARIANTS = ("50", "500", "500_uvloop", "500_botocore", "500_botocore_uvloop")
DEFAULT_IMAGES = {"synthetic": 20_000, "moto": 3000}
DEFAULT_VARIANTS = {
    "synthetic": "500_botocore,500,500_uvloop",
    "moto": "50,500_botocore,500,500_uvloop",
}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", choices=("synthetic", "moto"), default="synthetic")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--variants", default=None, help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--profile", default=None, help="cProfile the 500 TPS run into this file")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    args.images = DEFAULT_IMAGES[args.source] if args.images is None else args.images
    args.variants = (args.variants or DEFAULT_VARIANTS[args.source]).split(",")
    if args.images < 1:
        parser.error(f"--images must be at least 1, got {args.images}")
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; pick from {', '.join(VARIANTS)}")
    if args.source == "synthetic" and "50" in args.variants:
        parser.error("--variants 50: the 50 TPS figure runs on moto's images (--source moto)")
    return args


@contextmanager
def servers(source: str, images: int) -> Iterator[tuple[Callable[..., Any], int, EmulatorProcess]]:
    """The S3 stand-in and the emulator, seeded: yields the scenario to run (called as
    ``run(quota, concurrency, direct=...)``), the S3 server's pid and the emulator."""
    if source == "moto":
        with (
            moto_server(keep_alive=True) as moto,
            emulator_process(s3_endpoint_url=moto.endpoint_url) as emu,
        ):
            env = anyio.run(scenarios.seed, moto, emu, images)
            yield partial(scenarios.quota_saturation, env), moto.pid, emu
    else:
        with emulator_process() as emu, scenarios.synthetic_env(emu, images) as senv:
            yield partial(scenarios.quota_saturation_long, senv), senv.server.pid, emu


def main() -> None:
    args = parse()
    for name, value in TEST_CREDENTIALS.items():
        os.environ[name] = value
    out: dict[str, Any] = {}
    with servers(args.source, args.images) as (scenario, s3_pid, emu):
        for name in [v for _ in range(args.repeat) for v in args.variants]:
            quota = 50.0 if name == "50" else 500.0
            concurrency = 32 if quota == 50.0 else 192
            options = {"use_uvloop": True} if name.endswith("uvloop") else {}
            mine, server, emulator = (
                scenarios.own_cpu(),
                scenarios.process_cpu(s3_pid),
                scenarios.process_cpu(emu.pid),
            )
            profiler = (
                cProfile.Profile(time.process_time) if args.profile and name == "500" else None
            )
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            run = partial(scenario, **({"direct": False} if "botocore" in name else {}))
            result = anyio.run(run, quota, concurrency, backend_options=options)
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            wall = time.perf_counter() - started
            n = result["images"]
            result["cpu_ms_per_image"] = {
                "client": round(1000 * (scenarios.own_cpu() - mine) / n, 3),
                args.source: round(1000 * (scenarios.process_cpu(s3_pid) - server) / n, 3),
                "emulator": round(1000 * (scenarios.process_cpu(emu.pid) - emulator) / n, 3),
            }
            result["wall_s"] = round(wall, 2)
            # the calls' own span at the emulator: the rate once calls flow, without the
            # sweep's start (clients, preflight, first listing page) and its tail
            stats = emu.stats()
            span = (stats["last_call"] or 0.0) - (stats["first_call"] or 0.0)
            if span > 0:
                result["span_calls_per_s"] = round(stats["calls"] / span, 1)
                result["span_ratio"] = round(stats["calls"] / span / quota, 4)
                result["outside_span_s"] = round(result["seconds"] - span, 2)
            out.setdefault(name, []).append(result)
            print(name, json.dumps(result), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
