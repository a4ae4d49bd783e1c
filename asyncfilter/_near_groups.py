"""Groups of near-copies from their hashes, and train/test splits that keep each group whole.

Grouping compares no more pairs than it must (pigeonhole). Two 64-bit hashes at most ``D``
bits apart agree exactly on one of any ``D + 1`` disjoint bands of their bits; more usefully,
they differ in at most one bit on one of ``D // 2 + 1`` bands (``D`` bits over ``D // 2 + 1``
bands leave fewer than two in some band). Wider bands let far fewer unrelated pairs through
(at distance 8: 5 bands of 13 bits, 3% of random pairs, where 9 bands of 7 bits let 20%
through), so images are matched on each band exactly and one bit apart, and each candidate
pair is verified with the full distance, in numpy blocks.
Pairs within the distance are joined with union-find: a group is the near-copy relation's
connected component (A near B and B near C puts A, B and C in one group).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from ._errors import ConfigError
from ._phash import ImageHash

K = TypeVar("K", bound=Hashable)
HASH_BITS = 64
#: Pairs verified at once (numpy arrays of this many cells, a few MB).
_BLOCK = 1 << 18
#: The default: see NOTES-dupes.md for the measurements behind it.
DEFAULT_DISTANCE = 8
#: Above this, pHashes of unrelated photos start to agree (their mean distance is ~32).
MAX_DISTANCE = 24


def check_distance(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DISTANCE:
        raise ConfigError(f"distance must be an integer from 0 to {MAX_DISTANCE}, got {value!r}")
    return value


def bands(max_distance: int) -> list[tuple[int, int]]:
    """``(shift, mask)`` of ``max_distance // 2 + 1`` disjoint bands covering the 64 bits: two
    hashes at most ``max_distance`` apart differ in at most one bit of at least one of them."""
    count = max_distance // 2 + 1
    out, shift = [], 0
    for i in range(count):
        width = HASH_BITS // count + (1 if i < HASH_BITS % count else 0)
        out.append((shift, (1 << width) - 1))
        shift += width
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_hashes(hashes: Mapping[K, ImageHash], max_distance: int) -> tuple[list[list[K]], int]:
    """Every image's group (singletons included), in the mapping's order within a group and by
    first member between groups; and how many candidate pairs were verified."""
    import numpy as np

    check_distance(max_distance)
    keys = list(hashes)
    own = np.array([hashes[k].phash for k in keys], dtype=np.uint64)
    mirror = np.array([hashes[k].mirror for k in keys], dtype=np.uint64)
    found = _UnionFind(len(keys))
    verified = 0
    layout = bands(max_distance)
    radius = max_distance // len(layout)  # 0 or 1: some band differs in at most this many bits
    for shift, mask in layout:
        own_band = (own >> np.uint64(shift)) & np.uint64(mask)
        mirror_band = (mirror >> np.uint64(shift)) & np.uint64(mask)
        flips = [0, *(1 << b for b in range(mask.bit_length()))] if radius else [0]
        for flip in flips:
            f = np.uint64(flip)
            # own against own (each pair once), and one's mirror against the other's own
            for probe, once in ((own_band ^ f, True), (mirror_band ^ f, False)):
                verified += _join(found, own, mirror, probe, own_band, max_distance, once=once)
    members: dict[int, list[K]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[found.find(i)].append(key)
    return [members[root] for root in sorted(members)], verified


def _join(
    found: _UnionFind,
    own: Any,
    mirror: Any,
    probe: Any,
    band: Any,
    max_distance: int,
    *,
    once: bool,
) -> int:
    """Verify every pair ``(i, j)`` with ``probe[i] == band[j]`` (``i < j`` with ``once``,
    else ``i != j``), at most :data:`_BLOCK` pairs at a time, and join the near ones."""
    import numpy as np

    order = np.argsort(band, kind="stable")
    ordered = band[order]
    low = np.searchsorted(ordered, probe, side="left")
    counts = np.searchsorted(ordered, probe, side="right") - low
    rows = np.nonzero(counts)[0]
    if not len(rows):
        return 0
    low, counts = low[rows], counts[rows]
    ends = np.cumsum(counts)
    compared, at = 0, 0
    while at < len(rows):
        # rows at..stop hold at most _BLOCK candidates (one row at least)
        base = int(ends[at - 1]) if at else 0
        stop = max(at + 1, int(np.searchsorted(ends, base + _BLOCK, side="right")))
        n = counts[at:stop]
        a = np.repeat(rows[at:stop], n)
        starts = np.repeat(np.cumsum(n) - n, n)
        b = order[np.repeat(low[at:stop], n) + np.arange(len(a)) - starts]
        wanted = a < b if once else a != b
        a, b = a[wanted], b[wanted]
        compared += len(a)
        near = np.minimum(
            np.bitwise_count(own[a] ^ own[b]),
            np.minimum(np.bitwise_count(own[a] ^ mirror[b]), np.bitwise_count(mirror[a] ^ own[b])),
        )
        hits = near <= max_distance
        for i, j in zip(a[hits].tolist(), b[hits].tolist(), strict=True):
            found.union(i, j)
        at = stop
    return compared


def keep_order(
    outcome: str, confidence: float | None, bucket: str, key: str
) -> tuple[int, float, str, str]:
    """Which member of a group is kept when one is: a hit before a review image, then the
    highest confidence, then the first by location (so the choice is the same every time)."""
    return (0 if outcome == "hit" else 1), -float(confidence or 0.0), bucket, key


def split_keeping_groups(
    items: Mapping[K, str],
    groups: Mapping[K, Hashable],
    test_share: float,
    seed: int | None = None,
) -> tuple[list[K], list[K]]:
    """Split ``items`` (key to class name) into ``(train, test)`` keys, in the input order.

    The split is stratified: each class sends about ``test_share`` of its images to test (at
    least one to each side for a class of two or more, where the groups allow it). Every group
    of ``groups`` (key to group id; a key without one is a group of its own) lands whole on one
    side, so no near-copy of a test image is trained on. Groups are placed largest first, each
    on the side that brings the per-class test counts nearer their targets; the order among
    groups of one size comes from ``seed``, so a seed gives the same split every time.
    """
    if isinstance(test_share, bool) or not 0.0 < float(test_share) < 1.0:
        raise ConfigError(f"test_share must be between 0 and 1 (exclusive), got {test_share!r}")
    members: dict[Hashable, list[K]] = defaultdict(list)
    for key in items:
        members[("group", groups[key]) if key in groups else ("alone", key)].append(key)
    per_class = Counter(items.values())
    target = {c: _target(n, test_share) for c, n in per_class.items()}
    in_test: Counter[str] = Counter()
    rng = random.Random(seed)
    order = list(members.values())
    rng.shuffle(order)
    order.sort(key=len, reverse=True)  # a stable sort: the shuffle orders groups of one size
    test: set[K] = set()
    for group in order:
        counts = Counter(items[k] for k in group)
        stay = sum(abs(in_test[c] - target[c]) for c in counts)
        move = sum(abs(in_test[c] + n - target[c]) for c, n in counts.items())
        if move < stay or (move == stay and rng.random() < test_share):
            test.update(group)
            in_test.update(counts)
    return [k for k in items if k not in test], [k for k in items if k in test]


def _target(n: int, share: float) -> int:
    wanted = round(n * share)
    return min(max(wanted, 1), n - 1) if n >= 2 else wanted
