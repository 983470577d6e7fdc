"""Behaviour of the tracker, its finishing and summaries, and the MOT metric code."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MOT, needs_mot

from scenewatch.config.tracker import TrackerConfig
from scenewatch.eval.mot import REFERENCE_SCORES, load_mot, reference_result, score_rows
from scenewatch.tracking import FinishedTrack, SummaryBook, Tracker, finish_track, interpolate_gaps
from scenewatch.types import Detections

PERSON, CAR = 0, 2
# Association alone: people standing still on synthetic boxes would be held as static background,
# which needs the picture to vouch for them (flow/still.py, tests/test_still_people.py).
ASSOCIATION = TrackerConfig(static_classes=[])


def box(cx: float, cy: float, w: float = 40, h: float = 100) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def frame(boxes: list[list[float]], classes: list[int] | None = None, score: float = 0.8) -> Detections:
    classes = classes if classes is not None else [PERSON] * len(boxes)
    return Detections(np.array(boxes).reshape(-1, 4), [score] * len(boxes), classes)


def run(tracker: Tracker, frames: list[Detections], fps: float = 10.0) -> list[Detections]:
    return [tracker.update(d, i / fps, i) for i, d in enumerate(frames)]


def ids_near(outputs: list[Detections], x_of_frame) -> set[int]:
    """Track ids of the boxes closest to the expected x in each frame."""
    found = set()
    for i, out in enumerate(outputs):
        if len(out) < 2:  # the two coincide: ambiguous by construction
            continue
        if len(out):
            cx = (out.xyxy[:, 0] + out.xyxy[:, 2]) / 2
            j = int(np.argmin(np.abs(cx - x_of_frame(i))))
            if abs(cx[j] - x_of_frame(i)) < 10:
                found.add(int(out.track_ids[j]))
    return found


def test_crossing_people_keep_their_ids():
    # Two people walk towards each other along the same line and pass (boxes overlap for frames).
    n = 40
    left = lambda i: 100 + 8 * i  # noqa: E731
    right = lambda i: 420 - 8 * i  # noqa: E731
    frames = [frame([box(left(i), 200), box(right(i), 206)]) for i in range(n)]
    outputs = run(Tracker(ASSOCIATION), frames)
    assert ids_near(outputs, left) == {1}
    assert ids_near(outputs, right) == {2}


def test_occluded_person_gets_its_id_back():
    frames = [frame([box(100 + 6 * i, 200)]) if not 10 <= i < 18 else Detections.empty() for i in range(30)]
    outputs = run(Tracker(ASSOCIATION), frames)
    ids = {int(t) for out in outputs for t in out.track_ids}
    assert ids == {1}
    assert len(outputs[20]) == 1


def test_people_and_cars_never_share_ids():
    # A person stands still; for a while only a car box is detected on the same spot (a car
    # passing in front), then the person again.
    frames = []
    for i in range(40):
        if 10 <= i < 20:
            frames.append(frame([box(200, 210, 90, 80)], [CAR]))
        else:
            frames.append(frame([box(200, 200)], [PERSON]))
    outputs = run(Tracker(ASSOCIATION), frames)
    by_class: dict[int, set[int]] = {}
    for out in outputs:
        for track_id, cls in zip(out.track_ids.tolist(), out.class_ids.tolist(), strict=True):
            by_class.setdefault(cls, set()).add(track_id)
    assert by_class[PERSON] == {1}
    assert by_class[CAR] == {2}


def test_majority_class_wins_within_a_group():
    frames = [frame([box(300, 200, 120, 80)], [CAR if i % 4 else 7]) for i in range(12)]  # 7: truck
    outputs = run(Tracker(ASSOCIATION), frames)
    assert {int(t) for out in outputs for t in out.track_ids} == {1}
    assert set(np.concatenate([out.class_ids for out in outputs]).tolist()) == {CAR}


def test_sampled_frames_still_track():
    # 25 fps footage, detector on every third frame: the box jumps 36 px (almost its width) per call.
    fps, stride = 25.0, 3
    tracker = Tracker(ASSOCIATION)
    seen = set()
    for i in range(0, 120, stride):
        a, b = box(50 + 12 * i, 200), box(1500 - 12 * i, 320)
        out = tracker.update(frame([a, b]), i / fps, i)
        seen.update(out.track_ids.tolist())
    assert seen == {1, 2}


def test_flush_finishes_tracks_and_finishing_fills_gaps():
    tracker = Tracker(ASSOCIATION)
    frames = [frame([box(100 + 5 * i, 200)]) if i not in (5, 6) else Detections.empty() for i in range(12)]
    run(tracker, frames)
    finished = tracker.flush()
    assert [t.track_id for t in finished] == [1]
    assert finished[0].hits == 10
    filled = finish_track(finished[0], max_gap=1.0, min_hits=3)
    assert filled is not None
    assert filled.frame_indices.tolist() == list(range(12))
    np.testing.assert_allclose(filled.xyxy[5], box(125, 200), atol=1e-3)
    assert finish_track(finished[0], max_gap=1.0, min_hits=11) is None
    assert tracker.flush() == []


def test_interpolation_keeps_the_sampling_stride():
    track = FinishedTrack(
        3,
        PERSON,
        np.array([0.0, 0.36]),
        np.array([0, 9]),
        np.array([box(0, 0), box(90, 0)], np.float32),
        np.array([0.9, 0.7], np.float32),
    )
    track.frame_indices = np.array([0, 3, 12])
    track.times = np.array([0.0, 0.12, 0.48])
    track.xyxy = np.array([box(0, 0), box(30, 0), box(120, 0)], np.float32)
    track.scores = np.array([0.9, 0.8, 0.7], np.float32)
    filled = interpolate_gaps(track, max_gap=1.0)
    assert filled.frame_indices.tolist() == [0, 3, 6, 9, 12]
    np.testing.assert_allclose(filled.xyxy[2, 0], box(60, 0)[0], atol=1e-3)


def test_lost_track_is_reported_finished_after_the_timeout():
    tracker = Tracker(TrackerConfig(lost_timeout=1.0, static_classes=[]))
    run(tracker, [frame([box(100, 200)])] * 5)
    finished_at = None
    for i in range(5, 30):
        tracker.update(Detections.empty(), i / 10, i)
        if tracker.finished:
            finished_at = i
            break
    assert finished_at is not None and 14 <= finished_at <= 16


def test_summary_picks_unoccluded_view_and_keeps_path():
    book = SummaryBook()
    image = np.zeros((240, 320, 3), np.uint8)
    image[50:150, 100:140] = 255
    # Frame 0: touching the left edge; frame 1: covered by another box; frame 2: clear view.
    views = [
        Detections([[0, 50, 40, 150]], [0.9], [PERSON], [1]),
        Detections([[100, 50, 140, 150], [95, 40, 145, 160]], [0.9, 0.9], [PERSON, PERSON], [1, 2]),
        Detections([[100, 50, 140, 150]], [0.8], [PERSON], [1]),
    ]
    for i, view in enumerate(views):
        book.observe(view, image, float(i), i)
    (summary,) = book.pop([1])
    assert summary.thumbnail_time == 2.0
    assert summary.thumbnail is not None and summary.thumbnail.shape[:2] == (120, 48)
    assert summary.class_id == PERSON and summary.detections == 3
    assert summary.first_frame == 0 and summary.last_frame == 2
    assert summary.path[0][1:] == (20.0, 150.0) and summary.path[-1][1:] == (120.0, 150.0)


@needs_mot
@pytest.mark.parametrize("sequence", sorted(REFERENCE_SCORES))
def test_metric_code_reproduces_motmetrics_reference(sequence):
    ref = reference_result(sequence)
    assert ref is not None, "motmetrics 1.4.0 ships test.txt for the TUD sequences"
    scores = score_rows(load_mot(MOT / sequence / "gt.txt", ground_truth=True), load_mot(ref))
    mota, idf1 = REFERENCE_SCORES[sequence]
    assert scores.mota == pytest.approx(mota, abs=5e-4)
    assert scores.idf1 == pytest.approx(idf1, abs=5e-4)
