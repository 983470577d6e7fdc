"""What the tracker remembers of each track's look, and the joins it makes with it.

:class:`LookMemory` is the part of ``Tracker`` that learns each track's look (a running mean of
``scenewatch.tracking.appearance`` histograms, from detections no other box overlaps) and, when a
new track is confirmed, gives it the id of a lost track it continues: a confirmed track lost before
the new one was born, of its class group, alike in look, and within reach of the new one's first
box. The join happens before the new track is ever reported, so no reported id is rewritten, and
the lost track's gap is filled by finishing like any other gap.

With the cue off (the default) and ``look_veto`` on, looks are still learned, only to forbid links: a
lost track is never given a box of a clearly different look (``UNLIKE``), by matching or by a motion
join. With ``switch_similarity`` (on by default, cue or not) any confirmed track, running too, is refused
a clean box less alike than that: a person hidden behind another who walks on where the hidden one
was predicted. The veto only ever removes a link: it never hands the box, or the join, to another track.
Nor is a lost person joined to a new track whose first box is much taller than its last one, or
given such a box once lost for a while (``LONG_LOST_S``; ``lost_max_growth``): that is someone
nearer the camera.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scenewatch.tracking import appearance
from scenewatch.tracking.matching import LONG_LOST_S, REACH_RATIO, ambiguity_cost, grown, within_reach
from scenewatch.tracking.parts import PartMemory

if TYPE_CHECKING:
    from scenewatch.config.tracker import TrackerConfig
    from scenewatch.types import Detections

# Least weight of a new detection in a track's running look: about its last ten detections count.
LOOK_RATE = 0.1
# How much more alike than any other track a lost track must be to take a new one's id.
DISTINCT = 0.1
# Below this colour similarity two looks are clearly different people: a lost track never takes
# such a box (overlapped boxes, which mix two people's colours, are not judged).
UNLIKE = 0.6
# Detections a track's look is learned from before switch_similarity judges it: one box's colours
# are noise (on TUD-Campus, dev, at 3 detections a second, a track known from one box refused its
# own person).
KNOWN_LOOKS = 3


@dataclass(frozen=True, slots=True)
class Looks:
    """The looks [N, SIZE] of a frame's detections, and which of them may teach a track its look
    (``clean``: confident, and no other box overlaps them, which would mix two people's colours)."""

    values: np.ndarray
    clean: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray, dets: Detections, high_score: float) -> Looks:
        clean = (dets.scores >= high_score) & ~appearance.overlapped(dets.xyxy)
        return cls(appearance.describe(image, dets.xyxy), clean)

    def __getitem__(self, index: np.ndarray) -> Looks:
        return Looks(self.values[index], self.clean[index])

    def __bool__(self) -> bool:  # ``looks and looks[i]`` subsets, whatever the number of boxes
        return True


class LookMemory(PartMemory):
    """Mixed into ``Tracker``: the per-track look arrays and the methods that use them."""

    config: TrackerConfig
    _ids: np.ndarray
    _mean: np.ndarray
    _seen: np.ndarray
    _last_time: float
    _confirmed: np.ndarray
    _scored: np.ndarray
    _moved: np.ndarray
    _hits: np.ndarray
    _votes: np.ndarray
    _look: np.ndarray  # [N, appearance.SIZE] running mean of each track's colours
    _looks: np.ndarray  # [N] detections each look was learned from
    _history: list[list[tuple[float, int, np.ndarray, float]]]

    def _track_groups(self) -> np.ndarray:
        raise NotImplementedError

    def _select(self, keep: np.ndarray) -> None:
        raise NotImplementedError

    def _looking(self) -> bool:
        """Whether detections' looks are read: for the cue, or only for the veto."""
        return self.config.appearance or self.config.look_veto or self.config.switch_similarity > 0

    def _add_looks(
        self, cost: np.ndarray, tracks: np.ndarray, looks: Looks | None
    ) -> tuple[np.ndarray, float]:
        """Association ``cost`` of ``tracks`` against detections with ``looks`` (None: not looked at)
        with the look added where motion is ambiguous (the cue on), and the most it added."""
        weight = self.config.appearance_weight
        if looks is None or weight <= 0 or not self.config.appearance:
            return cost, 0.0
        has_look = self._looks[tracks] > 0
        cost = ambiguity_cost(cost, self._look[tracks], has_look, looks.values, weight, looks.clean)
        return cost, weight

    def _use_looks(self, rows: np.ndarray, looks: Looks, was: np.ndarray) -> np.ndarray:
        """Teach the matched ``rows`` the ``looks`` of their detections, then join the newly
        confirmed ones (not confirmed before this update: ``was``) to lost tracks they continue;
        returns the matched rows after."""
        self._learn(rows[looks.clean], looks.values[looks.clean])
        if self.config.join_similarity >= 1.0:
            return rows
        return self._join(rows, was, self._lost_twin)

    def _rejoin(self, rows: np.ndarray, was: np.ndarray, looks: Looks | None) -> np.ndarray:
        """After the matched ``rows`` were updated: teach them the ``looks`` of their detections
        (None: the frame was not seen), then join the newly confirmed ones (not confirmed before
        this update: ``was``) to lost tracks they continue, by look with the appearance cue on,
        else by motion; returns the matched rows after. A whole body and its part first take one id
        (``PartMemory``)."""
        was = self._join_parts(rows, was)
        if looks is None or not self.config.appearance:
            if looks is not None:
                self._learn(rows[looks.clean], looks.values[looks.clean])
            return self._join_by_motion(rows, was)
        return self._use_looks(rows, looks, was)

    def _growth(self, row: int) -> float:
        """How much taller than its last box a lost track's next box may be: ``lost_max_growth``
        for people (a walker's distance to the camera changes little in a second or two); twice
        for the rest (a car on a road nears the camera fast)."""
        return self.config.lost_max_growth if self._people(np.array([row]))[0] else REACH_RATIO

    def _not_grown(self, tracks: np.ndarray, boxes: np.ndarray, timestamp: float) -> np.ndarray:
        """[N, M] False where ``tracks[n]``, a person lost over ``LONG_LOST_S``, would be found
        again in ``boxes[m]``, taller than its last box by more than ``lost_max_growth``; a box
        smaller than it (the legs hidden behind someone) stays a candidate."""
        gate = np.ones((len(tracks), len(boxes)), dtype=bool)
        lost = np.flatnonzero(timestamp - self._seen[tracks] > LONG_LOST_S)
        if len(lost):  # most updates lose no one for that long: no class vote is read
            lost = lost[self._people(tracks[lost])]
            gate[lost] = ~grown(self._latest_boxes(tracks[lost]), boxes, self.config.lost_max_growth)
        return gate

    def _unvetoed(
        self, tracks: np.ndarray, det_idx: np.ndarray, rows: np.ndarray, cols: np.ndarray, looks: Looks | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The assignment ``rows`` (into ``tracks``), ``cols`` (into ``det_idx``, into the frame's
        ``looks``) without its vetoed links (``_vetoed``). The box of a vetoed link is not handed
        to another established track: it stays free for a tentative track or a new one."""
        kept = ~self._vetoed(tracks[rows], looks and looks[det_idx[cols]])
        return rows[kept], cols[kept]

    def _vetoed(self, rows: np.ndarray, looks: Looks | None) -> np.ndarray:
        """[K] True where ordinary matching gave the confirmed track ``rows[k]`` a clean box of a
        clearly different look ``looks[k]`` (``_unlike``; None: not seen, none is): that link is
        dropped after the assignment, so the box is not handed to another track instead."""
        vetoed = np.zeros(len(rows), dtype=bool)
        if looks is None:
            return vetoed
        unlike = self._unlike(rows, self._seen[rows] < self._last_time)
        judged = self._confirmed[rows] & looks.clean & (unlike > 0)
        k = np.flatnonzero(judged)
        vetoed[k] = np.diag(appearance.similarity(self._look[rows[k]], looks.values[k])) < unlike[k]
        return vetoed

    def _unlike(self, rows: np.ndarray, lost: np.ndarray) -> np.ndarray:
        """[K] the colour similarity under which track ``rows[k]``, ``lost[k]`` or running, is refused
        a box (0: never): ``switch_similarity`` once its look is known (``KNOWN_LOOKS``), ``UNLIKE``
        for a lost one with ``look_veto``."""
        c = self.config
        known = self._looks[rows] >= KNOWN_LOOKS
        lost_veto = lost & c.look_veto & (self._looks[rows] > 0)
        return np.maximum(np.where(known, c.switch_similarity, 0.0), np.where(lost_veto, UNLIKE, 0.0))

    def _join_by_motion(self, rows: np.ndarray, was: np.ndarray) -> np.ndarray:
        """Without looks: join the newly confirmed ``rows`` to the one lost track each could continue
        (``join_window_s``); returns the matched rows after."""
        if self.config.join_window_s <= 0:
            return rows
        return self._join(rows, was, self._lost_alone)

    def _join(self, rows: np.ndarray, was: np.ndarray, find: Callable[[int], int | None]) -> np.ndarray:
        """Give each newly confirmed row the id of the lost track ``find`` names for it."""
        gone = []
        for row in rows[self._confirmed[rows] & ~was].tolist():
            into = find(row)
            if into is not None:
                self._take_over(into, row)
                rows = np.where(rows == row, into, rows)
                gone.append(row)
        if gone:
            keep = np.ones(len(self._ids), dtype=bool)
            keep[gone] = False
            self._select(keep)
            rows = (np.cumsum(keep) - 1)[rows]
        return rows

    def _learn(self, rows: np.ndarray, looks: np.ndarray) -> None:
        """Fold detections' looks into their tracks' running means (the recent ones weigh more
        once a track has a few, so a look that changes slowly, into shade, is followed)."""
        rate = np.maximum(1.0 / (self._looks[rows] + 1), LOOK_RATE)[:, None]
        self._look[rows] += rate * (looks - self._look[rows])
        self._looks[rows] += 1

    def _lost_twin(self, row: int) -> int | None:
        """The row of the confirmed track that the newly confirmed ``row`` continues: lost before
        ``row`` was born, of its class group, alike in look and within reach of its first box
        (a person re-found after an occlusion or a crossing); None when there is none."""
        c = self.config
        born = self._history[row][0][0]
        groups = self._track_groups()
        lost = np.flatnonzero(
            self._confirmed & (self._seen < born) & (self._looks > 0) & (groups == groups[row])
        )
        if not len(lost) or not self._looks[row]:
            return None
        last = self._latest_boxes(lost).astype(np.float64)
        gap = born - self._seen[lost]
        first = self._history[row][0][2]
        reach = within_reach(last, self._mean[lost, 4:6], gap, first, c.join_speed, self._growth(row))
        alike = appearance.similarity(self._look[row : row + 1], self._look[lost])[0]
        fits = np.flatnonzero(reach & (alike >= c.join_similarity))
        if not len(fits):
            return None
        pick = fits[np.argmax(alike[fits])]
        best = int(lost[pick])
        # The look must single the lost track out: where others look as alike (dark coats in a
        # crowd, a grey picture) colours do not tell who came back, and a new id is the safer error.
        others = np.flatnonzero((self._looks > 0) & self._confirmed)
        others = others[(others != best) & (others != row)]
        rivals = appearance.similarity(self._look[row : row + 1], self._look[others])[0]
        return best if not np.any(rivals >= alike[pick] - DISTINCT) else None

    def _lost_alone(self, row: int) -> int | None:
        """The row of the one confirmed track, lost at most ``join_window_s`` before the newly
        confirmed ``row`` was born, within reach of its first box (a person missed for a few
        detections, or sampled too sparsely to be matched); None when none is, or more than one:
        motion alone cannot tell which of two came back, and a new id is the safer error."""
        c = self.config
        born = self._history[row][0][0]
        groups = self._track_groups()
        gap = born - self._seen
        lost = np.flatnonzero(
            self._confirmed & (gap > 0) & (gap <= c.join_window_s) & (groups == groups[row])
        )
        if not len(lost):
            return None
        last = self._latest_boxes(lost).astype(np.float64)
        first = self._history[row][0][2]
        reach = within_reach(last, self._mean[lost, 4:6], gap[lost], first, c.join_speed, self._growth(row))
        if np.count_nonzero(reach) != 1:
            return None
        pick = int(lost[reach][0])
        # the veto only removes this join: it never picks another track. A join is a guess from
        # motion alone, so any clean look of both judges it (a match needs KNOWN_LOOKS): on
        # TUD-Campus (dev) at 5 detections a second, joins across an occluder handed one person's
        # id to another walking behind (colour similarity 0.27); the right joins there were 0.79-0.98.
        unlike = float(self._unlike(np.array([pick]), np.ones(1, dtype=bool))[0])
        if self._looks[pick] > 0:
            unlike = max(unlike, self.config.switch_similarity)
        seen = unlike > 0 and self._looks[row] > 0
        differs = seen and appearance.similarity(self._look[[row]], self._look[[pick]])[0, 0] < unlike
        return None if differs else pick

    def _take_over(self, into: int, row: int) -> None:
        """Row ``into`` (a lost track) continues with the state and history of row ``row``; no id
        is rewritten: ``row`` was never reported."""
        for name in ("_mean", "_cov", "_time", "_seen", "_established", "_confirmed"):
            getattr(self, name)[into] = getattr(self, name)[row]
        self._scored[into] |= self._scored[row]
        self._moved[into] |= self._moved[row]
        self._hits[into] += self._hits[row]
        self._votes[into] += self._votes[row]
        total = self._looks[into] + self._looks[row]
        if total:  # joined by motion alone, neither may have a look
            self._look[into] = (
                self._looks[into] * self._look[into] + self._looks[row] * self._look[row]
            ) / total
        self._looks[into] = total
        self._history[into].extend(self._history[row])
