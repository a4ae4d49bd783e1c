"""Near-copies in process: hashes of real photographs and their edits, banded grouping against
a full comparison, and train/test splits that keep every group on one side."""

from __future__ import annotations

import io
import itertools
import random
import sys
from collections import Counter
from functools import cache

import pytest
from PIL import Image

from asyncfilter import ConfigError, split_keeping_groups
from asyncfilter._near_groups import DEFAULT_DISTANCE, bands, group_hashes
from asyncfilter._phash import (
    ImageHash,
    UnreadableImage,
    distance,
    from_signed,
    hash_image,
    require_imagehash,
    to_signed,
)
from asyncfilter.testing._photos import Photo, encode, near_copy_set, photo


@cache
def photos() -> tuple[Photo, ...]:
    return tuple(near_copy_set())


@cache
def hashes() -> dict[str, ImageHash]:
    return {p.key: hash_image(p.data) for p in photos()}


def test_every_edit_of_a_photograph_is_grouped_with_it_and_nothing_else_is() -> None:
    truth = {p.key: p.picture for p in photos()}
    groups, _ = group_hashes(hashes(), DEFAULT_DISTANCE)
    found = sorted(sorted(g) for g in groups)
    expected = sorted(
        sorted(k for k in truth if truth[k] == picture) for picture in set(truth.values())
    )
    assert found == expected
    # and not by a chain alone: every edit is itself near its original
    for p in photos():
        original = hashes().get(f"{p.picture}/original.jpg")
        if original is not None and "crop" not in p.key:
            assert distance(original, hashes()[p.key]) <= DEFAULT_DISTANCE, p.key


def test_different_pictures_of_one_subject_are_far_apart() -> None:
    regions = [k for k in hashes() if k.startswith("regions/")]
    assert len(regions) == 4
    for a, b in itertools.combinations(regions, 2):
        assert distance(hashes()[a], hashes()[b]) > DEFAULT_DISTANCE, (a, b)


def test_a_mirrored_copy_is_near_whichever_of_the_two_is_compared_first() -> None:
    own, mirrored = hashes()["chelsea/original.jpg"], hashes()["chelsea/mirror.jpg"]
    assert (own.phash ^ mirrored.phash).bit_count() > DEFAULT_DISTANCE  # as a plain pHash sees
    assert distance(own, mirrored) == distance(mirrored, own) <= 2


def test_an_image_stored_sideways_with_an_orientation_tag_hashes_as_it_is_seen() -> None:
    upright = photo("chelsea")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # stored turned a quarter left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate a quarter turn clockwise to view"
    buffer = io.BytesIO()
    sideways.save(buffer, format="JPEG", quality=92, exif=exif)
    assert distance(hash_image(encode(upright)), hash_image(buffer.getvalue())) <= 2


def test_bytes_that_are_no_image_are_refused_with_a_reason() -> None:
    with pytest.raises(UnreadableImage, match="not an image"):
        hash_image(b"<html>not found</html>")


def test_a_missing_imagehash_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "imagehash", None)  # import fails
    with pytest.raises(ConfigError, match=r"asyncfilter\[dupes\]"):
        require_imagehash()
    with pytest.raises(ConfigError, match=r"asyncfilter\[dupes\]"):
        hash_image(b"")


def test_hashes_keep_all_64_bits_through_sqlite_signed_integers() -> None:
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        assert -(1 << 63) <= to_signed(value) < 1 << 63
        assert from_signed(to_signed(value)) == value


@pytest.mark.parametrize("max_distance", [0, 3, 10, 24])
def test_bands_cover_the_64_bits_once(max_distance: int) -> None:
    layout = bands(max_distance)
    assert len(layout) == max_distance // 2 + 1
    covered = 0
    for shift, mask in layout:
        assert covered & (mask << shift) == 0
        covered |= mask << shift
    assert covered == (1 << 64) - 1


def _flip(value: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value


def _brute_force(values: dict[int, ImageHash], max_distance: int) -> list[list[int]]:
    parent = {k: k for k in values}

    def find(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for a, b in itertools.combinations(values, 2):
        if distance(values[a], values[b]) <= max_distance:
            parent[max(find(a), find(b))] = min(find(a), find(b))
    members: dict[int, list[int]] = {}
    for k in values:
        members.setdefault(find(k), []).append(k)
    return sorted(members.values())


@pytest.mark.parametrize("seed", range(6))
def test_banded_grouping_finds_exactly_what_comparing_every_pair_finds(seed: int) -> None:
    rng = random.Random(seed)
    values: dict[int, ImageHash] = {}
    for n in range(150):
        if n % 3 and values:  # a near-copy of an earlier image, some of them mirrored
            base = values[rng.randrange(len(values))]
            near = _flip(base.phash, rng.randint(0, 14), rng)
            mirror = _flip(base.mirror, rng.randint(0, 4), rng)
            values[n] = ImageHash(mirror, near) if rng.random() < 0.3 else ImageHash(near, mirror)
        else:
            values[n] = ImageHash(rng.getrandbits(64), rng.getrandbits(64))
    for max_distance in (0, 1, 2, 3, 4, 8, 10, 14, 24):
        groups, verified = group_hashes(values, max_distance)
        assert sorted(groups) == _brute_force(values, max_distance)
        if max_distance <= 4:  # (wide distances make narrow bands, which most pairs share)
            assert verified < len(values) * (len(values) - 1) // 4


def test_grouping_in_small_blocks_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(99)
    values = {n: ImageHash(rng.getrandbits(64), rng.getrandbits(64)) for n in range(60)}
    for n in range(60, 120):  # near-copies of the first 60, within 8 bits
        base = values[n - 60]
        values[n] = ImageHash(_flip(base.phash, rng.randint(0, 8), rng), base.mirror)
    whole, _ = group_hashes(values, 8)
    monkeypatch.setattr("asyncfilter._near_groups._BLOCK", 7)
    blocks, _ = group_hashes(values, 8)
    assert sorted(blocks) == sorted(whole) == _brute_force(values, 8)
    assert sum(len(g) == 2 for g in whole) >= 50


def test_a_distance_out_of_range_names_the_field() -> None:
    with pytest.raises(ConfigError, match="distance must be an integer from 0 to 24"):
        group_hashes({}, 25)


# --- splits ---------------------------------------------------------------------------------


def _grouped_set(seed: int) -> tuple[dict[str, str], dict[str, int]]:
    """~600 images of 3 classes (of unequal sizes) in groups of 1 to 6 near-copies."""
    rng = random.Random(seed)
    items, groups = {}, {}
    for g in range(260):
        cls = rng.choice(["Robin", "Robin", "Sparrow", "Wren"])
        for m in range(rng.choice([1, 1, 1, 2, 3, 6])):
            key = f"{cls}/{g}-{m}.jpg"
            items[key] = cls
            if rng.random() < 0.9:  # a few never grouped: each is a group of its own
                groups[key] = g
    return items, groups


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("share", [0.1, 0.2, 0.5])
def test_a_split_never_puts_two_members_of_a_group_on_both_sides(seed: int, share: float) -> None:
    items, groups = _grouped_set(seed)
    train, test = split_keeping_groups(items, groups, share, seed=seed)
    assert sorted(train + test) == sorted(items)
    assert not set(train) & set(test)
    sides = {}
    for side, keys in (("train", train), ("test", test)):
        for key in keys:
            if key in groups:
                assert sides.setdefault(groups[key], side) == side, groups[key]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("share", [0.1, 0.2, 0.5])
def test_each_class_sends_about_the_asked_share_to_test(seed: int, share: float) -> None:
    items, groups = _grouped_set(seed)
    _, test = split_keeping_groups(items, groups, share, seed=seed)
    per_class, in_test = Counter(items.values()), Counter(items[k] for k in test)
    for cls, n in per_class.items():
        # within the largest group's size of the target
        assert abs(in_test[cls] - round(n * share)) <= 6, (cls, in_test[cls], n)


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    items, groups = _grouped_set(1)
    first = split_keeping_groups(items, groups, 0.2, seed=42)
    assert split_keeping_groups(items, groups, 0.2, seed=42) == first
    assert split_keeping_groups(items, groups, 0.2, seed=43) != first


def test_a_small_class_gets_one_image_on_each_side() -> None:
    items = {"a.jpg": "Robin", "b.jpg": "Robin", **{f"{n}.jpg": "Wren" for n in range(20)}}
    for seed in range(10):
        train, test = split_keeping_groups(items, {}, 0.1, seed=seed)
        assert sum(items[k] == "Robin" for k in test) == 1
        assert sum(items[k] == "Robin" for k in train) == 1
        assert sum(items[k] == "Wren" for k in test) == 2


def test_the_near_copies_of_the_photo_set_stay_on_one_side() -> None:
    keys = [p.key for p in photos()]
    groups_found, _ = group_hashes(hashes(), DEFAULT_DISTANCE)
    group_of = {k: i for i, g in enumerate(groups_found) for k in g}
    items = dict.fromkeys(keys, "photo")
    for seed in range(5):
        train, test = split_keeping_groups(items, group_of, 0.3, seed=seed)
        assert {group_of[k] for k in train}.isdisjoint({group_of[k] for k in test})
        assert test


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1, 1.5])
def test_a_test_share_outside_zero_to_one_names_the_field(share: float) -> None:
    with pytest.raises(ConfigError, match="test_share"):
        split_keeping_groups({"a": "x"}, {}, share)
