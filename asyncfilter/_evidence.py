"""What the answers so far say about the bucket: the hit rate and the review band's rate with
their confidence sequences, the forecast for the target, and the typo hint.

The controller feeds it every decided image and asks it the questions its stop rules need;
the rules themselves stay in the controller. The math lives in :mod:`asyncfilter._estimate`,
:mod:`asyncfilter._forecast` and :mod:`asyncfilter._hints`; this module only decides what
counts as a draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._estimate import Estimate, HitRateTracker
from ._forecast import Forecast, forecast, target_unreachable
from ._hints import LabelHints
from ._models import Label
from ._pricing import PriceTable
from ._results import ImageResult, Outcome


class Evidence:
    """Running estimates; :meth:`count` is O(1), the intervals are computed when read."""

    def __init__(
        self,
        labels: Sequence[str],
        threshold: float,
        *,
        population: Callable[[], int | None] | None = None,
    ) -> None:
        self._threshold = threshold
        self._population = population
        self.hit_rate = HitRateTracker()
        self.review_rate = HitRateTracker()
        self.hints = LabelHints(labels)
        self._unanswered = 0

    @property
    def random_order(self) -> bool:
        return self._population is not None

    @property
    def eligible(self) -> int | None:
        return self._population() if self._population is not None else None

    def count(self, result: ImageResult) -> bool:
        """Count one decided image; ``True`` when it was a draw (an answered image).

        Draws are the images the detector answered: hits (surplus too), review images,
        misses, and answered images whose copy failed. Skipped objects are not eligible;
        images with no answer leave the population.
        """
        outcome = result.outcome
        if outcome is Outcome.HIT or outcome is Outcome.SURPLUS:
            hit, review = True, False
        elif outcome is Outcome.REVIEW:
            hit, review = False, True
        elif outcome is Outcome.MISS:
            hit = review = False
        elif outcome is Outcome.ERROR and result.match is not None:  # answered; copy failed
            review = result.match.confidence < self._threshold
            hit = not review
        else:
            if outcome is Outcome.ERROR:
                self._unanswered += 1
            return False
        total = self.eligible
        if total is not None:
            # errors leave the pool; a slightly large total only widens the range
            self.hit_rate.population = self.review_rate.population = total - self._unanswered
        self.hit_rate.add(hit)
        self.review_rate.add(review)
        return True

    def saw(self, labels: Sequence[Label]) -> None:
        """The labels of one answer, for the typo hint."""
        self.hints.add(labels)

    def below(self, rate: float) -> bool:
        return self.hit_rate.below(rate)

    def unreachable(self, hits: int, target: int, remaining: tuple[int, str] | None) -> str | None:
        estimate = self.hit_rate.estimate()
        if estimate is None:
            return None
        calls, limit = remaining if remaining is not None else (None, "the calls left")
        return target_unreachable(estimate, hits, target, calls, limit=limit)

    def forecast(
        self,
        hits: int,
        target: int | None,
        prices: PriceTable,
        after_calls: int,
        calls_per_s: float | None,
    ) -> Forecast | None:
        estimate = self.hit_rate.estimate()
        if target is None or estimate is None:
            return None
        return forecast(
            estimate,
            hits=hits,
            target=target,
            prices=prices,
            after_calls=after_calls,
            calls_per_s=calls_per_s,
        )

    def estimates(self) -> tuple[Estimate | None, Estimate | None]:
        return self.hit_rate.estimate(), self.review_rate.estimate()
