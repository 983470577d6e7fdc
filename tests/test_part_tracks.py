"""A person first seen as an upper body, later as a whole body, keeps one track (tracking.parts)."""

from __future__ import annotations

import numpy as np

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking.parts import nested, two_people
from scenewatch.tracking.tracker import Tracker
from scenewatch.types import Detections

PERSON, CAR = 0, 2


def _walk(x: float, top: float, width: float, height: float) -> np.ndarray:
    return np.array([x, top, x + width, top + height], dtype=np.float32)


def _run(
    tracker: Tracker,
    frames: list[list[tuple[np.ndarray, float]]],
    finished: list | None = None,
    class_id: int = PERSON,
) -> list[dict[int, np.ndarray]]:
    """Each frame's reported id -> box (every box of ``class_id``); the tracks finished on the way
    added to ``finished``."""
    reported = []
    for t, frame in enumerate(frames):
        boxes = np.array([box for box, _ in frame], dtype=np.float32).reshape(-1, 4)
        scores = np.array([score for _, score in frame], dtype=np.float32)
        dets = Detections(boxes, scores, np.full(len(frame), class_id))
        out = tracker.update(dets, t / 10)
        reported.append({int(i): box for i, box in zip(out.track_ids.tolist(), out.xyxy, strict=True)})
        if finished is not None:
            finished += tracker.finished
    return reported


def _upper_then_whole(step: float = 3.0) -> list[list[tuple[np.ndarray, float]]]:
    """A man walking right: his upper body alone for 15 frames, then also his whole body."""
    frames = []
    for t in range(40):
        x = 100 + step * t
        frame = [(_walk(x, 50, 40, 60), 0.8)]
        if t >= 15:
            frame.append((_walk(x - 2, 48, 44, 120), 0.9))
        frames.append(frame)
    return frames


def test_whole_body_takes_over_the_part_tracks_id() -> None:
    tracker = Tracker()
    reported = _run(tracker, _upper_then_whole())
    ids = {i for frame in reported for i in frame}
    assert len(ids) == 1  # one man, one id (two before: upper body and whole body)
    (track_id,) = ids
    assert reported[10][track_id][3] - reported[10][track_id][1] == 60  # his upper body at first
    assert reported[-1][track_id][3] - reported[-1][track_id][1] == 120  # then his whole body
    finished = tracker.flush()
    assert [f.track_id for f in finished] == [track_id]
    assert np.all(np.diff(finished[0].times) > 0)  # one box a time: the part's, then the whole's


def test_vehicles_boxed_inside_one_another_are_never_paired() -> None:
    # The same boxes as cars: a box in another's, top-aligned, is another vehicle (a car before
    # a lorry) or the detector's second guess at one, not an upper body: two tracks, as before.
    reported = _run(Tracker(), _upper_then_whole(), class_id=CAR)
    assert len({i for frame in reported for i in frame}) == 2


def test_the_id_passes_to_the_part_while_the_whole_is_lost() -> None:
    frames = _upper_then_whole()
    for t in range(25, 35):  # his legs hidden for a second: only the upper body is boxed
        frames[t] = frames[t][:1]
    reported = _run(Tracker(), frames)
    assert len({i for frame in reported for i in frame}) == 1
    assert len(reported[33]) == 1  # the upper body carries his id meanwhile
    (box,) = reported[-1].values()
    assert box[3] - box[1] == 120  # and the whole body again once it is back


def test_a_new_part_box_of_a_running_whole_never_counts() -> None:
    frames = []
    for t in range(40):
        x = 100 + 3.0 * t
        frame = [(_walk(x - 2, 48, 44, 120), 0.9)]
        if t >= 10:
            frame.append((_walk(x, 50, 40, 60), 0.8))
        frames.append(frame)
    reported = _run(Tracker(), frames)
    assert len({i for frame in reported for i in frame}) == 1


def test_a_part_seen_again_after_its_persons_id_ended_starts_from_its_unreported_boxes() -> None:
    """The whole body leaves at frame 29, the upper body two frames later; the man's id ends after
    the lost timeout, and his upper body is then seen again: a new id, whose stored boxes are only
    those no id reported (frames 30, 31 and from 61), never his boxes again."""
    frames = _upper_then_whole()[:30]
    frames += [[(_walk(100 + 3.0 * t, 50, 40, 60), 0.8)] for t in (30, 31)]
    frames += [[] for _ in range(32, 61)]
    frames += [[(_walk(100 + 3.0 * t, 50, 40, 60), 0.8)] for t in range(61, 70)]
    tracker = Tracker()
    finished: list = []
    _run(tracker, frames, finished)
    finished += tracker.flush()
    assert len(finished) == 2
    first, again = sorted(finished, key=lambda f: f.times[0])
    assert first.times[-1] == 2.9
    assert again.times[0] > first.times[-1]  # was 0.0: his first 32 boxes stored twice
    np.testing.assert_allclose(again.times, [3.0, 3.1, *(t / 10 for t in range(61, 70))])


def test_off_keeps_two_tracks() -> None:
    reported = _run(Tracker(TrackerConfig(part_updates=0)), _upper_then_whole())
    assert len({i for frame in reported for i in frame}) == 2


def test_two_people_one_behind_the_other_stay_apart() -> None:
    """Seen from above: the one behind shows his upper body at the top, the one in front a more
    confident box lower down; a big box holding both is two people, not a whole."""
    frames = []
    for t in range(40):
        x = 100 + 3.0 * t
        frame = [(_walk(x, 50, 40, 60), 0.6), (_walk(x + 2, 100, 36, 70), 0.9)]
        if t >= 15:
            frame.append((_walk(x - 2, 48, 44, 124), 0.5))
        frames.append(frame)
    reported = _run(Tracker(), frames)
    ids = {i for frame in reported for i in frame}
    assert len(ids) == 3
    assert len(reported[-1]) == 3


def test_a_child_beside_an_adult_stays_apart() -> None:
    frames = []
    for t in range(40):
        x = 100 + 3.0 * t
        frame = [(_walk(x, 50, 40, 120), 0.9)]
        if t >= 15:
            frame.append((_walk(x + 36, 110, 30, 60), 0.8))  # beside him, shoulder high
        frames.append(frame)
    reported = _run(Tracker(), frames)
    assert len({i for frame in reported for i in frame}) == 2
    assert len(reported[-1]) == 2


def test_nested_geometry() -> None:
    whole = np.array([[0, 0, 40, 120]], dtype=np.float32)
    parts = np.array(
        [[2, 2, 38, 60], [2, 60, 38, 120], [0, 0, 15, 60], [2, 2, 38, 110]],  # upper, lower, thin, tall
        dtype=np.float32,
    )
    assert nested(parts, whole)[:, 0].tolist() == [True, False, False, False]
    both = np.array([[0, 0, 40, 120], [2, 50, 38, 118], [2, 0, 38, 50]], dtype=np.float32)
    assert two_people(both, np.array([0.5, 0.9, 0.6])).tolist() == [True, False, False]
    assert not two_people(both, np.array([0.9, 0.5, 0.6])).any()  # a weaker lower box: legs
