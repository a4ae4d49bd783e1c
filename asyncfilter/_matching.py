"""Decide whether a detection is a hit.

The published loop compared only label *names*, so asking for ``bird`` missed every ``Robin``
whose parent is ``Bird``. Here a label matches through its name, any parent or any alias,
case-insensitively, provided its confidence reaches the threshold.

With a review band the matcher looks down to the band's lower edge; whether the match is a hit
or a review is then one comparison of its confidence with the threshold, made by the engine.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._models import Label
from ._results import Match


class Matcher:
    """Match detected labels against the wanted ones; built once per sweep."""

    __slots__ = ("_by_folded", "_threshold")

    def __init__(self, wanted: Iterable[str], threshold: float) -> None:
        """``threshold``: the lowest confidence that matches (the review band's edge, if any)."""
        # casefolded -> the label as the user spelled it, so results echo the user's spelling
        self._by_folded = {w.casefold(): w for w in wanted}
        self._threshold = threshold

    def match(self, labels: Iterable[Label]) -> Match | None:
        """The most confident match among ``labels``, or ``None``."""
        best: Match | None = None
        wanted = self._by_folded
        for label in labels:
            if label.confidence < self._threshold:
                continue
            if best is not None and label.confidence <= best.confidence:
                continue
            found = self._via(label, wanted)
            if found is not None:
                want, via = found
                best = Match(wanted[want], via, label.name, label.confidence, label.instances)
        return best

    @staticmethod
    def _via(label: Label, wanted: dict[str, str]) -> tuple[str, str] | None:
        name = label.name.casefold()
        if name in wanted:
            return name, "name"
        for parent in label.parents:
            if (folded := parent.casefold()) in wanted:
                return folded, "parent"
        for alias in label.aliases:
            if (folded := alias.casefold()) in wanted:
                return folded, "alias"
        return None
