"""Typo and wrong-label hints: what came back instead of the label asked for."""

from __future__ import annotations

import pytest

from asyncfilter import Label
from asyncfilter._hints import LabelHints

ROBIN = Label("Robin", 95.0, parents=("Bird", "Animal"))
BIRD = Label("Bird", 97.0, parents=("Animal",))
ANIMAL = Label("Animal", 98.0)
TREE = Label("Tree", 80.0, aliases=("Plant",))


def garden(image: int) -> list[Label]:
    """What Rekognition says about a garden photo: every image an animal, some trees, birds,
    robins in 38 of every 100."""
    labels = [ANIMAL]
    if image % 100 < 38:
        labels += [ROBIN, BIRD]
    elif image % 100 < 60:
        labels.append(BIRD)
    if image % 100 >= 70:
        labels.append(TREE)
    return labels


def test_a_typo_gets_the_closest_label_seen_and_the_most_common_ones() -> None:
    hints = LabelHints(["Robbin"])
    for image in range(100):
        hints.add(garden(image))
    assert hints.hint() == (
        '"Robbin" never appeared; closest seen: "Robin" (in 38% of images); '
        "most common: Animal, Bird, Robin, Tree"
    )


def test_no_hint_before_fifty_answers_unless_asked_at_the_end_of_a_sweep() -> None:
    hints = LabelHints(["Robbin"])
    for image in range(49):
        hints.add(garden(image))
    assert hints.hint() is None
    assert hints.hint(min_answered=1) is not None  # a sweep that ends with no hit says it
    hints.add(garden(49))
    assert hints.hint() is not None


@pytest.mark.parametrize("wanted", ["robin", "ANIMAL", "plant", "Bird"])
def test_no_hint_once_a_wanted_label_came_back_as_a_name_parent_or_alias(wanted: str) -> None:
    hints = LabelHints([wanted])
    for image in range(100):
        hints.add(garden(image))
    assert hints.wanted_seen
    assert hints.hint() is None
    assert hints.hint(min_answered=1) is None


def test_a_label_seen_below_the_threshold_still_counts_as_seen() -> None:
    # the hint is about spelling and vocabulary; a low confidence is the threshold's business
    hints = LabelHints(["Robin"])
    for _ in range(60):
        hints.add([Label("Robin", 12.0)])
    assert hints.hint() is None


def test_several_wanted_labels_are_each_given_their_closest() -> None:
    hints = LabelHints(["Robbin", "Tre", "Zebra"])
    for image in range(100):
        hints.add(garden(image))
    message = hints.hint()
    assert message is not None
    assert message.startswith('"Robbin", "Tre", "Zebra" never appeared; closest seen: ')
    assert '"Robin" (in 38% of images)' in message
    assert '"Tree" (in 30% of images)' in message
    assert "Zebra" not in message.split("closest seen:")[1]


def test_nothing_close_and_no_labels_at_all_are_said_plainly() -> None:
    hints = LabelHints(["Xylophone"])
    for _ in range(50):
        hints.add([])
    assert hints.hint() == '"Xylophone" never appeared; no labels came back from 50 images'
    for _ in range(10):
        hints.add([TREE])
    assert (
        hints.hint() == '"Xylophone" never appeared; nothing close seen; most common: Tree, Plant'
    )


def test_each_image_counts_a_label_once_however_often_it_comes_back() -> None:
    hints = LabelHints(["Robbin"], after=1)
    hints.add([ROBIN, BIRD, ANIMAL, Label("Robin", 60.0)])
    message = hints.hint()
    assert message is not None
    assert '"Robin" (in 100% of images)' in message


def test_bad_settings_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="wanted"):
        LabelHints([])
    with pytest.raises(ValueError, match="after"):
        LabelHints(["Robin"], after=0)
