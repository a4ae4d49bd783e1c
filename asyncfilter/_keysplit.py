"""Points in S3's key space, for splitting a listing without knowing its keys.

S3 lists keys in UTF-8 byte order, which for valid text is the order of code points, so
Python's ``<`` on ``str`` is S3's order. To split a range of keys, strings are read as
fractions in [0, 1): each character after the range's common prefix is a digit, its rank in an
alphabet of characters seen in real keys (0 stands for "the string ends here", so ``"a" <
"a0"`` holds for fractions as for keys). Evenly spaced fractions between two keys become probe
points; where the keys really are is learned by asking S3 for the first key after each point.
Nothing here decides correctness: any string is a valid boundary, only balance depends on it.
"""

from __future__ import annotations

import bisect
import math
import string
from collections.abc import Iterable

_DEFAULT_ALPHABET = string.digits + string.ascii_letters + "!-./_ "


class Alphabet:
    """The characters seen in keys so far, in key order."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._sorted: list[str] = sorted(_DEFAULT_ALPHABET)
        self._dirty = False

    def learn(self, keys: Iterable[str]) -> None:
        """Add the characters of ``keys``."""
        before = len(self._seen)
        for key in keys:
            self._seen.update(key)
        if len(self._seen) != before:
            self._dirty = True

    @property
    def chars(self) -> list[str]:
        if self._dirty:
            self._sorted = sorted(self._seen)
            self._dirty = False
        return self._sorted


def common_prefix(a: str, b: str) -> str:
    """The longest string both start with."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return a[:i]


def _width(radix: int) -> int:
    """How many digits a float's 52 bits resolve in this radix."""
    return max(1, int(50 / math.log2(radix)))


def fraction(key: str, base: str, chars: list[str]) -> float:
    """Where ``key`` (which starts with ``base``) lies in [0, 1) among strings after ``base``."""
    radix = len(chars) + 1
    value, scale = 0.0, 1.0
    for char in key[len(base) : len(base) + _width(radix)]:
        scale /= radix
        at = bisect.bisect_left(chars, char)
        rank = at + 1.0 if at < len(chars) and chars[at] == char else at + 0.5
        value += rank * scale
    return value


def key_at(value: float, base: str, chars: list[str]) -> str:
    """A string after ``base`` at about ``value`` in [0, 1) (the inverse of :func:`fraction`)."""
    radix = len(chars) + 1
    out = []
    for _ in range(_width(radix)):
        value *= radix
        digit = int(value)
        value -= digit
        if digit <= 0:
            break
        out.append(chars[min(digit, len(chars)) - 1])
    return base + "".join(out)


def probe_points(
    lo: str | None,
    hi: str | None,
    root: str,
    chars: list[str],
    count: int,
    *,
    geometric: bool = False,
) -> list[str]:
    """Up to ``count`` distinct strings strictly between ``lo`` and ``hi``, in order.

    ``lo`` ``None`` is the start of the listing under ``root``, ``hi`` ``None`` its end. Evenly
    spread, or ``geometric``: each 16 times closer to ``lo`` than the next, to find at which
    scale the keys after ``lo`` lie when they may fill only a sliver of the range.
    """
    base = common_prefix(lo, hi) if lo is not None and hi is not None else root
    start = fraction(lo, base, chars) if lo is not None else 0.0
    stop = fraction(hi, base, chars) if hi is not None else 1.0
    points: list[str] = []
    for i in range(1, count + 1):
        share = 16.0 ** (i - count) if geometric else i / (count + 1)
        point = key_at(start + (stop - start) * share, base, chars)
        if (lo is None or point > lo) and (hi is None or point < hi) and point not in points:
            points.append(point)
    return points


def spread(items: list[str], count: int) -> list[str]:
    """``count`` items of a sorted list, evenly spaced (all of them if there are fewer)."""
    if len(items) <= count:
        return items
    step = len(items) / (count + 1)
    return sorted({items[min(int(step * (i + 1)), len(items) - 1)] for i in range(count)})
