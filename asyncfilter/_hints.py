"""Typo and wrong-label hints: say so early when the label asked for never comes back.

A mistyped label (``--label Robbin``) matches nothing, so the sweep pays for the whole bucket,
finds 0 hits and exits 0. The labels Rekognition *does* return tell what went wrong: once about
50 images have been answered and no returned name, parent or alias is any requested label,
:meth:`LabelHints.hint` names the labels seen most often and those closest in spelling::

    "Robbin" never appeared; closest seen: "Robin" (in 38% of images); most common: Bird,
    Animal, Robin, Tree
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable

from ._models import Label

HINT_AFTER = 50
"""Answered images before a label that never appeared is worth a hint."""


class LabelHints:
    """Counts, per answered image, which label names (with parents and aliases) came back.

    :meth:`add` costs O(labels in the answer); memory is bounded by Rekognition's vocabulary
    (a few thousand names), not by the size of the bucket.
    """

    __slots__ = (
        "_after",
        "_cache",
        "_images_with",
        "_seen_wanted",
        "_spelling",
        "_wanted",
        "answered",
    )

    def __init__(self, wanted: Iterable[str], *, after: int = HINT_AFTER) -> None:
        self._wanted = list(dict.fromkeys(wanted))
        if not self._wanted:
            raise ValueError("wanted must name at least one label")
        if after < 1:
            raise ValueError(f"after must be at least 1, got {after}")
        self._after = after
        self.answered = 0
        self._images_with: Counter[str] = Counter()  # casefolded name -> images it was in
        self._spelling: dict[str, str] = {}  # casefolded name -> as Rekognition spells it
        self._seen_wanted = False
        self._cache: tuple[int, str] | None = None  # (answered, text): the display reads 4x/s

    def add(self, labels: Iterable[Label]) -> None:
        """Count one answered image's labels, whatever their confidence."""
        self.answered += 1
        if self._seen_wanted:
            return  # no hint is given once a wanted label has come back: nothing to count for
        # a dict, not a set: insertion order makes ties in "most common" come out the same
        # way every run (first seen first), whatever the hash seed
        names: dict[str, None] = {}
        spelling = self._spelling
        for label in labels:
            for name in (label.name, *label.parents, *label.aliases):
                folded = name.casefold()
                if folded not in names:
                    names[folded] = None
                    spelling.setdefault(folded, name)
        self._images_with.update(names.keys())
        if not self._seen_wanted:
            self._seen_wanted = any(w.casefold() in names for w in self._wanted)

    @property
    def wanted_seen(self) -> bool:
        """Whether any requested label has come back (as a name, parent or alias)."""
        return self._seen_wanted

    def hint(self, *, min_answered: int | None = None) -> str | None:
        """The warning, once ``min_answered`` images (default: the constructor's ``after``)
        are answered and no requested label has appeared; else ``None``.

        A sweep that ends with no hit passes ``min_answered=1`` to say it in its summary.
        """
        floor = self._after if min_answered is None else min_answered
        if self._seen_wanted or self.answered < max(1, floor):
            return None
        if self._cache is None or self._cache[0] != self.answered:
            self._cache = (self.answered, self._text())
        return self._cache[1]

    def _text(self) -> str:
        quoted = ", ".join(f'"{w}"' for w in self._wanted)
        if not self._images_with:
            return f"{quoted} never appeared; no labels came back from {self.answered} images"
        closest = [c for c in (self._closest(w) for w in self._wanted) if c is not None]
        top = [self._spelling[f] for f, _ in self._images_with.most_common(4)]
        return (
            f"{quoted} never appeared; "
            + (f"closest seen: {', '.join(closest)}; " if closest else "nothing close seen; ")
            + f"most common: {', '.join(top)}"
        )

    def _closest(self, wanted: str) -> str | None:
        matches = difflib.get_close_matches(wanted.casefold(), self._images_with, n=1)
        if not matches:
            return None
        share = self._images_with[matches[0]] / self.answered
        return f'"{self._spelling[matches[0]]}" (in {share:.0%} of images)'
