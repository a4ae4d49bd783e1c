"""What Custom Labels costs: one table, in one place.

Training is billed per hour of training; a running model per inference-unit hour, whether it
answers or not (us-east-1 list prices). A model left running with one unit costs about $2,900
a month, which is why asyncfilter records every model it starts and says what it has cost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CustomLabelsPrices:
    """USD rates; pass your own for another region or a negotiated price."""

    training_per_hour: float = 1.00
    inference_per_unit_hour: float = 4.00
    typical_training_hours: tuple[float, float] = (0.5, 4.0)
    """What a small data set usually takes to train, for the plan: the service decides."""

    def inference(self, unit_hours: float) -> float:
        return unit_hours * self.inference_per_unit_hour

    def training(self, seconds: float) -> float:
        return seconds / 3600 * self.training_per_hour


PRICES = CustomLabelsPrices()
