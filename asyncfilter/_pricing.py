"""What DetectLabels costs: one tier table, in one place.

Amazon Rekognition Image prices Group 2 APIs (DetectLabels among them) per image, in monthly
tiers. The defaults are the published us-east-1 prices; pass your own :class:`PriceTable` for
another region or a negotiated rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Tiers as ``(images up to, USD per image)``, ascending; the last bound may be ``None``."""

    tiers: Sequence[tuple[int | None, float]] = (
        (1_000_000, 0.001),
        (5_000_000, 0.0008),
        (35_000_000, 0.0006),
        (None, 0.00025),
    )

    def cost(self, images: int, *, after: int = 0) -> float:
        """USD for ``images`` more images, priced in the tiers as if ``after`` images had
        already been billed this month (a sweep passes the calls its earlier runs paid for;
        it cannot know the rest of the account's use)."""
        total, start, remaining = 0.0, after, images
        lower = 0
        for upper, price in self.tiers:
            if remaining <= 0:
                break
            if upper is not None and start >= upper:
                lower = upper
                continue
            room = remaining if upper is None else min(remaining, upper - max(start, lower))
            total += room * price
            remaining -= room
            start += room
            lower = upper or lower
        return total

    def images_for(self, budget_usd: float, *, after: int = 0) -> int:
        """The most images ``budget_usd`` pays for."""
        low, high = 0, max(1, int(budget_usd / min(p for _, p in self.tiers)) + 1)
        while low < high:
            mid = (low + high + 1) // 2
            if self.cost(mid, after=after) <= budget_usd + 1e-12:
                low = mid
            else:
                high = mid - 1
        return low


DEFAULT_PRICES = PriceTable()
