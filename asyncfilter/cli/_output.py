"""What the CLI shows a person: the live progress line, the summary, the results file."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import orjson
from rich.console import Console
from rich.live import Live
from rich.text import Text

from .._results import ImageResult, Report, Stats
from ._estimate_text import estimate_text, forecast_text

if TYPE_CHECKING:
    from .._export import ExportReport
    from .._scan import Sweep


def _short(n: float) -> str:
    """1,234 / 12.3k / 1.23M: four significant figures at most, so the line keeps its width."""
    if n < 10_000:
        return f"{n:,.0f}"
    if n < 1_000_000:
        return f"{n / 1000:.3g}k"
    return f"{n / 1_000_000:.3g}M"


def progress_text(stats: Stats) -> Text:
    """The live line, short enough for an 80-column terminal even at millions of images.
    Skipped objects (free, listed in the summary) and zero counts of the rarer outcomes are
    left out."""
    parts: list[tuple[str, str]] = [
        (_short(stats.decided), "bold"),
        (" done  ", "dim"),
        (_short(stats.hits), "bold green"),
        (" hit ", "dim"),
    ]
    if stats.review:
        parts += [(_short(stats.review), "bold yellow"), (" rev ", "dim")]
    parts += [(_short(stats.misses), ""), (" miss ", "dim")]
    parts += [(_short(stats.errors), "bold red" if stats.errors else ""), (" err ", "dim")]
    if stats.retries:
        parts += [(_short(stats.retries), "yellow"), (" retry ", "dim")]
    rate, spent = stats.images_per_s, stats.estimated_cost_usd
    parts += [
        (f" {rate:.1f}/s " if rate < 100 else f" {_short(rate)}/s ", ""),
        # cents matter while the bill is small
        (f"${spent:.2f}" if spent < 100 else f"${_short(spent)}", ""),
    ]
    return Text.assemble(*parts)


def progress_lines(stats: Stats, target: int | None = None) -> Text:
    """The counts, then what they say so far: the hit rate, the forecast, a typo hint. Each
    line fits 80 columns."""
    lines = [progress_text(stats)]
    if stats.hit_rate is not None:
        lines.append(_fit(estimate_text(stats.hit_rate, random_order=stats.random_order,
                                        brief=True)))  # fmt: skip
    if stats.forecast is not None and target is not None:
        lines.append(_fit(forecast_text(stats.forecast, target=target, calls_per_s=stats.rate)))
    if stats.hint:
        lines.append(_fit(stats.hint, "bold yellow"))
    return Text("\n").join(lines)


def _fit(line: str, style: str = "") -> Text:
    """One line of at most 80 columns (the summary has it whole)."""
    return Text(line if len(line) <= 80 else line[:79] + "\u2026", style=style)


async def show_progress(sweep: Sweep, console: Console, target: int | None = None) -> None:
    """Redraw the progress lines four times a second until cancelled."""
    with Live(progress_lines(sweep.stats(), target), console=console, transient=True) as live:
        while True:
            await anyio.sleep(0.25)
            live.update(progress_lines(sweep.stats(), target))


def summary_text(report: Report) -> str:
    s = report.stats
    lines = [
        f"stopped: {report.stop_reason.value}" + (f" ({report.error})" if report.error else ""),
        f"hits {s.hits:,}"
        + (f"  review {s.review:,}" if s.review else "")
        + f"  misses {s.misses:,}  skipped {s.skipped:,}  errors {s.errors:,}"
        + (f"  surplus {s.surplus:,}" if s.surplus else ""),
        f"elapsed {s.elapsed_s:.2f} s  {s.images_per_s:,.1f} images/s  paid calls {s.paid_calls:,}"
        f"  estimated cost ${s.estimated_cost_usd:,.3f}",
    ]
    if report.stop_detail:
        lines.append(report.stop_detail)
    if s.hit_rate is not None:
        lines.append(estimate_text(s.hit_rate, random_order=s.random_order))
    if s.review_rate is not None and s.review:
        lines.append(estimate_text(s.review_rate, random_order=s.random_order, what="review rate"))
    if s.forecast is not None and report.target is not None and s.hits < report.target:
        lines.append(forecast_text(s.forecast, target=report.target, calls_per_s=s.rate))
    if report.listing:
        listing = report.listing
        lines.append(
            f"listed {listing['keys']:,} keys in {listing['pages']:,} pages, "
            f"{listing['seconds']:.1f} s, about ${listing['cost_usd']:.4f}; random order, "
            f"seed {report.seed}"
        )
    if report.source and report.source.get("kind") == "inventory":
        days = report.source["age_s"] / 86400
        lines.append(
            f"source: the S3 Inventory of {report.source['created_at']} ({days:.1f} days old; "
            "objects deleted since then are recorded as InvalidS3ObjectException)"
        )
    if report.review_manifest:
        lines.append(f"review band listed in {report.review_manifest}")
    if s.cached:
        copies = f", {s.duplicates:,} of them copies of other images" if s.duplicates else ""
        lines.append(f"answered without a call {s.cached:,}{copies} (saved ${s.saved_usd:,.3f})")
    if report.skipped_by_reason:
        lines.append(
            "skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(report.skipped_by_reason.items()))
        )
    for code, count in sorted(report.errors_by_code.items()):
        example = report.error_examples.get(code)
        lines.append(f"error {code} x{count:,}" + (f": {example}" if example else ""))
    if s.throttled or s.retries:
        lines.append(f"retried calls {s.retries:,} (throttled responses {s.throttled:,})")
    return "\n".join(lines)


class ResultsWriter:
    """JSON Lines, written to ``FILE.part`` and renamed into place when the sweep ends, so a
    reader never sees a half-written results file under the final name."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._part = self.path.with_name(self.path.name + ".part")
        self._file = self._part.open("wb")

    def write(self, result: ImageResult) -> None:
        self._file.write(orjson.dumps(result.to_dict(), option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._part.replace(self.path)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def export_text(report: ExportReport) -> str:
    """One line per format: what it holds, what was left out and why, where it went."""
    lines = []
    for name, f in report.formats.items():
        left_out = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in f.excluded.items())
        where = (
            f.files[0] if len(f.files) == 1 else f"{len(f.files)} files under {_common(f.files)}"
        )
        lines.append(
            f"export {name}: {f.images:,} images"
            + (f", {f.boxes:,} boxes" if f.boxes else "")
            + (f" (left out: {left_out})" if left_out else "")
            + f" -> {where}"
        )
    for uri, reason in sorted(report.unreadable.items()):
        lines.append(f"warning: no pixel size for {uri}: {reason}")
    return "\n".join(lines)


def _common(paths: list[str]) -> str:
    """The folder or ``s3://`` prefix that holds all of ``paths``."""
    prefix = os.path.commonprefix(paths)  # noqa: RUF071 - by character, then cut at a "/"
    return prefix[: prefix.rfind("/") + 1] if "/" in prefix else prefix
