"""A person standing still when first seen counts at once; a stone detected as a person never does.

Real pose model (MoveNet) on a real frame of vtest.avi: the stone on the lawn and a person standing
at the road, both given to the tracker as unmoving detections with the same score."""

from __future__ import annotations

import av
import numpy as np
import pytest

from scenewatch.config.tracker import TrackerConfig
from scenewatch.flow.still import WEAK_SHARE, StillPersonCheck, still_check_for
from scenewatch.tracking.tracker import Tracker
from scenewatch.types import Detections
from scenewatch.vision.labels import class_id
from tests.conftest import VTEST, needs_models, needs_samples

pytestmark = [needs_models, needs_samples]

STONE = np.array([162, 249, 193, 276], np.float32)  # the stone on the lawn, frame 0 (a "person" at 0.39)
PERSON = np.array([252, 223, 283, 310], np.float32)  # a person at the road's edge, frame 0


@pytest.fixture(scope="module")
def first_frame() -> np.ndarray:
    with av.open(str(VTEST)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


@pytest.fixture(scope="module")
def check() -> StillPersonCheck:
    found = still_check_for(TrackerConfig(static_classes=["person"]))
    assert found is not None
    return found


def test_the_pose_tells_a_person_from_a_stone(check, first_frame):
    assert check.pose_score(first_frame, PERSON) >= check.min_score
    assert check.pose_score(first_frame, STONE) < WEAK_SHARE * check.min_score


def _run(check: StillPersonCheck | None, image: np.ndarray, frames: int = 30) -> list[set[int]]:
    """Both boxes, unmoving, score 0.45, at 10 fps: the track ids reported in each frame."""
    tracker = Tracker(TrackerConfig(static_classes=["person"]))
    person = class_id("person")
    reported = []
    for n in range(frames):
        dets = Detections(np.stack([STONE, PERSON]), np.array([0.45, 0.45]), np.array([person, person]))
        tracked = tracker.update(dets, n / 10, n)
        if check is not None:
            vouched = check.check(tracker, image, n / 10)
            tracked = Detections.concat([tracked, vouched]) if len(vouched) else tracked
        reported.append(set(tracked.track_ids.tolist()))
    return reported


def test_a_still_person_counts_from_the_frame_it_is_vouched_for_and_the_stone_never(check, first_frame):
    looks_before = check.looks
    reported = _run(check, first_frame)
    first = next(n for n, ids in enumerate(reported) if ids)
    person_id = next(iter(reported[first]))
    assert reported[first] == {person_id}
    assert all(ids == {person_id} for ids in reported[first:])  # every frame after, never the stone
    # the stone is looked at again at doubling intervals, not every frame: 1 + 1 s + 2 s over 3 s
    assert check.looks - looks_before <= 4


def test_without_the_pose_check_both_are_held(first_frame):
    assert still_check_for(TrackerConfig(static_classes=["person"], static_pose_score=0)) is None
    assert not any(_run(None, first_frame))
