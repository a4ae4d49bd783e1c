from __future__ import annotations

import pytest

from asyncfilter import Label, S3Object, SkipReason
from asyncfilter._eligibility import skip_reason
from asyncfilter._matching import Matcher


def test_matches_name_parent_and_alias_case_insensitively() -> None:
    matcher = Matcher(["bird"], threshold=80)
    by_parent = matcher.match([Label("Robin", 97.0, parents=("Bird", "Animal"))])
    assert by_parent is not None
    assert (by_parent.label, by_parent.via, by_parent.detected) == ("bird", "parent", "Robin")
    by_name = matcher.match([Label("BIRD", 90.0)])
    assert by_name is not None
    assert by_name.via == "name"
    by_alias = Matcher(["human"], 50).match([Label("Person", 99.0, aliases=("Human",))])
    assert by_alias is not None
    assert by_alias.via == "alias"


def test_threshold_is_inclusive_and_filters() -> None:
    matcher = Matcher(["Robin"], threshold=80)
    assert matcher.match([Label("Robin", 79.99)]) is None
    assert matcher.match([Label("Robin", 80.0)]) is not None


def test_best_match_wins_and_any_wanted_label_counts() -> None:
    matcher = Matcher(["robin", "sparrow"], threshold=50)
    found = matcher.match([Label("Sparrow", 70.0), Label("Robin", 88.0), Label("Tree", 99.0)])
    assert found is not None
    assert (found.label, found.confidence) == ("robin", 88.0)


def test_no_wanted_label_is_a_miss() -> None:
    assert Matcher(["robin"], 10).match([Label("Bonfire", 99.0, parents=("Fire",))]) is None


@pytest.mark.parametrize(
    ("key", "size", "storage", "reason"),
    [
        ("a/b/", 0, "STANDARD", SkipReason.FOLDER),
        ("notes.txt", 10, "STANDARD", SkipReason.UNSUPPORTED_TYPE),
        ("anim.gif", 10, "STANDARD", SkipReason.UNSUPPORTED_TYPE),
        ("photo.webp", 10, "STANDARD", SkipReason.UNSUPPORTED_TYPE),
        ("empty.jpg", 0, "STANDARD", SkipReason.EMPTY),
        ("huge.png", 15 * 1024 * 1024 + 1, "STANDARD", SkipReason.TOO_LARGE),
        ("cold.jpg", 10, "GLACIER", SkipReason.ARCHIVED),
        ("colder.jpg", 10, "DEEP_ARCHIVE", SkipReason.ARCHIVED),
        ("ok.JPG", 10, "STANDARD", None),
        ("ok.JpEg", 15 * 1024 * 1024, "GLACIER_IR", None),
        ("ok.PNG", 1, "STANDARD", None),
    ],
)
def test_eligibility(key: str, size: int, storage: str, reason: SkipReason | None) -> None:
    assert skip_reason(S3Object("b", key, size, "", storage)) == reason
