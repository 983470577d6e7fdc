"""Bags and umbrellas attached to the person who carries them, over the track's life.

Each frame, every bag/umbrella the detector saw (``raw``, before the class filter) goes to the
person box that contains most of it. A track's confidence for an item is the fraction of its
sightings with that item attached; the item is reported when some sighting was confident.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from scenewatch.types import Detections

ITEMS = {24: "backpack", 25: "umbrella", 26: "handbag", 28: "suitcase"}  # COCO-80 indices
PERSON = 0
MIN_CONTAINED = 0.5  # share of the item box that must fall inside the (grown) person box
MAX_PERSON_COVER = 0.5  # an item covering this much of a person's box is that person, re-labelled


def grow_person_boxes(xyxy: np.ndarray) -> np.ndarray:
    """Person boxes grown where carried things stick out: sideways (backpacks, suitcases
    pulled alongside) and above the head (umbrellas)."""
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    return np.stack([xyxy[:, 0] - 0.3 * w, xyxy[:, 1] - 0.3 * h, xyxy[:, 2] + 0.3 * w, xyxy[:, 3]], axis=1)


def attach(people: np.ndarray, items: np.ndarray) -> np.ndarray:
    """[M] index of the person each item belongs to, -1 for none (people [N,4], items [M,4]).

    An item never attaches to a person whose box it mostly covers (see ``MAX_PERSON_COVER``)."""
    if len(people) == 0 or len(items) == 0:
        return np.full(len(items), -1, dtype=np.int64)
    grown = grow_person_boxes(people.astype(np.float64))
    it = items.astype(np.float64)
    top_left = np.maximum(it[:, None, :2], grown[None, :, :2])
    bottom_right = np.minimum(it[:, None, 2:], grown[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)  # [M, N]
    area = np.maximum(np.prod(it[:, 2:] - it[:, :2], axis=1), 1e-6)
    contained = inter / area[:, None]
    # Between people who both contain it, the one whose centre is nearer the item wins.
    centres = (people[:, :2] + people[:, 2:]) / 2
    item_c = (it[:, :2] + it[:, 2:]) / 2
    width = np.maximum(people[:, 2] - people[:, 0], 1.0)
    near = np.hypot(*(item_c[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)) / width[None, :]
    # An item box covering most of a person's box is the detector naming that body (a dark coat)
    # a second time, not something it carries: a bag is at most about half a person's size.
    person_area = np.maximum(np.prod(people[:, 2:] - people[:, :2], axis=1), 1e-6)
    same_body = (inter / person_area[None, :] >= MAX_PERSON_COVER) & (contained >= MIN_CONTAINED)
    score = np.where((contained >= MIN_CONTAINED) & ~same_body, contained - 0.1 * near, -np.inf)
    best = np.argmax(score, axis=1)
    # Where people overlap, an item inside two of their boxes cannot be given to either from
    # boxes alone: it is left out rather than credited to a bystander the carrier walks past.
    ambiguous = np.isfinite(score).sum(axis=1) >= 2
    return np.where(np.isfinite(score[np.arange(len(it)), best]) & ~ambiguous, best, -1)


class CarriedItems:
    """Counts, per person track, sightings and the sightings with each item attached."""

    def __init__(self, min_score: float = 0.15, report_score: float = 0.3):
        self.min_score = min_score
        self.report_score = report_score
        self.sightings: Counter[int] = Counter()
        self.seen: dict[int, Counter[str]] = defaultdict(Counter)
        self.best: dict[int, dict[str, float]] = defaultdict(dict)

    def observe(self, tracked: Detections, raw: Detections) -> None:
        people = tracked[tracked.class_ids == PERSON]
        if len(people) == 0:
            return
        self.sightings.update(people.track_ids.tolist())
        is_item = np.isin(raw.class_ids, list(ITEMS)) & (raw.scores >= self.min_score)
        items = raw[is_item]
        owner = attach(people.xyxy, items.xyxy)
        per_frame: dict[int, dict[str, float]] = defaultdict(dict)
        for k in np.flatnonzero(owner >= 0).tolist():
            track_id = int(people.track_ids[owner[k]])
            name = ITEMS[int(items.class_ids[k])]
            per_frame[track_id][name] = max(per_frame[track_id].get(name, 0.0), float(items.scores[k]))
        for track_id, found in per_frame.items():
            self.seen[track_id].update(found.keys())  # once per frame, however many boxes
            best = self.best[track_id]
            for name, score in found.items():
                best[name] = max(best.get(name, 0.0), score)

    def pop(self, track_id: int) -> dict[str, float]:
        """item -> fraction of the track's sightings it was attached (confident items only)."""
        total = self.sightings.pop(track_id, 0)
        seen = self.seen.pop(track_id, Counter())
        best = self.best.pop(track_id, {})
        if total == 0:
            return {}
        return {
            name: round(count / total, 3)
            for name, count in sorted(seen.items())
            if best.get(name, 0.0) >= self.report_score and count >= 2
        }

    def discard(self, keep: set[int]) -> None:
        for track_id in set(self.sightings) - keep:
            self.pop(track_id)
