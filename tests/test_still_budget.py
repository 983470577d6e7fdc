"""The still-person check's pose runs are bounded per camera-second, most needed first.

Real pose model (MoveNet) on a real person and a real stone from vtest.avi's first frame, pasted on
a plain picture: eight stones held as unmoving "people" and one standing person, all first seen in
the same frame, as a crowd of false detections would be."""

from __future__ import annotations

import av
import numpy as np
import pytest

from scenewatch.config.tracker import TrackerConfig
from scenewatch.flow.still import MAX_LOOKS_PER_S, StillPersonCheck, still_check_for
from scenewatch.tracking.tracker import Tracker
from scenewatch.types import Detections
from scenewatch.vision.labels import class_id
from tests.conftest import VTEST, needs_models, needs_samples

pytestmark = [needs_models, needs_samples]

STONE = np.array([162, 249, 193, 276], np.float32)  # the stone on the lawn, frame 0
PERSON = np.array([252, 223, 283, 310], np.float32)  # a person at the road's edge, frame 0
FPS = 10


def _paste(canvas: np.ndarray, source: np.ndarray, box: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """Copy ``box`` grown by its size on each side from ``source`` to ``at`` (top left of the box)
    on ``canvas``; returns the box there."""
    x1, y1, x2, y2 = box.astype(int)
    w, h = x2 - x1, y2 - y1
    x, y = at
    canvas[y - h : y + 2 * h, x - w : x + 2 * w] = source[y1 - h : y2 + h, x1 - w : x2 + w]
    return np.array([x, y, x + w, y + h], np.float32)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """A picture with eight stones then a person (boxes in that order) on plain grey."""
    with av.open(str(VTEST)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
    canvas = np.full_like(frame, 128)
    boxes = [_paste(canvas, frame, STONE, (60 + 100 * (i % 4), 60 + 110 * (i // 4))) for i in range(8)]
    boxes.append(_paste(canvas, frame, PERSON, (560, 300)))
    return canvas, np.stack(boxes)


def _run(check: StillPersonCheck, image: np.ndarray, boxes: np.ndarray, seconds: float):
    """All boxes unmoving at 10 fps: (frame times of the pose runs, when the person was first reported)."""
    tracker = Tracker(TrackerConfig(static_classes=["person"]))
    person = class_id("person")
    runs: list[float] = []
    vouched_at = None
    for n in range(int(seconds * FPS)):
        t = n / FPS
        dets = Detections(boxes, np.full(len(boxes), 0.45), np.full(len(boxes), person))
        tracker.update(dets, t, n)
        looks = check.looks
        vouched = check.check(tracker, image, t)
        runs += [t] * (check.looks - looks)
        for box in vouched.xyxy:
            assert np.allclose(box, boxes[-1]), "only the person may be vouched for"
            vouched_at = t if vouched_at is None else vouched_at
    return runs, vouched_at


def test_pose_runs_stay_within_the_budget_yet_the_standing_person_counts_within_its_bound(scene):
    image, boxes = scene
    check = still_check_for(TrackerConfig(static_classes=["person"]))
    assert check is not None
    runs, vouched_at = _run(check, image, boxes, seconds=8.0)
    times = np.array(runs)
    # at most the budget in any second of frame time (a crowd would otherwise cost nine runs at once)
    assert max(int(((times > t - 1.0) & (times <= t)).sum()) for t in times) <= MAX_LOOKS_PER_S
    # tracks never looked at go first: the person, due with eight stones, waits at most 9 / budget s
    first_held = times[0]
    assert vouched_at is not None, "the standing person was never vouched for"
    assert vouched_at - first_held <= len(boxes) / MAX_LOOKS_PER_S + 0.2


def test_a_larger_budget_looks_at_the_whole_crowd_at_once(scene):
    image, boxes = scene
    check = still_check_for(TrackerConfig(static_classes=["person"]))
    assert check is not None
    check.max_looks_per_s = len(boxes)
    runs, vouched_at = _run(check, image, boxes, seconds=1.0)
    assert runs[: len(boxes)] == [runs[0]] * len(boxes)
    assert vouched_at == runs[0]
