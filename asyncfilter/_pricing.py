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

    def cost(self, images: int, *, already_this_month: int = 0) -> float:
        """USD for ``images`` more images after ``already_this_month`` were billed."""
        total, start, remaining = 0.0, already_this_month, images
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

    def images_for(self, budget_usd: float, *, already_this_month: int = 0) -> int:
        """The most images ``budget_usd`` pays for."""
        low, high = 0, max(1, int(budget_usd / min(p for _, p in self.tiers)) + 1)
        while low < high:
            mid = (low + high + 1) // 2
            if self.cost(mid, already_this_month=already_this_month) <= budget_usd + 1e-12:
                low = mid
            else:
                high = mid - 1
        return low


DEFAULT_PRICES = PriceTable()
