"""Joining a fragment to the track it continues, with the appearance cue off (its default): colours
veto a motion join between clearly different people, a person hidden behind a nearer one stays
joinable while hidden, a bad last box does not lead the reach astray, and a person re-found
standing still continues their lost track."""

from __future__ import annotations

import numpy as np

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking import Tracker
from scenewatch.types import Detections

PERSON = 0
# Association alone (synthetic boxes standing still would be held as static background).
MOTION = TrackerConfig(static_classes=[])
RED, BLUE, GREY = (30, 30, 200), (200, 60, 30), (128, 128, 128)  # BGR
Person = tuple[list[float], tuple[int, int, int]]


def frame(people: list[Person]) -> tuple[Detections, np.ndarray]:
    """Detections of ``people`` (box, colour) and a grey picture with each painted in its colour."""
    image = np.full((360, 640, 3), GREY, np.uint8)
    for (x0, y0, x1, y1), colour in people:
        image[int(y0) : int(y1), int(x0) : int(x1)] = colour
    boxes = np.array([b for b, _ in people], np.float32).reshape(-1, 4)
    return Detections(boxes, [0.8] * len(people), [PERSON] * len(people)), image


def walker(cx: float, colour: tuple[int, int, int], w: float = 40, h: float = 100) -> Person:
    return [cx - w / 2, 150, cx + w / 2, 150 + h], colour


def ids_of_comeback(colour_back: tuple[int, int, int]) -> tuple[set[int], set[int]]:
    """A red person walks right, detected 3 times a second, is missed for two detections and a
    person of ``colour_back`` appears a box width ahead of where the red one would be: (ids before, after)."""
    tracker = Tracker(MOTION)
    before: set[int] = set()
    after: set[int] = set()
    for i in range(13):
        if i in (6, 7):
            dets, image = frame([])
        else:
            cx = 100 + 20 * i if i < 6 else 300 + 20 * (i - 8)  # off the predicted path: no match
            dets, image = frame([walker(cx, RED if i < 6 else colour_back)])
        out = tracker.update(dets, i / 3, i, image).track_ids.tolist()
        (before if i < 6 else after).update(out)
    return before, after


def test_colours_veto_a_motion_join_between_different_people():
    before, after = ids_of_comeback(BLUE)
    assert before == {1} and after and not after & before
    # the same look is still joined back by motion
    assert ids_of_comeback(RED) == ({1}, {1})


def test_a_person_hidden_behind_a_nearer_one_keeps_the_id():
    # A far person walks right at 60 px a second; a near one (twice as tall) overtakes at 90 px a
    # second and covers her for two seconds, longer than join_window_s, while she slows down
    # behind him: she comes back off her predicted path, and was lost behind a tracked box.
    tracker = Tracker(MOTION)
    far_ids: set[int] = set()
    near_ids: set[int] = set()
    for i in range(19):
        t = i / 3
        far_x = 100 + 60 * t if t < 5 / 3 else 200 + (60 * (t - 11 / 3) if t >= 11 / 3 else 0)
        near = walker(20 + 90 * t, BLUE, w=80, h=200)
        near[0][1], near[0][3] = 100, 300
        hidden = 5 / 3 <= t < 11 / 3
        dets, image = frame([near] if hidden else [walker(far_x, RED), near])
        out = tracker.update(dets, t, i, image)
        for box, tid in zip(out.xyxy, out.track_ids.tolist(), strict=True):
            (near_ids if box[3] - box[1] > 150 else far_ids).add(tid)
    assert len(near_ids) == 1 and far_ids == {1}, (far_ids, near_ids)
    # without the near person's box over her, the same gap is too long for a motion join
    assert TrackerConfig().join_window_s < 2.0


def test_a_bad_last_box_does_not_lead_the_reach_astray():
    # Walking right; the last two detections before a miss are a wide, short box down to the left
    # (his shadow), which drags the motion away. He comes back on his own path: the reach is
    # judged from his last box of his usual shape, not from the shadow.
    tracker = Tracker(MOTION)
    seen: list[set[int]] = [set(), set()]
    for i in range(14):
        cx = 100 + 20 * i
        if i in (6, 7):
            people = [([cx - 100, 210, cx, 270], RED)]
        elif i in (8, 9):
            people = []
        else:
            people = [walker(cx, RED)]
        dets, image = frame(people)
        seen[i >= 8].update(tracker.update(dets, i / 3, i, image).track_ids.tolist())
    assert seen == [{1}, {1}], seen


def test_a_person_found_standing_where_one_was_lost_continues_that_track():
    # Walking right, lost; found again standing still just ahead, the new track is held as
    # background until the picture vouches for it: it then continues the lost track.
    tracker = Tracker(TrackerConfig())
    for i in range(6):
        dets, image = frame([walker(100 + 20 * i, RED)])
        assert tracker.update(dets, i / 3, i, image).track_ids.tolist() == ([] if i < 1 else [1])
    dets, image = frame([])
    tracker.update(dets, 2.0, 6, image)
    for i in range(7, 12):  # standing at 300 from 2.33 s on, ahead of his predicted path
        dets, image = frame([walker(300, RED)])
        assert len(tracker.update(dets, i / 3, i, image)) == 0
    ids, _, _ = tracker.held()
    assert len(ids) == 1 and ids[0] != 1
    assert tracker.vouch(ids.tolist()).track_ids.tolist() == [1]
    dets, image = frame([walker(301, RED)])
    assert tracker.update(dets, 4.0, 12, image).track_ids.tolist() == [1]


def test_someone_found_inside_is_not_the_person_who_walked_out_at_the_edge():
    # Walking right out of the 640 px picture (his last box cut by the right edge); 0.3 s later a
    # person of the same look appears just inside, within reach of where he went: someone else.
    tracker = Tracker(MOTION)
    seen: set[int] = set()
    for i in range(6):
        x1 = 500 + 25 * i
        dets, image = frame([([x1, 150, min(x1 + 40, 640), 250], RED)])
        seen |= set(tracker.update(dets, i / 3, i, image).track_ids.tolist())
    assert seen == {1}
    dets, image = frame([])
    tracker.update(dets, 2.0, 6, image)
    later: set[int] = set()
    for i in range(7, 11):
        dets, image = frame([walker(570 - 5 * (i - 7), RED)])
        later |= set(tracker.update(dets, i / 3, i, image).track_ids.tolist())
    assert later and 1 not in later, later
