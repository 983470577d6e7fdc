"""Tracking at a live camera's few detections a second: coasting between detections, the wider gate
for a lone pair, motion joins, and one id per walk on a real clip through the capacity path."""

from __future__ import annotations

import numpy as np
from conftest import MOT, needs_models, needs_mot

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking import Tracker
from scenewatch.tracking.matching import iou_matrix
from scenewatch.types import Detections

PERSON, CAR = 0, 2
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


def test_no_motion_join_to_a_box_much_taller_than_the_lost_one():
    # As above, but the box after the gap is 1.6 times his height: someone nearer the camera, not
    # him; 0.7 of it (his legs hidden behind someone) is him.
    xs = [100.0 + 20 * i for i in range(6)] + [None, None] + [300.0 + 20 * i for i in range(5)]

    def seen(height: float) -> set[int]:
        tracker = Tracker(MOTION)
        found: set[int] = set()
        for i, x in enumerate(xs):
            dets = Detections.empty() if x is None else person(x, h=100 if i < 6 else height)
            found |= set(tracker.update(dets, i / 3, i).track_ids.tolist())
        return found

    assert seen(70) == {1}
    assert len(seen(160)) == 2


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
    # one output box per person and frame (the MOTChallenge matching): in a group a neighbour's
    # box overlapping a person by IoU 0.5 is not the person's id
    from scipy.optimize import linear_sum_assignment

    per_person: dict[int, set[int]] = {}
    for frame in np.unique(gt[:, 0]):
        people, out = gt[gt[:, 0] == frame], rows[rows[:, 0] == frame]
        boxes = np.column_stack([out[:, 2:4], out[:, 2:4] + out[:, 4:6]])
        overlap = iou_matrix(np.column_stack([people[:, 2:4], people[:, 2:4] + people[:, 4:6]]), boxes)
        for i, j in zip(*linear_sum_assignment(-overlap), strict=True):
            if overlap[i, j] >= 0.5:
                per_person.setdefault(int(people[i, 1]), set()).add(int(out[j, 1]))
    assert len(per_person[2]) == 1, per_person
    assert np.mean([len(v) for v in per_person.values()]) <= 1.3, str(per_person)


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


def test_a_box_that_shrank_before_a_gap_is_not_predicted_to_a_sliver():
    from scenewatch.tracking import kalman

    def width_after_gap(noise: kalman.MotionNoise) -> float:
        mean, cov = kalman.initiate(np.array([[100.0, 200, 60, 120]]), noise)
        for width in (50.0, 40.0):  # narrower twice (an arm swung in, the picture's edge)
            mean, cov = kalman.predict(mean, cov, np.array([1 / 3]), noise)
            mean, cov = kalman.update(mean, cov, np.array([[110.0, 200, width, 120]]), np.array([0.8]), noise)
        return float(kalman.predict(mean, cov, np.array([1.0]), noise, fade=True)[0][0, 2])

    assert width_after_gap(kalman.MotionNoise(size_memory_s=0.0)) < 15  # the constant rate: a sliver
    assert width_after_gap(kalman.MotionNoise(size_memory_s=0.3)) > 25  # 40 px at the last detection


def test_the_size_rate_fades_only_where_detection_is_sparse():
    def states(fps: float, size_memory_s: float) -> np.ndarray:
        tracker = Tracker(MOTION.model_copy(update={"size_memory_s": size_memory_s}))
        for i in range(8):  # walking towards the camera: the box grows 4 px a detection
            tracker.update(person(100 + 5 * i, w=40 + 2 * i, h=100 + 4 * i), i / fps, i)
        tracker.update(Detections.empty(), 8 / fps, 8)  # missed once
        return tracker._mean.copy()

    assert np.array_equal(states(25.0, 0.3), states(25.0, 0.0))  # full rate: unchanged
    assert not np.array_equal(states(3.0, 0.3), states(3.0, 0.0))


def test_a_person_whose_box_narrowed_before_a_gap_keeps_the_id():
    # Detected 3 times a second, the box narrows for two detections, then three are missed; back
    # where the walk leads. The strict cost alone (no wider gate, no join) must match him again.
    widths: list[float | None] = [60, 60, 60, 48, 36, None, None, None, 50, 50, 50]

    def seen(size_memory_s: float) -> set[int]:
        tracker = Tracker(PLAIN.model_copy(update={"size_memory_s": size_memory_s}))
        found: set[int] = set()
        for i, width in enumerate(widths):
            dets = Detections.empty() if width is None else person(100 + 30 * i, w=width, h=120)
            found |= set(tracker.update(dets, i / 3, i).track_ids.tolist())
        return found

    assert len(seen(0.0)) == 2  # the lost box shrank to a sliver no detection overlaps
    assert seen(0.3) == {1}


@needs_mot
@needs_models
def test_people_crossing_a_real_clip_detected_three_times_a_second_keep_their_ids():
    # TUD-Campus, the detector on every 8th frame (3.1 a second), motion only: the man in black
    # walking left (ground-truth id 2) is hidden by the man with the backpack walking right (id 7),
    # frames 36-46. Extrapolated at a constant rate, the boxes' shrinking as they met made the lost
    # track's box a sliver, and the two swapped ids; with the rate fading, each keeps his own.
    from test_tracking_appearance import campus_people_every, ids_of_person

    frames, gt = campus_people_every(8)

    def ids(size_memory_s: float) -> tuple[list[int], list[int]]:
        tracker = Tracker(MOTION.model_copy(update={"size_memory_s": size_memory_s}))
        outputs = [(i, tracker.update(dets, i / 25, i)) for i, _image, dets in frames]
        return ids_of_person(outputs, gt, 2), ids_of_person(outputs, gt, 7)

    black, backpack = ids(0.0)
    assert len(set(black)) >= 2 and len(set(backpack)) >= 2, (
        f"no swap at a constant rate ({black}, {backpack})"
    )
    black, backpack = ids(TrackerConfig().size_memory_s)
    assert len(black) >= 4 and len(backpack) >= 4, (black, backpack)
    assert len(set(black)) == 1 and len(set(backpack)) == 1 and set(black) != set(backpack), (black, backpack)


def test_a_tall_person_walking_out_is_not_joined_to_a_small_one_found_behind_him():
    # 270 px tall, walking right at 150 px a second, detected 5 times a second, then gone; 0.8 s
    # later a person half his height appears 270 px behind where he would be. Measured in the lost
    # man's heights that was within reach, and the small person took his id.
    tracker = Tracker(MOTION)
    for i in range(6):
        tall = Detections(np.array([[400 + 30 * i, 100, 500 + 30 * i, 370]]), [0.8], [PERSON])
        assert tracker.update(tall, i / 5, i).track_ids.tolist() == ([] if i == 0 else [1])
    tracker.update(Detections.empty(), 1.2, 6)
    seen: set[int] = set()
    for i in range(9, 13):  # born 0.8 s after he was last seen, walking right too
        small = Detections(np.array([[450 + 30 * (i - 9), 230, 500 + 30 * (i - 9), 370]]), [0.8], [PERSON])
        seen |= set(tracker.update(small, i / 5, i).track_ids.tolist())
    assert seen and 1 not in seen


def births(tracker: Tracker, xs: list[float | None], fps: float) -> list[int]:
    """Every track id alive after each update for one person at ``xs`` (None: missed)."""
    alive: list[int] = []
    for i, x in enumerate(xs):
        tracker.update(person(x) if x is not None else Detections.empty(), i / fps, i)
        alive += [i for i in tracker._ids.tolist() if i not in alive]
    return alive


def test_a_new_track_missed_once_at_sparse_detection_lives_on():
    # First seen, half hidden 0.2 s later, seen again: one track, not two.
    tracker = Tracker(MOTION)
    assert births(tracker, [100.0, None, 110.0, 115.0], fps=5.0) == [1]
    assert tracker._established.tolist() == [True]


def test_a_missed_new_track_is_neither_established_nor_reported_by_the_grace():
    tracker = Tracker(MOTION)
    for i, x in enumerate([100.0, None, None]):
        out = tracker.update(person(x) if x is not None else Detections.empty(), i / 5, i)
        assert len(out) == 0
    assert tracker._hits.tolist() == [1] and not tracker._established.any()


def test_a_new_track_still_dies_after_tentative_lost_s_and_on_a_miss_frame_by_frame():
    gone = [100.0, None, None, None, 110.0]  # 0.6 s without a match at 5 a second
    assert births(Tracker(MOTION), gone, fps=5.0) == [1, 2]
    assert births(Tracker(MOTION), [100.0, None, 110.0], fps=25.0) == [1, 2]  # full rate: unchanged
    off = MOTION.model_copy(update={"tentative_lost_s": 0.0})
    assert births(Tracker(off), [100.0, None, 110.0], fps=5.0) == [1, 2]


def test_a_track_lost_over_the_join_window_is_not_refound_in_a_much_taller_box():
    # 150 px tall, walking right at 50 px a second, detected 5 times a second, then missed for
    # 1.4 s. Where his walk leads, someone 1.6 times taller (nearer the camera, or walking in
    # beside him) is the next box there: not him. The same place in a box 0.7 of his height (his
    # legs hidden behind someone) is him, found again.
    def ids_after_gap(height: float, class_id: int = PERSON) -> set[int]:
        tracker = Tracker(MOTION)
        for i in range(6):
            box = Detections(np.array([[100 + 10 * i, 100, 140 + 10 * i, 250]]), [0.8], [class_id])
            tracker.update(box, i / 5, i)
        for i in range(6, 13):
            tracker.update(Detections.empty(), i / 5, i)
        seen: set[int] = set()
        for i in range(13, 16):
            cx = 120 + 10 * i
            box = Detections(
                np.array([[cx - height * 0.135, 250 - height, cx + height * 0.135, 250]]), [0.8], [class_id]
            )
            seen |= set(tracker.update(box, i / 5, i).track_ids.tolist())
        return seen

    assert ids_after_gap(0.7 * 150) == {1}
    taller = ids_after_gap(1.6 * 150)
    assert taller and 1 not in taller
    assert ids_after_gap(1.6 * 150, class_id=CAR) == {1}  # a car on a road nears the camera fast
