"""The estimate and the forecast in words (progress line, summary, ``plan --sample``)."""

from __future__ import annotations

from asyncfilter._estimate import Estimate, hit_rate
from asyncfilter._forecast import Forecast, forecast
from asyncfilter.cli._estimate_text import DASH, estimate_text, forecast_text, sample_text


def test_the_estimate_reads_as_a_rate_a_range_and_how_much_was_seen() -> None:
    e = Estimate(0.048, 0.029, 0.076, 0.95, 600, 29, 12_000)
    assert estimate_text(e) == f"hit rate 4.8% (95%: 2.9{DASH}7.6%) over 600 of 12,000 eligible"


def test_small_rates_keep_two_significant_figures() -> None:
    e = Estimate(0.005, 0.0017, 0.0111, 0.95, 3000, 15)
    assert estimate_text(e) == f"hit rate 0.50% (95%: 0.17{DASH}1.11%) over 3,000"


def test_listing_order_says_it_describes_the_listed_part_only() -> None:
    text = estimate_text(hit_rate(600, 29), random_order=False)
    assert text.endswith("(listing order: describes the listed part only)")


def test_the_forecast_reads_as_calls_dollars_and_time_rounded_outward() -> None:
    f = Forecast((6_612, 17_251), (6.612, 17.251), (132.24, 345.02))
    assert forecast_text(f, target=500, calls_per_s=50) == (
        f"500 hits need 6,610{DASH}17,300 more calls, $6.61{DASH}$17.25, 2.2{DASH}5.8 min at 50/s"
    )


def test_an_open_ended_or_hopeless_forecast_says_so() -> None:
    open_ended = Forecast((5_110, None), (5.11, None), None)
    assert forecast_text(open_ended, target=500) == (
        "500 hits need at least 5,110 more calls ($5.11), and the bucket may not hold that many"
    )
    hopeless = Forecast((None, None), (None, None), None)
    assert "out of reach" in forecast_text(hopeless, target=500)


def test_plan_sample_line_puts_the_estimate_and_the_forecast_together() -> None:
    e = hit_rate(600, 29)
    f = forecast(e, hits=29, target=500, calls_per_s=50)
    text = sample_text(e, "Robin", f, target=500, calls_per_s=50)
    assert text.startswith(f"~4.8% Robin (95%: {e.low * 100:.1f}{DASH}{e.high * 100:.1f}%)")
    assert "in 600 sampled; 500 hits need " in text
    assert text.endswith("at 50/s")
