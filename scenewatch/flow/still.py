"""Vouching for people who stand still: a person's skeleton on the crop of a held track.

The tracker holds a track of a static class (``tracker.static_classes``) until its box moves, so a
stone detected as a person never counts (``scenewatch.tracking.static``). A real person already
standing when the camera first sees them would be held too, until they shift. MoveNet on the
track's crop tells the two apart: a person gives a skeleton (person score 0.25-0.65 on the dev
clips), a stone, a bollard or a van's corner none (0.00-0.09). A held track is looked at when first
held, then at doubling intervals up to ``MAX_WAIT_S``, so a stone costs one small pose run a minute.
A camera runs at most ``MAX_LOOKS_PER_S`` pose runs in any second of frame time, however many tracks
are due (a crowd entering at once); the due ones wait for the next frames in order of need: never
looked at, then a weak skeleton waiting for its second look, then the longest overdue.
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np

from scenewatch.config.tracker import TrackerConfig
from scenewatch.errors import SceneWatchError
from scenewatch.models import ModelStore
from scenewatch.tracking.tracker import Tracker
from scenewatch.types import Detections
from scenewatch.vision.attributes.crops import crop_around
from scenewatch.vision.labels import class_id
from scenewatch.vision.pose import PoseEstimator

log = logging.getLogger(__name__)

PERSON = class_id("person")
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 60.0
# A skeleton scoring between WEAK_SHARE of the pose score and the pose score (a person half hidden,
# or turned away) vouches when two looks in a row see it; a stone's score flickers up there on about
# one frame in a hundred (vtest.avi: 0.03 median, 0.10-0.14 at most), rarely twice in a row.
WEAK_SHARE = 0.6
WEAK_RECHECK_S = 0.5
# A pose run costs about 20 ms of CPU: this bounds the check at about 4 % of a core a camera, and
# delays a standing person behind n other due tracks by n / MAX_LOOKS_PER_S seconds at most.
MAX_LOOKS_PER_S = 2


class StillPersonCheck:
    """``check(tracker, image, now)`` after each tracker update: vouches for the held person tracks
    whose crop shows a skeleton (a score of at least ``min_score``, or a weaker one twice in a row)
    and returns them (as that update saw them), so they are reported in the same frame."""

    def __init__(self, pose: PoseEstimator, min_score: float, max_looks_per_s: int = MAX_LOOKS_PER_S):
        self.pose = pose
        self.min_score = min_score
        self.max_looks_per_s = max(1, max_looks_per_s)
        self.due: dict[int, tuple[float, float, bool]] = {}  # track id -> (next look, wait, last weak)
        self.looks = 0  # pose runs, for tests and metrics
        self._recent: deque[float] = deque()  # frame times of the pose runs in the last second

    def check(self, tracker: Tracker, image: np.ndarray, now: float) -> Detections:
        ids, classes, boxes = tracker.held()
        vouched = []
        for tid, box in self._most_needed(ids, classes, boxes, now):
            due, wait, was_weak = self.due.get(tid, (now, FIRST_WAIT_S, False))
            self._recent.append(now)
            score = self.pose_score(image, box)
            weak = score >= WEAK_SHARE * self.min_score
            if score >= self.min_score or (weak and was_weak):
                vouched.append(tid)
                self.due.pop(tid, None)
            elif weak:  # look again soon, without growing the wait
                self.due[tid] = (now + WEAK_RECHECK_S, wait, True)
            else:
                self.due[tid] = (now + wait, min(2 * wait, MAX_WAIT_S), False)
        if len(self.due) > 4 * max(len(ids), 16):  # forget tracks that ended
            alive = set(ids.tolist())
            self.due = {tid: when for tid, when in self.due.items() if tid in alive}
        return tracker.vouch(vouched) if vouched else Detections.empty()

    def _most_needed(
        self, ids: np.ndarray, classes: np.ndarray, boxes: np.ndarray, now: float
    ) -> list[tuple[int, np.ndarray]]:
        """The held person tracks due for a look that this second's budget allows, most needed first."""
        while self._recent and not now - 1.0 < self._recent[0] <= now:  # older, or a clock jump back
            self._recent.popleft()
        budget = self.max_looks_per_s - len(self._recent)
        if budget <= 0:
            return []
        ranked = []
        for tid, cls, box in zip(ids.tolist(), classes.tolist(), boxes, strict=True):
            state = self.due.get(tid)
            if cls != PERSON or (state is not None and now < state[0]):
                continue
            need = 0 if state is None else 1 if state[2] else 2
            ranked.append(((need, now if state is None else state[0], tid), tid, box))
        ranked.sort(key=lambda r: r[0])
        return [(tid, box) for _, tid, box in ranked[:budget]]

    def pose_score(self, image: np.ndarray, box: np.ndarray) -> float:
        """MoveNet's best person score on the box's crop (0 when it sees nobody)."""
        crop, _ = crop_around(image, box, pad=0.25)
        if crop.size == 0:
            return 0.0
        self.looks += 1
        poses = self.pose.estimate(crop, min_score=0.0)
        return poses[0].score if poses else 0.0


def still_check_for(config: TrackerConfig, models: ModelStore | None = None) -> StillPersonCheck | None:
    """A check when people are held as static background and the pose check is on; without the
    pose model they are held until they move (logged once)."""
    if "person" not in config.static_classes or config.static_pose_score <= 0:
        return None
    try:
        path = (models or ModelStore()).path("movenet-multipose.onnx")
    except SceneWatchError as exc:
        log.warning("people standing still count only once they move: %s", exc)
        return None
    return StillPersonCheck(PoseEstimator(path, threads=1), config.static_pose_score)
