"""Run every benchmark and write ``benchmarks/results/latest.json``, the chart and BENCHMARKS.md.

python -m benchmarks            # everything (make bench)
python -m benchmarks --quick    # under 4 minutes (make bench-quick): smaller sizes, no A/B
                                # variants; its figures check that everything runs, the targets
                                # are judged on full runs
python -m benchmarks --only engine,quota   # measure these sections again, keep the rest

Sections: listing, review, estimates, engine (overhead and memory), quota (50 TPS; 500 TPS over
20,000 synthetic keys beside 3,000 in moto; the published loop), pipeline, ledger (at the quota,
resume), soak, stop, curve.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio

from asyncfilter.testing import (
    TEST_CREDENTIALS,
    EmulatorProcess,
    emulator_process,
    moto_server,
)

from . import estimates, scenarios
from .report import write_chart, write_markdown

HERE = Path(__file__).parent
RESULTS = HERE / "results"

TARGETS = {
    "quota_saturation.ratio": (">=", 0.95),
    "quota_saturation.throttled_share": ("<=", 0.01),
    "quota_saturation.lost": ("<=", 0),
    "quota_saturation_500.ratio": (">=", 0.95),
    "review.keypress_to_next_image_ms.p95": ("<=", 150.0),
    "listing.speedup": (">=", 20.0),
    "listing.ceiling_ratio": (">=", 0.8),
    "listing.growth_mb": ("<=", 50.0),
    "estimates.good_5pct_clustered.random_order.min_hit_rate.fired_share": ("<=", 0.05),
    "quota_saturation_500.throttled_share": ("<=", 0.005),
    "quota_saturation_500.lost": ("<=", 0),
    "vs_sequential.speedup": (">=", 10.0),
    "pipeline_efficiency.ratio": (">=", 0.85),
    "engine_overhead.images_per_s": (">=", 10_000),
    "memory.growth_mb": ("<=", 50.0),
    "stop.calls_after_target": ("<=", 0),
    "resume.paid_twice": ("<=", 0),
    "soak.lost": ("<=", 0),
}


def overhead(what: str, *args: str) -> dict[str, Any]:
    """Run the in-process benchmark in a child process, alone on its core."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.overhead", what, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.machine(),
    }


def versions() -> dict[str, str]:
    names = ["asyncfilter", "aioboto3", "aiobotocore", "botocore", "boto3", "anyio", "aiolimiter"]
    names += ["moto", "aiohttp"]
    return {name: metadata.version(name) for name in names}


def check(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    verdicts = {}
    for path, (op, bound) in TARGETS.items():
        value: Any = results["benchmarks"]
        for part in path.split("."):  # a dotted path into the nested results
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        ok = value >= bound if op == ">=" else value <= bound
        verdicts[path] = {"value": value, "target": f"{op} {bound}", "met": ok}
    return verdicts


SECTIONS = (
    "listing", "review", "estimates", "engine", "quota", "pipeline", "ledger", "soak", "stop",
    "curve",
)  # fmt: skip
#: The sections that need moto and the emulator running.
SERVED = frozenset({"quota", "pipeline", "ledger", "soak", "stop", "curve"})


def sections(only: str | None) -> set[str]:
    if only is None:
        return set(SECTIONS)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown or not wanted:
        raise SystemExit(f"--only: unknown section(s) {sorted(unknown)}; pick from {SECTIONS}")
    return wanted


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        help="measure these sections again; keep the others from latest.json",
    )
    args = parser.parse_args()
    quick = args.quick
    want = sections(args.only)
    for name, value in TEST_CREDENTIALS.items():
        os.environ[name] = value
    started = time.perf_counter()
    bench: dict[str, Any] = {}
    curve: list[dict[str, Any]] = []

    if "listing" in want:
        log("listing: one paginator, parallel, the parse ceiling; an S3 Inventory (synthetic S3)")
        listing = subprocess.run(
            [sys.executable, "-m", "benchmarks.listing",
             *(["--quick", "--inventory-keys", "300000"] if quick else [])],
            capture_output=True, text=True, check=True, cwd=HERE.parent,
        )  # fmt: skip
        bench.update(json.loads(listing.stdout.strip().splitlines()[-1]))
        log(f"  {bench['listing']}")
        log(f"  {bench['inventory']}")

    if "review" in want and shutil.which("chromium"):
        log("review page: keypress to next image, decisions/s, first image of a 100,000 band")
        review = subprocess.run(
            [sys.executable, "-m", "benchmarks.review"],
            capture_output=True, text=True, check=True, cwd=HERE.parent,
        )  # fmt: skip
        bench["review"] = json.loads(review.stdout.strip().splitlines()[-1])
        log(f"  {bench['review']}")

    if "estimates" in want:
        log("stop rules: --min-hit-rate against --miss-cutoff (simulated sweeps)")
        bench["estimates"] = estimates.run(30 if quick else 200)
        log(f"  {bench['estimates']['good_5pct_clustered']['random_order']}")

    if "engine" in want:
        engine(bench, quick)
    if want & SERVED:
        served(bench, curve, want, quick)
    finish(bench, curve, quick, started, args.only)


def engine(bench: dict[str, Any], quick: bool) -> None:
    log("engine overhead (fakes, one core)")
    bench["engine_overhead"] = overhead("speed", "--images", "100000" if quick else "300000")
    log(f"  {bench['engine_overhead']['images_per_s']:,.0f} images/s")
    with tempfile.TemporaryDirectory() as tmp:
        with_ledger = overhead(
            "speed", "--images", "100000" if quick else "300000", "--state", f"{tmp}/l.sqlite"
        )
    bench["engine_overhead"]["with_ledger_images_per_s"] = with_ledger["images_per_s"]
    log(f"  {with_ledger['images_per_s']:,.0f} images/s with the ledger")
    keys = "200000" if quick else "1000000"
    log(f"memory ({keys} keys through the fakes)")
    bench["memory"] = overhead("memory", "--keys", keys)
    log(f"  peak {bench['memory']['peak_mb']} MB, growth {bench['memory']['growth_mb']} MB")


def served(bench: dict[str, Any], curve: list[dict[str, Any]], want: set[str], quick: bool) -> None:
    """The scenarios against moto and the emulator (``curve`` is filled in place)."""
    with (
        moto_server(keep_alive=True) as moto,
        emulator_process(s3_endpoint_url=moto.endpoint_url) as emu,
    ):
        images = 1000 if quick else 3000
        log(f"seeding {images} images into moto")
        env = anyio.run(scenarios.seed, moto, emu, images)

        if "quota" in want or "ledger" in want:
            log("quota saturation (200 ± 50 ms, 50 TPS)")
            bench["quota_saturation"] = anyio.run(scenarios.quota_saturation, env)
            log(f"  {bench['quota_saturation']}")
        if "quota" in want:
            quota_500(bench, env, emu, quick)

            log("published sequential loop on the same emulator")
            bench["vs_sequential"] = scenarios.vs_sequential(
                env, bench["quota_saturation"]["images_per_s"], 30 if quick else 200
            )
            log(f"  {bench['vs_sequential']}")

        if "pipeline" in want:
            log("pipeline efficiency (no latency, no quota)")
            bench["pipeline_efficiency"] = anyio.run(
                scenarios.pipeline_efficiency, env, 2 if quick else 3
            )
            log(f"  {bench['pipeline_efficiency']}")

        if "ledger" in want:
            with tempfile.TemporaryDirectory() as tmp:
                log("quota saturation with the ledger on")
                bench["ledger"] = anyio.run(
                    scenarios.ledger_at_quota,
                    env,
                    bench["quota_saturation"],
                    f"{tmp}/a.sqlite",
                    "img/000" if quick else "",  # quick: the first 1,000 images
                )
                log(f"  {bench['ledger']}")
                log("interrupt halfway, resume")
                bench["resume"] = anyio.run(scenarios.resume, env, f"{tmp}/b.sqlite")
                log(f"  {bench['resume']}")

        if "soak" in want:
            soak_images = 5000 if quick else 20000
            log(f"soak: {soak_images} images with ~10% faults")
            bench["soak"] = anyio.run(scenarios.soak, env, soak_images)
            log(f"  {bench['soak']}")

        if "stop" in want:
            log("stopping at the hit target")
            bench["stop"] = anyio.run(scenarios.stopping, env)
            log(f"  {bench['stop']}")

        if "curve" in want:
            levels = [1, 16, 64] if quick else [1, 2, 4, 8, 16, 32, 64, 128]
            log(f"concurrency curve {levels}")
            curve[:] = anyio.run(scenarios.concurrency_curve, env, levels)
            for point in curve:
                log(f"  {point}")


def quota_500(bench: dict[str, Any], env: scenarios.Env, emu: EmulatorProcess, quick: bool) -> None:
    """500 TPS: a sweep long enough to show the steady rate (a synthetic source), with the
    short run on moto's images beside it as ``moto_3000``."""
    log(f"quota saturation at a raised quota (200 ± 50 ms, 500 TPS), {len(env.keys)} in moto")
    on_moto = anyio.run(scenarios.quota_saturation, env, 500.0, 192)
    on_moto["source"] = "moto"
    log(f"  {on_moto}")
    images = 5000 if quick else 20_000
    with scenarios.synthetic_env(emu, images) as senv:
        log(f"  the same over {images} keys listed from a synthetic S3 (50 ms a page)")
        long = anyio.run(scenarios.quota_saturation_long, senv)
        log(f"  {long}")
        if not quick:  # the A/B variants: full runs only
            log("  the same with uvloop (the CLI's loop when the `fast` extra is installed)")
            long["uvloop"] = anyio.run(
                scenarios.quota_saturation_long, senv, backend_options={"use_uvloop": True}
            )
            log(f"  {long['uvloop']}")
            log("  the same with DetectLabels through botocore's pipeline (the direct path's A/B)")
            via_botocore = partial(scenarios.quota_saturation_long, direct=False)
            long["botocore_detection"] = anyio.run(via_botocore, senv)
            log(f"  {long['botocore_detection']}")
    long["moto_3000"] = on_moto
    bench["quota_saturation_500"] = long


def finish(
    bench: dict[str, Any],
    curve: list[dict[str, Any]],
    quick: bool,
    started: float,
    only: str | None,
) -> None:
    """Write latest.json, the chart and BENCHMARKS.md; with ``--only``, over the last run's
    figures, saying which were measured again and when."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    seconds = round(time.perf_counter() - started, 1)
    results: dict[str, Any]
    if only is None:
        results = {
            "benchmarks": bench,
            "concurrency_curve": curve,
            "mode": "quick" if quick else "full",
            "seconds": seconds,
            "machine": machine(),
            "versions": versions(),
            "recorded_at": now,
        }
    else:
        results = json.loads((RESULTS / "latest.json").read_text())
        results["benchmarks"].update(bench)
        if curve:
            results["concurrency_curve"] = curve
        results.setdefault("remeasured", []).append(
            {"sections": only, "mode": "quick" if quick else "full", "seconds": seconds,
             "recorded_at": now, "versions": versions()}
        )  # fmt: skip
    results["targets"] = check(results)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    write_chart(results, RESULTS / "concurrency.png")
    write_markdown(results, HERE.parent / "BENCHMARKS.md")
    missed = [k for k, v in results["targets"].items() if not v["met"]]
    if quick:  # smaller sizes: a listing of 1 M keys is a third start-up and end
        log(f"done in {seconds} s; quick mode, targets are judged on full runs (make bench); "
            f"below target at quick sizes: {', '.join(missed) or 'none'}")  # fmt: skip
    else:
        log(f"done in {seconds} s; targets missed: {', '.join(missed) or 'none'}")


if __name__ == "__main__":
    main()
