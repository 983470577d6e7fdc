"""Headings from tracks whose boxes are partial for a moment: legs hidden behind someone, a box
cut by the frame's edge. Such a box's bottom edge is not the feet, and it read as a step away."""

from __future__ import annotations

import numpy as np

from scenewatch.vision.attributes.motion import describe_motion, whole_boxes

# vtest.avi (PETS 2009 S2.L1) p1, labelled left and towards: seconds, xyxy of every box. In the
# last two the man's legs are hidden (bottom edge 249 -> 220, top edge steady): that read as
# 'away' (0.49 of the movement, his heading) before partial boxes were set aside.
VTEST_P1 = [
    [0.0, 499, 156, 530, 232], [0.1, 496, 158, 529, 234], [0.2, 494, 158, 528, 235],
    [0.3, 490, 158, 524, 235], [0.4, 493, 161, 519, 235], [0.5, 486, 163, 518, 238],
    [0.6, 485, 164, 514, 239], [0.7, 480, 163, 511, 238], [0.8, 478, 165, 508, 238],
    [0.9, 470, 162, 505, 241], [1.0, 464, 166, 503, 245], [1.1, 459, 166, 498, 244],
    [1.2, 460, 166, 490, 244], [1.3, 451, 169, 481, 246], [1.4, 446, 169, 477, 246],
    [1.5, 444, 170, 472, 246], [1.6, 442, 170, 467, 249], [1.7, 434, 171, 459, 233],
    [1.8, 434, 178, 458, 220],
]  # fmt: skip


def walk(dx: float, dy: float, grow: float, seconds: float = 8.0, fps: float = 10.0):
    """Boxes of a person 100 px tall whose feet move (dx, dy) px/s and height grows by ``grow``/s."""
    t = np.arange(0, seconds, 1 / fps)
    h = 100 * np.exp(grow * t)
    cx, feet = 300 + dx * t, 300 + dy * t
    return t, np.stack([cx - h / 5, feet - h, cx + h / 5, feet], axis=1)


def test_legs_hidden_at_the_end_of_a_real_track_are_not_a_walk_away():
    track = np.array(VTEST_P1, dtype=float)
    motion = describe_motion(track[:, 0], track[:, 1:])
    assert motion["heading"] == "left"
    assert "away" not in motion["headings"]
    assert motion["headings"]["towards"] > 0.2  # the feet went down the image while he walked


def test_a_moment_of_hidden_legs_mid_walk_adds_no_away_and_back():
    """Walking left, the legs hidden for 0.6 s (the box loses 40 % of its height from below): as
    read before, a step away then towards, each a fifth of the movement."""
    t, boxes = walk(-50, 0, 0)
    hidden = (t >= 3.0) & (t < 3.6)
    boxes[hidden, 3] -= 40
    motion = describe_motion(t, boxes)
    assert motion["headings"] == {"left": 1.0}
    assert whole_boxes(t, boxes[:, 3] - boxes[:, 1]).tolist() == (~hidden).tolist()


def test_cut_boxes_leaving_the_frame_do_not_make_the_heading():
    """Walking right out of the frame: its last boxes are cut to a sliver, lower and shorter."""
    t, boxes = walk(60, 0, 0, seconds=4.0)
    end = t >= 3.7
    boxes[end, 1] += 30
    boxes[end, 3] -= 50
    assert describe_motion(t, boxes)["headings"] == {"right": 1.0}


def test_steady_shrinking_and_growth_are_kept():
    """Walking away close to a head-height camera shrinks the box by ~10 % a second and
    approaching grows it as fast: real motion, every box kept, heading as before."""
    for grow, dy, expected in ((-0.1, -20, "away"), (0.1, 20, "towards")):
        t, boxes = walk(5, dy, grow)
        assert whole_boxes(t, boxes[:, 3] - boxes[:, 1]).all()
        assert describe_motion(t, boxes)["heading"] == expected
