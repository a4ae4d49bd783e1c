"""Only the quota-saturation scenarios (50 and 500 TPS), with CPU per image, for working on
the raised-quota target without the whole suite.

python -m benchmarks.quota500 [--images 3000] [--variants 500,500_botocore] [--repeat N]
                              [--profile out.prof]   # cProfile (CPU time) of the "500" runs

``500_botocore``: DetectLabels through botocore's request pipeline, the rest as in ``500``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import time
from functools import partial
from typing import Any

import anyio

from asyncfilter.testing import TEST_CREDENTIALS, emulator_process, moto_server

from . import scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument(
        "--variants",
        default="50,500_botocore,500,500_uvloop",
        help="comma-separated: 50, 500, 500_uvloop, 500_botocore, 500_botocore_uvloop",
    )
    parser.add_argument("--profile", default=None, help="cProfile the 500 TPS run into this file")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for name, value in TEST_CREDENTIALS.items():
        os.environ[name] = value
    out: dict[str, Any] = {}
    with (
        moto_server(keep_alive=True) as moto,
        emulator_process(s3_endpoint_url=moto.endpoint_url) as emu,
    ):
        env = anyio.run(scenarios.seed, moto, emu, args.images)
        runs: list[tuple[str, float, int, dict[str, Any], bool]] = []
        for _ in range(args.repeat):
            for name in args.variants.split(","):
                quota = 50.0 if name == "50" else 500.0
                options = {"use_uvloop": True} if name.endswith("uvloop") else {}
                runs.append(
                    (name, quota, 32 if quota == 50.0 else 192, options, "botocore" in name)
                )
        for name, quota, concurrency, options, botocore in runs:
            mine, server, emulator = (
                scenarios.own_cpu(),
                scenarios.process_cpu(moto.pid),
                scenarios.process_cpu(emu.pid),
            )
            profiler = (
                cProfile.Profile(time.process_time) if args.profile and name == "500" else None
            )
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            # (a tree from before the direct path has no such argument: only the default runs)
            run = partial(scenarios.quota_saturation, **({"direct": False} if botocore else {}))
            result = anyio.run(run, env, quota, concurrency, backend_options=options)
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            wall = time.perf_counter() - started
            n = result["images"]
            result["cpu_ms_per_image"] = {
                "client": round(1000 * (scenarios.own_cpu() - mine) / n, 3),
                "moto": round(1000 * (scenarios.process_cpu(moto.pid) - server) / n, 3),
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
