"""A second look for fallen people: a person track lost where it stood is looked for lying there.

The detector (COCO-trained) rarely sees people lying: it scores them 0.1-0.4 as "person", mostly
below the camera's threshold and the tracker's new-track score, and the box turning from tall to
wide breaks the standing track's association. So a fall looks like a person vanishing. When a
standing person's track is lost away from the frame's border, the detector's own weak person boxes
(kept before the camera's threshold) are looked at where the person stood: a box wider than tall,
resting about where the feet were and about as long as the person was tall, that MoveNet sees as a
lying torso, continues the track (same id), so the person-down rule sees the fall. Once down, a
weak box over the lying body keeps the track alive; nothing new is run for that.

Cost: nothing while tracks are matched; one pose run per candidate box of a lost standing person
(at most one per track every ``POSE_EVERY_S``), counted in ``looks``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenewatch.rules.base import Posture
from scenewatch.tracking.tracker import Tracker
from scenewatch.types import Detections
from scenewatch.vision.labels import class_id

PERSON = class_id("person")
# Chosen on the dev scene vtest-a (bench/scenes; the other dev scenes have no person-down rule).
MIN_SCORE = 0.1  # weakest person box taken as a lying body (real ones score 0.1-0.4)
LOOK_S = 1.0  # a track lost longer than this did not fall where it was last seen
STANDING_ASPECT = 1.3  # height / width of an upright person's box
LYING_ASPECT = 1.0  # a candidate's width / height: lying
LENGTH = (0.4, 1.6)  # a candidate's width in standing heights (a partial body is still 0.4 of one)
FLAT = 0.8  # a candidate is at most this many standing heights tall
REACH = 1.25  # a candidate lies within this many standing heights of the feet, sideways
FEET_BAND = (0.5, 0.2)  # candidate bottom within these standing heights above / below the feet
WHOLE = 0.8  # a candidate at least this many standing heights long shows the whole body
BORDER = 0.02  # a box this close (share of the frame) to the left, right or bottom edge has left
POSE_EVERY_S = 0.2
OTHERS_IOU = 0.5  # a candidate this much over a tracked box is that track's detection
KEEP_COVER = 0.5  # once down: a weak box covering this share of itself inside the lying box


@dataclass(slots=True)
class Down:
    """A track continued as lying: the box it was found in."""

    box: np.ndarray
    score: float


class FallenPersonWatch:
    """``check(tracker, raw, image, now, tracked, posture)`` after each tracker update: the lost
    person tracks found lying, extended in the tracker and returned as that update's rows."""

    def __init__(self) -> None:
        # track -> its upright boxes of the last 2 LOOK_S, with when: the last one may be the
        # first frame of the fall, still taller than wide but leaning
        self.upright: dict[int, list[tuple[np.ndarray, float]]] = {}
        self.down: dict[int, Down] = {}
        self.tried: dict[int, float] = {}  # track -> last pose run on its candidates
        self.looks = 0  # pose runs
        self.found = 0  # tracks continued as lying

    def check(
        self,
        tracker: Tracker,
        raw: Detections | None,
        image: np.ndarray,
        now: float,
        tracked: Detections,
        posture: Posture,
    ) -> Detections:
        self.remember(tracker, tracked, now)
        ids, classes, _, seen = tracker.lost()
        lost = {
            t: w for t, c, w in zip(ids.tolist(), classes.tolist(), seen.tolist(), strict=True) if c == PERSON
        }
        if not lost or raw is None or not len(raw):
            return Detections.empty()
        people = raw[(raw.class_ids == PERSON) & (raw.scores >= MIN_SCORE)]
        people = people[~overlaps_any(people.xyxy, tracked.xyxy, OTHERS_IOU)]
        free = np.ones(len(people), dtype=bool)  # one body continues one track
        found = []
        for tid in [t for t in lost if t in self.down]:  # those already down first: their bodies
            if (row := self.keep_down(self.down[tid], people, free)) is not None:
                free[row] = False
                found.append(tracker.extend(tid, self.down[tid].box, float(people.scores[row])))
        for down in self.down.values():  # a body already down is no one else's fall
            free &= inside_share(people.xyxy, down.box) < KEEP_COVER
        for tid, body in self.fallen(lost, people, free, image, now, posture):
            self.down[tid] = Down(
                body, float(people.scores[inside_share(people.xyxy, body) >= KEEP_COVER].max())
            )
            self.found += 1
            found.append(tracker.extend(tid, body, self.down[tid].score))
        return Detections.concat(found) if found else Detections.empty()

    def remember(self, tracker: Tracker, tracked: Detections, now: float) -> None:
        """Each person's last upright box; forget tracks that ended; a person matched upright is up."""
        alive = set(tracker.active_ids.tolist())
        for name in ("upright", "down", "tried"):
            setattr(self, name, {t: v for t, v in getattr(self, name).items() if t in alive})
        person = tracked.class_ids == PERSON
        for tid, box in zip(tracked.track_ids[person].tolist(), tracked.xyxy[person], strict=True):
            if box[3] - box[1] >= STANDING_ASPECT * max(box[2] - box[0], 1.0):
                recent = [(b, t) for b, t in self.upright.get(tid, []) if now - t <= 2 * LOOK_S]
                self.upright[tid] = [*recent, (box.copy(), now)]
                self.down.pop(tid, None)

    def fallen(
        self,
        lost: dict[int, float],
        people: Detections,
        free: np.ndarray,
        image: np.ndarray,
        now: float,
        posture: Posture,
    ) -> list[tuple[int, np.ndarray]]:
        """(track, lying body) for the people lost just now who lie where they last stood: each
        track's best-fitting free candidate, best fits first, confirmed by a lying torso; ``free``
        loses the candidates taken."""
        pairs = []  # (how well the body fits where the person stood, track, candidate row, stood)
        for tid, when in lost.items():
            for box in self.due(tid, when, now, image.shape):
                fit = fit_cost(box, people.xyxy)
                pairs += [(fit[row], tid, row, box) for row in np.flatnonzero(np.isfinite(fit)).tolist()]
        looked: set[int] = set()
        taken = free.copy()
        chosen = []
        for _, tid, row, stood in sorted(pairs, key=lambda p: p[0]):
            if tid in looked or not taken[row]:
                continue
            looked.add(tid)
            self.tried[tid] = now
            self.looks += 1
            body = whole_body(stood, people.xyxy[row])
            if posture.posture(image, body) == "lying":
                taken[row] = False
                chosen.append((tid, body))
        free &= taken
        return chosen

    def due(self, tid: int, when: float, now: float, shape: tuple[int, ...]) -> list[np.ndarray]:
        """The recent upright boxes of a person lost just now inside the view (a fall takes under a
        second), unless looked at a moment ago; none otherwise."""
        stood = [b for b, t in self.upright.get(tid, []) if now - t <= 2 * LOOK_S]
        if tid in self.down or not stood or now - when > LOOK_S:
            return []
        if now - self.tried.get(tid, -np.inf) < POSE_EVERY_S:
            return []
        height, width = shape[:2]
        x0, _, x1, y1 = stood[-1].tolist()
        inside = x0 > BORDER * width and x1 < (1 - BORDER) * width and y1 < (1 - BORDER) * height
        return stood if inside else []

    @staticmethod
    def keep_down(down: Down, people: Detections, free: np.ndarray) -> int | None:
        """A weak box over the lying body (often half of it): the person is still there."""
        cover = inside_share(people.xyxy, down.box)
        rows = np.flatnonzero((cover >= KEEP_COVER) & free)
        return int(rows[np.argmax(people.scores[rows])]) if len(rows) else None


def whole_body(upright: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """The lying body a candidate box shows part of: a short one (the detector often boxes only
    the upper or lower half) is taken from the feet, one standing height long towards its side."""
    x0, y0, x1, y1 = upright.tolist()
    fx, h = (x0 + x1) / 2, y1 - y0
    if candidate[2] - candidate[0] >= WHOLE * h:
        return candidate.copy()
    side = 1.0 if (candidate[0] + candidate[2]) / 2 >= fx else -1.0
    far = fx + side * h
    return np.array(
        [min(candidate[0], far, fx), candidate[1], max(candidate[2], far, fx), candidate[3]], dtype=np.float32
    )


def fit_cost(box: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """How far each candidate box is from lying where the person of ``box`` stood (in standing
    heights: its bottom from the feet, its nearer end from the feet sideways); inf where it cannot
    be that person lying."""
    x0, y0, x1, y1 = box.tolist()
    h, fx = max(y1 - y0, 1.0), (x0 + x1) / 2
    inside = (candidates[:, 0] <= fx) & (fx <= candidates[:, 2])
    sideways = np.where(inside, 0.0, np.minimum(np.abs(candidates[:, 0] - fx), np.abs(candidates[:, 2] - fx)))
    cost = (np.abs(candidates[:, 3] - y1) + sideways) / h
    return np.where(lying_where(box, candidates), cost, np.inf)


def lying_where(box: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Which candidate boxes could be the person of ``box`` (standing) now lying where they stood."""
    x0, y0, x1, y1 = box.tolist()
    h, fx = max(y1 - y0, 1.0), (x0 + x1) / 2
    w = candidates[:, 2] - candidates[:, 0]
    ch = np.maximum(candidates[:, 3] - candidates[:, 1], 1.0)
    return (
        (w >= LYING_ASPECT * ch)
        & (w >= LENGTH[0] * h)
        & (w <= LENGTH[1] * h)
        & (ch <= FLAT * h)
        & (candidates[:, 0] >= fx - REACH * h)
        & (candidates[:, 2] <= fx + REACH * h)
        & (candidates[:, 3] >= y1 - FEET_BAND[0] * h)
        & (candidates[:, 3] <= y1 + FEET_BAND[1] * h)
    )


def inside_share(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The share of each of ``boxes`` inside ``box``."""
    w = np.clip(np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0]), 0, None)
    h = np.clip(np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1]), 0, None)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    return w * h / area


def overlaps_any(boxes: np.ndarray, others: np.ndarray, iou: float) -> np.ndarray:
    """Which of ``boxes`` overlap any of ``others`` at ``iou`` or more."""
    if not len(boxes) or not len(others):
        return np.zeros(len(boxes), dtype=bool)
    x0 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y0 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x1 = np.minimum(boxes[:, None, 2], others[None, :, 2])
    y1 = np.minimum(boxes[:, None, 3], others[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    union = area(boxes)[:, None] + area(others)[None, :] - inter
    return (inter / np.maximum(union, 1e-6) >= iou).any(axis=1)
