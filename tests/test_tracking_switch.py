"""A running track is not handed to someone else of a clearly different look (``switch_similarity``):
a walker who passes behind another whose box lands where the walker's track predicts keeps her id
through the occlusion, and the other person gets their own."""

from __future__ import annotations

from test_tracking_rejoin import BLUE, RED, Person, frame

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking import Tracker

DARK_RED = (15, 15, 110)  # BGR


def walker(cx: float, colour: tuple[int, int, int]) -> Person:
    return [cx - 20, 150, cx + 20, 250], colour


def crossing(config: TrackerConfig, hidden: tuple[int, int] = (6, 9), other=BLUE) -> tuple[set, set, set]:
    """A red walker going left at 10 fps is hidden behind ``other`` (a walker going right, first seen
    where her track predicts her) during frames ``hidden``; ids reported for her before, for her
    after, and for the other walker."""
    tracker = Tracker(config)
    red_before: set[int] = set()
    red_after: set[int] = set()
    others: set[int] = set()
    for i in range(16):
        red = walker(400 - 10 * i, RED)
        people = [red] if i < hidden[0] else [walker(345 + 5 * (i - hidden[0]), other)]
        people += [red] if i >= hidden[1] else []
        dets, image = frame(people)
        out = tracker.update(dets, i / 10, i, image)
        for tid, box in zip(out.track_ids.tolist(), out.xyxy, strict=True):
            is_red = abs((box[0] + box[2]) / 2 - (400 - 10 * i)) < 1 and not (hidden[0] <= i < hidden[1])
            (red_before if i < hidden[0] else red_after if is_red else others).add(tid)
    return red_before, red_after, others


def test_a_running_track_does_not_take_the_box_of_someone_who_hides_its_person():
    before, after, others = crossing(TrackerConfig(static_classes=[]))
    assert before == {1} and after == {1}, (before, after)
    assert others and not others & {1}, others


def test_without_the_check_the_track_follows_the_other_walker():
    # motion alone hands the hidden walker's track to the one in front of her: the switch fixed
    before, after, others = crossing(TrackerConfig(static_classes=[], switch_similarity=0))
    assert before == {1} and 1 in others and 1 not in after, (before, after, others)


def test_the_same_look_in_shade_is_not_refused():
    # a darker shade of the same colour is the same person: the track takes it, no new id
    tracker = Tracker(TrackerConfig(static_classes=[]))
    ids = set()
    for i in range(12):
        dets, image = frame([walker(400 - 10 * i, RED if i < 6 else DARK_RED)])
        ids.update(tracker.update(dets, i / 10, i, image).track_ids.tolist())
    assert ids == {1}, ids
