"""Tracking at a live camera's few detections a second: coasting between detections, the wider gate
for a lone pair, motion joins, and one id per walk on a real clip through the capacity path."""

from __future__ import annotations

import numpy as np
from conftest import MOT, needs_models, needs_mot

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking import Tracker
from scenewatch.tracking.matching import iou_matrix
from scenewatch.types import Detections

PERSON = 0
# Association alone (synthetic boxes standing still would be held as static background).
MOTION = TrackerConfig(static_classes=[])
PLAIN = MOTION.model_copy(update={"match_cost_per_s": 0.0, "join_window_s": 0.0})


def person(cx: float, w: float = 40, h: float = 100, score: float = 0.8) -> Detections:
    return Detections(np.array([[cx - w / 2, 150, cx + w / 2, 150 + h]]), [score], [PERSON])


def ids(tracker: Tracker, xs: list[float | None], fps: float = 3.0) -> set[int]:
    """Track ids reported for one person detected at ``xs`` (None: missed), ``fps`` a second."""
    seen: set[int] = set()
    for i, x in enumerate(xs):
        out = tracker.update(person(x) if x is not None else Detections.empty(), i / fps, i)
        seen |= set(out.track_ids.tolist())
    return seen


def test_coasting_reports_predicted_boxes_and_learns_nothing():
    tracker = Tracker(MOTION)
    for i in range(4):  # walking right at 60 px a second, detected 3 times a second
        tracker.update(person(100 + 20 * i), i / 3, i)
    hits, mean = tracker._hits.copy(), tracker._mean.copy()
    coasted = tracker.coast(1.0 + 1 / 6)  # half way to the next detection
    assert coasted.track_ids.tolist() == [1]
    centre = float(coasted.xyxy[0, 0] + coasted.xyxy[0, 2]) / 2
    assert 150 < centre < 170  # carried along its motion (160 expected), not left at 160 - 10
    assert (tracker._hits == hits).all() and np.array_equal(tracker._mean, mean)
    assert tracker.update(person(180), 4 / 3, 4).track_ids.tolist() == [1]


def test_coasting_starts_no_track():
    tracker = Tracker(MOTION)
    tracker.update(person(100), 0.0, 0)  # a newborn, not yet confirmed: nothing to carry
    assert len(tracker.coast(0.1)) == 0
    assert len(tracker._ids) == 1 and tracker._hits.tolist() == [1]


def test_a_sparsely_sampled_person_who_turns_keeps_the_id():
    # Walking right 30 px a detection, then back: the first box after the turn misses the
    # prediction by more than the strict cost allows, and nothing else is near.
    xs = [100.0 + 30 * i for i in range(6)] + [235.0 - 30 * i for i in range(5)]
    assert len(ids(Tracker(PLAIN), xs)) == 2
    assert ids(Tracker(MOTION), xs) == {1}


def test_the_wider_gate_is_never_used_between_two_candidates():
    from scenewatch.tracking.matching import lone_or_within

    cost = np.array([[0.95, 1.0], [2.0, 2.0]])
    # the track has two detections within its wider limit: only the strict cost holds
    assert not lone_or_within(cost, 0.9, np.array([1.1, 0.9])).any()
    # one detection within it, and no other track wants that detection: admitted
    assert lone_or_within(np.array([[0.95, 2.0], [2.0, 2.0]]), 0.9, np.array([1.1, 0.9]))[0, 0]


def test_a_person_missed_for_a_few_detections_is_joined_back_by_motion():
    # Walking right, missed for three detections (1 s), back a little off the predicted path.
    xs: list[float | None] = (
        [100.0 + 20 * i for i in range(6)] + [None, None] + [300.0 + 20 * i for i in range(5)]
    )
    assert len(ids(Tracker(PLAIN), xs)) == 2
    assert ids(Tracker(MOTION), xs) == {1}


def test_no_motion_join_when_two_lost_people_could_have_come_back():
    tracker = Tracker(MOTION)
    for i in range(6):  # two people walking side by side, both lost together
        both = Detections(
            np.array([[80 + 20 * i, 150, 120 + 20 * i, 250], [130 + 20 * i, 150, 170 + 20 * i, 250]]),
            [0.8, 0.8],
            [PERSON, PERSON],
        )
        tracker.update(both, i / 3, i)
    for i in range(6, 8):
        tracker.update(Detections.empty(), i / 3, i)
    seen: set[int] = set()
    for i in range(8, 12):  # one comes back between where both would be, too far off either to match
        back = Detections(np.array([[265.0 + 20 * (i - 8), 200, 305 + 20 * (i - 8), 300]]), [0.8], [PERSON])
        seen |= set(tracker.update(back, i / 3, i).track_ids.tolist())
    assert seen == {3}


@needs_mot
@needs_models
def test_live_capacity_path_keeps_one_id_per_walk_on_a_real_clip(tmp_path):
    # TUD-Campus through the live camera's capacity path (motion gate, regions, boxes carried
    # between detections) with the detector's share held at 3 detections a second. Fed the carried
    # boxes as detections, the tracker split the man walking left (ground-truth id 2) into three
    # tracks and gave the eight people 2.0 ids each.
    from scenewatch.config import AppConfig
    from scenewatch.config.capacity import CapacityConfig
    from scenewatch.eval.mot import load_mot
    from scenewatch.pipeline import index_file
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore

    name = "TUD-Campus"
    store = DataStore.open(tmp_path / "data")
    capacity = CapacityConfig(enabled=True, min_detect_fps=1, present_detect_fps=3, max_detect_fps=3)
    index_file(store, AppConfig(), MOT / name / f"{name}.mp4", "campus", capacity=capacity)
    rows = np.array(list(repo.mot_rows(store.engine, "campus", "person")), dtype=np.float64).reshape(-1, 7)
    store.engine.dispose()
    gt = load_mot(MOT / name / "gt.txt", ground_truth=True)
    per_person = {}
    for pid in np.unique(gt[:, 1]).astype(int):
        found: set[int] = set()
        for frame, _, x, y, w, h in gt[gt[:, 1] == pid][:, :6]:
            out = rows[rows[:, 0] == frame]
            if not len(out):
                continue
            boxes = np.column_stack([out[:, 2:4], out[:, 2:4] + out[:, 4:6]])
            overlap = iou_matrix(np.array([[x, y, x + w, y + h]]), boxes)[0]
            if overlap.max() >= 0.5:
                found.add(int(out[int(np.argmax(overlap)), 1]))
        if found:
            per_person[pid] = found
    assert len(per_person[2]) == 1, per_person
    assert np.mean([len(v) for v in per_person.values()]) <= 1.3, per_person


def test_a_live_track_is_filled_frame_by_frame_between_its_detections():
    from scenewatch.tracking import FinishedTrack, finish_track

    boxes = np.array([[0, 0, 10, 20], [4, 0, 14, 20], [8, 0, 18, 20]], np.float32)
    track = FinishedTrack(
        1, PERSON, np.array([0.0, 0.16, 0.32]), np.array([0, 4, 8]), boxes, np.ones(3, np.float32)
    )
    sampled = finish_track(track, max_gap=1.0, min_hits=3)
    live = finish_track(track, max_gap=1.0, min_hits=3, stride=1)
    assert sampled is not None and sampled.frame_indices.tolist() == [0, 4, 8]  # index --detect-fps
    assert live is not None and live.frame_indices.tolist() == list(range(9))
    assert live.xyxy[3, 0] == 3.0
