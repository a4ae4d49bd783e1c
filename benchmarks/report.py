"""Turn ``latest.json`` into the chart and BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = results["concurrency_curve"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for quota, style, label in ((None, "o-", "no quota"), (50.0, "s-", "50 TPS quota")):
        pts = [p for p in curve if p["quota"] == quota]
        ax.plot(
            [p["concurrency"] for p in pts], [p["images_per_s"] for p in pts], style, label=label
        )
    ax.axhline(50, color="tab:red", linestyle="--", linewidth=1, label="quota (50 TPS)")
    base = results["benchmarks"].get("vs_sequential", {}).get("baseline_images_per_s")
    if base:
        ax.axhline(base, color="gray", linestyle=":", linewidth=1.2, label="published loop")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrency (workers)")
    ax.set_ylabel("images / s")
    ax.set_title("asyncfilter throughput at 200 ± 50 ms DetectLabels latency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_markdown(results: dict[str, Any], path: Path) -> None:
    b = results["benchmarks"]
    rows = []
    short = "below (quick sizes)" if results["mode"] == "quick" else "**missed**"
    for key, verdict in results["targets"].items():
        rows.append(
            f"| `{key}` | {verdict['value']} | {verdict['target']} | "
            f"{'met' if verdict['met'] else short} |"
        )
    curve_rows = [
        f"| {p['concurrency']} | {'50' if p['quota'] else '-'} | {p['images']} | "
        f"{p['images_per_s']} | {p['throttled']} |"
        for p in results["concurrency_curve"]
    ]
    m, v = results["machine"], results["versions"]
    remeasured = "".join(
        f"\nMeasured again with `--only {r['sections']}` ({r['mode']} mode, {r['seconds']} s) at "
        f"{r['recorded_at']}: those figures are from that run, the others from the run above."
        for r in results.get("remeasured", [])
    )
    text = f"""# Benchmarks

`make bench` runs everything; `make bench-quick` a shorter version (under 4 minutes: smaller
sizes, no A/B variants; it checks that everything runs, the targets are judged on full runs). Both
write [`benchmarks/results/latest.json`](benchmarks/results/latest.json) and the chart below, and
regenerate this page. This run: **{results["mode"]}** mode, {results["seconds"]} s, recorded
{results["recorded_at"]} on {m["platform"]} ({m["cpus"]} CPUs), Python {m["python"]},
asyncfilter {v["asyncfilter"]}, aiobotocore {v["aiobotocore"]},
botocore {v["botocore"]}.{remeasured}

This machine is shared and noisy, so every figure that compares is a ratio measured side by side
in the same run. moto and the Rekognition emulator run in their own processes.

## Targets

| figure | measured | target | |
| --- | --- | --- | --- |
{chr(10).join(rows)}

## What each figure is

1. **Quota saturation**: the emulator answers in 200 ± 50 ms and throttles above 50 TPS (token
   bucket, one second deep); asyncfilter sweeps {b.get("quota_saturation", {}).get("images")}
   images from moto at `--tps 50 --concurrency 32`, copying the 10% hits. Ratio = images/s ÷ 50.
   Throttled share is counted at the emulator; lost = images not decided + errors.
2. **Against the published loop**: the sequential boto3 loop from the original write-up
   (`benchmarks/baseline.py`) on the same emulator settings and the first
   {b.get("vs_sequential", {}).get("baseline_images")} of the same images. Speedup =
   asyncfilter's images/s (figure 1) ÷ the loop's.
3. **Pipeline efficiency**: no latency, quota or object checks. The full sweep (list, detect,
   copy 10% hits) against a bare aiobotocore loop making the same DetectLabels calls at the same
   concurrency (32) with nothing else; best of {b.get("pipeline_efficiency", {}).get("rounds")}
   alternating rounds each. `detection_only_ratio` fakes the listing and the copies, leaving
   DetectLabels over HTTP: it isolates the engine's own cost from that of the extra S3 requests
   (ListObjectsV2 pages, one CopyObject per hit) that the full sweep makes and the bare loop
   does not.
4. **Engine overhead**: in-process fakes for listing, detection and copying, no HTTP, one
   process: images/s decided.
5. **Memory**: {b.get("memory", {}).get("keys")} keys through the fakes; RSS sampled at 100,000
   decided and at the end: growth = the difference. Peak is the process's maximum RSS.
6. **Concurrency curve**: detection alone (listing and copying faked) at 200 ± 50 ms, with and
   without the 50 TPS quota (with the quota, `--tps 50`).
7. **Stopping**: target 20 hits at 200 ± 50 ms: DetectLabels calls started after the 20th copy
   completed, and seconds from then until `scan` returned (the calls already in flight finish and
   are recorded as `surplus`).
8. **The ledger's cost** (`ledger`): figure 1 again with `--state`: images/s with the ledger ÷
   without, at the quota. `engine_overhead.with_ledger_images_per_s` shows the CPU side: the
   fakes with a ledger written for every image.
9. **Resume** (`resume`): {b.get("resume", {}).get("eligible")} images, no latency; the sweep is
   stopped once half its results are in, then run again with the same ledger. Paid calls are
   counted at the emulator; `paid_twice` counts objects the emulator answered more than once.
10. **Soak** (`soak`): {b.get("soak", {}).get("images")} images through the emulator with ~10%
   faults (5% 500s, 2% connections reset, 2% responses cut off mid-body, 1% stalls past the 1 s
   read timeout); listing and copying faked. RSS at 10%, 50% and 100% of the images, open file
   descriptors and asyncio tasks before and after, and every image accounted for.

11. **Quota saturation at a raised quota** (`quota_saturation_500`): figure 1 at 500 TPS
   (`--tps 500 --concurrency 192`: about 125 calls are in flight at 200 ms) over
   {b.get("quota_saturation_500", {}).get("images")} keys listed from a synthetic S3 at 50 ms a
   page (`asyncfilter.testing.synthetic_s3_server`, copies to a writable bucket on the same
   server, counted there as `copies_at_s3`), the sweep in one process on one core beside the S3
   stand-in and the emulator: about 40 s, so the sweep's fixed start and tail (~0.5 s, timed as
   `to_first_call_s` and `after_last_call_s`) weigh ~1%. Side by side in the same run: `uvloop`
   (the CLI's loop with the `fast` extra), `botocore_detection` (DetectLabels through botocore's
   request pipeline instead of the direct path) and `moto_3000` (a 6-second sweep of 3,000 real
   objects in moto, where the fixed time weighs ~10%).
12. **Listing** (`listing`): a synthetic S3 (`asyncfilter.testing.synthetic_s3_server`, generated
   keys, {b.get("listing", {}).get("latency_ms", 100)} ms a page) with
   {b.get("listing", {}).get("keys")} keys: botocore's ListObjectsV2 paginator (as the AWS CLI
   and boto3 list; timed on its first pages, the whole bucket would take far longer) against
   parallel listing at the default `--list-concurrency` ({
        b.get("listing", {}).get("list_concurrency")
    }), which reads pages directly (`asyncfilter/_list_direct.py`);
   `one_direct_paginator_keys_per_s` is one range of the parallel lister alone, to tell
   parallelism from the direct reader. The parse ceiling is the keys one core reads per CPU
   second with no latency (one range, direct). `ceiling_ratio` = parallel ÷ ceiling;
   `growth_mb` is the lister's RSS growth over the listing. `smaller_bucket` is the same
   parallel listing of a 1 M-key bucket (full runs; the quick run lists 1 M keys as its main
   figure): splitting the key space at the start and the last ranges at the end weigh more
   there, so it is slower per key than the 10 M figure the targets are judged on. The S3
   stand-in runs in its own process on the machine's other core and answers each page its
   latency after it was asked for, the time it spends writing the page included (as S3's own
   work is part of S3's latency).
13. **Inventory** (`inventory`): the same keys as a gzip CSV S3 Inventory report, read from the
   synthetic S3.
14. **Stop rules** (`estimates`): simulated sweeps of 20,000-object buckets in random order:
   calls `--min-hit-rate 0.05` and `--miss-cutoff 20` take to a verdict on a poor (1%) bucket,
   and how often each wrongly stops a good (5%, clustered) one.
15. **The review page** (`review`, `benchmarks/review.py`, real headless Chromium): a band of
   200 decided with the `a` key (time from the keypress to the next image shown, while moves to
   S3 run behind), decisions per second the server acknowledges (committed), and, for a band of
   100,000, the time to open the review and from page load to the first image.

### What limits pipeline efficiency

The full sweep makes requests the bare loop does not: a ListObjectsV2 page per 1,000 keys and a
CopyObject per hit. On this 2-core machine the sweep's process is CPU-bound (one core), so their
client-side cost shows directly; `cpu_ms_per_image` in the raw figures splits it. Profiled with
cProfile (2,000 images, 10% hits):

- **botocore's per-request cost for S3** dominates the gap: a CopyObject costs ~1.8 ms of client
  CPU (endpoint-ruleset resolution runs per request because the key is a ruleset parameter, plus
  signing and the user-agent string), against ~1 ms for a DetectLabels call.
- **ListObjectsV2 parsing**: botocore parses each `LastModified` with dateutil, ~0.1 ms a key.
  Fixed: sessions asyncfilter creates leave timestamps as text (the sweep never reads them).
- **moto closes every connection** (werkzeug's `Connection: close`), so every S3 request also
  paid a TCP connect and pool churn in the client that S3 would not cause. Fixed for measuring:
  the benchmarks serve moto through waitress, which keeps connections alive
  (`moto_server(keep_alive=True)`); copies went from ~3.3 to ~1.8 ms of client CPU.
- **moto's own CPU** (~0.7 ms per image during the sweep) competes with the emulator and the
  sweep for the machine's two cores.
- **Listing stalls**: the producer used to fetch the next page only after queueing the last; now
  a task lists one page ahead.

With listing and copies faked (`detection_only_ratio`) the engine runs at the bare loop's speed,
so what remains is the cost of the extra S3 requests themselves, not of the engine.

![throughput against concurrency](benchmarks/results/concurrency.png)

| concurrency | quota | images | images/s | throttled |
| --- | --- | --- | --- | --- |
{chr(10).join(curve_rows)}

{_extra_sections()}

## Raw figures

```json
{_json(b)}
```
"""
    path.write_text(text)


def _extra_sections() -> str:
    """Sections measured by their own scripts (near-copies, the review page), kept as written
    in ``benchmarks/results/*.md`` and included whole."""
    here = Path(__file__).parent / "results"
    return "\n\n".join(p.read_text().strip() for p in sorted(here.glob("*.md")))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2)
