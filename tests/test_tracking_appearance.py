"""The tracker's appearance cue: colours decide where motion cannot, and never split a track."""

from __future__ import annotations

import numpy as np
from conftest import MOT, needs_models, needs_mot

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking import Tracker
from scenewatch.tracking.appearance import describe, similarity
from scenewatch.types import Detections

PERSON = 0
RED, BLUE, GREEN, GREY = (30, 30, 200), (200, 60, 30), (40, 180, 40), (128, 128, 128)  # BGR


def scene(people: list[tuple[list[float], tuple[int, int, int]]]) -> tuple[Detections, np.ndarray]:
    """Detections of ``people`` (box, colour) and a grey picture with each painted in its colour."""
    image = np.full((240, 480, 3), GREY, np.uint8)
    for (x0, y0, x1, y1), colour in people:
        image[int(y0) : int(y1), int(x0) : int(x1)] = colour
    boxes = np.array([b for b, _ in people], np.float32).reshape(-1, 4)
    return Detections(boxes, [0.9] * len(people), [PERSON] * len(people)), image


def test_looks_tell_colours_apart_and_stay_alike_under_shade():
    dets, image = scene([([20, 20, 60, 120], RED), ([100, 20, 140, 120], BLUE)])
    shade = (image * 0.6).astype(np.uint8)  # the same people walking into shade
    looks, shaded = describe(image, dets.xyxy), describe(shade, dets.xyxy)
    alike = similarity(looks, shaded)
    assert alike[0, 0] > 0.5 and alike[1, 1] > 0.5
    assert alike[0, 1] < 0.2 and alike[1, 0] < 0.2


def test_a_change_of_look_does_not_split_the_track():
    # Two people walk side by side close enough that each track has both detections within reach
    # (the appearance cost is on); one of them turns from red to blue halfway (a jacket taken off,
    # a turn showing another side). Both keep their ids: motion decides when no look fits. (The
    # switch check, switch_similarity, would refuse so abrupt a change: off here, the cue alone.)
    tracker = Tracker(TrackerConfig(appearance=True, switch_similarity=0))
    ids_a, ids_b = set(), set()
    for i in range(40):
        x = 40 + 6 * i
        a, b = [x, 60, x + 40, 160], [x + 48, 64, x + 88, 164]
        dets, image = scene([(a, RED if i < 20 else BLUE), (b, GREEN)])
        out = tracker.update(dets, i / 10, i, image)
        for box, tid in zip(out.xyxy, out.track_ids.tolist(), strict=True):
            (ids_a if abs(box[0] - a[0]) < 3 else ids_b).add(tid)
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b
    assert tracker.flush() and len(tracker.active_ids) == 0


def ids_behind_a_post(tracker: Tracker) -> set[int]:
    """The ids ``tracker`` gives a red person hidden for 1.2 s who reappears further on than the
    motion predicts (they sped up behind the post)."""
    seen = set()
    for i in range(40):
        x = 40 + 4 * i if i < 15 else 40 + 4 * i + 70
        people = [] if 15 <= i < 27 else [([x, 60, x + 40, 160], RED)]
        dets, image = scene(people)
        seen |= set(tracker.update(dets, i / 10, i, image).track_ids.tolist())
    return seen


def test_a_person_lost_behind_a_post_gets_the_id_back_by_look():
    # The lost track's prediction misses the new box; the look joins it.
    assert ids_behind_a_post(Tracker(TrackerConfig(lost_timeout=3.0, appearance=True))) == {1}
    # the case the join is for: motion alone gives a second id
    assert len(ids_behind_a_post(Tracker(TrackerConfig(appearance=False)))) == 2


def campus_people_every(step: int) -> tuple[list[tuple[int, np.ndarray, Detections]], np.ndarray]:
    """TUD-Campus's 71 frames with the default detector run on every ``step``-th: (frame index,
    image, people found) for those, and the ground truth."""
    import cv2

    from scenewatch.config import AppConfig
    from scenewatch.eval.mot import load_mot
    from scenewatch.pipeline import build_detector

    name = "TUD-Campus"
    detector = build_detector(AppConfig())
    capture = cv2.VideoCapture(str(MOT / name / f"{name}.mp4"))
    frames = []
    for index in range(71):
        ok, image = capture.read()
        assert ok, f"{name}.mp4 ended at frame {index}"
        if index % step == 0:
            found = detector.detect_one(image)
            frames.append((index, image, found[found.class_ids == PERSON]))
    return frames, load_mot(MOT / name / "gt.txt", ground_truth=True)


def ids_of_person(outputs: list[tuple[int, Detections]], gt: np.ndarray, person: int) -> list[int]:
    """The track ids matched (IoU >= 0.5) to ground-truth ``person`` on each output frame, in order."""
    from scenewatch.tracking.matching import iou_matrix

    found = []
    for index, out in outputs:
        row = gt[(gt[:, 0] == index + 1) & (gt[:, 1] == person)]
        if not len(row) or not len(out):
            continue
        x, y, w, h = row[0, 2:6]
        overlap = iou_matrix(np.array([[x, y, x + w, y + h]]), out.xyxy.astype(np.float64))[0]
        if overlap.max() >= 0.5:
            found.append(int(out.track_ids[int(np.argmax(overlap))]))
    return found


@needs_mot
@needs_models
def test_people_crossing_on_a_real_clip_keep_their_ids_by_look():
    # TUD-Campus detected 5 times a second (the live detection rate): the man in the brown jacket
    # (ground-truth id 7) walks right and is crossed by a man in black walking left (frames 36-46).
    # On motion alone a lost track takes his box during the crossing (an id switch, then a third
    # id); with the colours of the upper and lower body he keeps one id.
    frames, gt = campus_people_every(5)

    def track(config: TrackerConfig) -> list[tuple[int, Detections]]:
        tracker = Tracker(config)
        return [(i, tracker.update(dets, i / 25, i, image)) for i, image, dets in frames]

    # plain motion: without the sparse-detection gate, joins, fading size rate and the lost tracks'
    # growth limit, which keep him too
    plain = TrackerConfig(
        appearance=False, match_cost_per_s=0.0, join_window_s=0.0, size_memory_s=0.0, lost_max_growth=10.0
    )
    motion_only = ids_of_person(track(plain), gt, 7)
    with_looks = ids_of_person(track(TrackerConfig(appearance=True)), gt, 7)
    sparse_rules = ids_of_person(track(TrackerConfig(appearance=False)), gt, 7)
    assert len(set(motion_only)) >= 2, f"motion alone kept the id ({motion_only}): the clip no longer tests"
    assert len(with_looks) >= 6 and len(set(with_looks)) == 1, with_looks
    assert len(sparse_rules) >= 6 and len(set(sparse_rules)) == 1, sparse_rules
