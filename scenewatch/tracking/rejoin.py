"""What the tracker remembers of each track's look, and the joins it makes with it.

:class:`LookMemory` is the part of ``Tracker`` that learns each track's look (a running mean of
``scenewatch.tracking.appearance`` histograms, from detections no other box overlaps) and, when a
new track is confirmed, gives it the id of a lost track it continues: a confirmed track lost before
the new one was born, of its class group, alike in look, and within reach of the new one's first
box. The join happens before the new track is ever reported, so no reported id is rewritten, and
the lost track's gap is filled by finishing like any other gap.

With the cue off (the default) looks are still learned, for the motion joins alone: a new track
takes over the id of the one lost track within reach, lost within ``join_window_s``, or within
``lost_timeout`` when it was lost behind another track's box (someone walking behind a nearer person)
or the two look alike; two clearly different looks never join, nor does someone found inside the
picture with a track last seen at its edge (who walked out there). At a live camera's few detections
a second these joins are what keeps one walk one track through a crossing or a group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scenewatch.tracking import appearance, kalman
from scenewatch.tracking.matching import ambiguity_cost, covered, within_reach

if TYPE_CHECKING:
    from scenewatch.config.tracker import TrackerConfig
    from scenewatch.types import Detections

# Least weight of a new detection in a track's running look: about its last ten detections count.
LOOK_RATE = 0.1
# How much more alike than any other track a lost track must be to take a new one's id.
DISTINCT = 0.1
# Below this colour similarity two tracks are clearly different people: no motion join.
UNLIKE = 0.6
# A box this many times wider or narrower for its height than its track's median is not the track's
# usual shape (a shadow, or two people in one box).
USUAL_SHAPE = 1.5
# Pixels from the picture's border within which a box touches it.
EDGE_PX = 2.0


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


class LookMemory:
    """Mixed into ``Tracker``: the per-track look arrays and the methods that use them."""

    config: TrackerConfig
    _ids: np.ndarray
    _mean: np.ndarray
    _seen: np.ndarray
    _confirmed: np.ndarray
    _scored: np.ndarray
    _moved: np.ndarray
    _hits: np.ndarray
    _votes: np.ndarray
    _look: np.ndarray  # [N, appearance.SIZE] running mean of each track's colours
    _looks: np.ndarray  # [N] detections each look was learned from
    _hidden: np.ndarray  # [N] lost behind another track's box since its last match
    _picture: tuple[int, int] | None = None  # (width, height) of the pictures seen
    _history: list[list[tuple[float, int, np.ndarray, float]]]

    def _track_groups(self) -> np.ndarray:
        raise NotImplementedError

    def _select(self, keep: np.ndarray) -> None:
        raise NotImplementedError

    def _see(self, image: np.ndarray | None, dets: Detections) -> Looks | None:
        """The looks of ``dets`` in ``image`` (None without a picture), read even with the cue off:
        a motion join never joins two clearly different looks; notes the picture's size."""
        if image is None:
            return None
        self._picture = (image.shape[1], image.shape[0])
        return Looks.of(image, dets, self.config.high_score)

    def _add_looks(
        self, cost: np.ndarray, tracks: np.ndarray, looks: Looks | None
    ) -> tuple[np.ndarray, float]:
        """Association ``cost`` of ``tracks`` against detections with ``looks`` (None: not looked at)
        with the look added where motion is ambiguous (the appearance cue on), and the most it added."""
        weight = self.config.appearance_weight
        if looks is None or weight <= 0 or not self.config.appearance:
            return cost, 0.0
        has_look = self._looks[tracks] > 0
        cost = ambiguity_cost(cost, self._look[tracks], has_look, looks.values, weight, looks.clean)
        return cost, weight

    def _rejoin(self, rows: np.ndarray, was: np.ndarray, looks: Looks | None) -> np.ndarray:
        """After the matched ``rows`` were updated: note the lost tracks hidden behind them, teach
        them the ``looks`` of their detections (None: the frame was not seen), then join the newly
        confirmed ones (not confirmed before this update: ``was``) to lost tracks they continue, by
        look with the appearance cue on, else by motion; returns the matched rows after."""
        self._note_hidden(rows)
        if looks is not None:
            self._learn(rows[looks.clean], looks.values[looks.clean])
        return self._join_new(rows, was, looks is not None)

    def _join_new(self, rows: np.ndarray, was: np.ndarray, seen: bool = True) -> np.ndarray:
        """Join the newly confirmed ``rows`` (not confirmed before: ``was``) to the lost tracks they
        continue: by look with the appearance cue on and the frame ``seen``, else by motion."""
        c = self.config
        if c.appearance and seen:
            return rows if c.join_similarity >= 1.0 else self._join(rows, was, self._lost_twin)
        return rows if c.join_window_s <= 0 else self._join(rows, was, self._lost_alone)

    def _note_hidden(self, matched: np.ndarray) -> None:
        """Mark the confirmed tracks lost in this update whose predicted box another track's box,
        just matched, mostly covers: someone walking behind a nearer person is out of sight for as
        long as the nearer one covers them, often longer than ``join_window_s``. A match clears it."""
        self._hidden[matched] = False
        if not len(matched):
            return
        lost = np.flatnonzero(self._confirmed & (self._seen < self._seen[matched].max()))
        if not len(lost):
            return
        front = np.array([self._history[r][-1][2] for r in matched.tolist()], np.float64)
        self._hidden[lost] |= covered(kalman.cxcywh_to_xyxy(kalman.project(self._mean[lost])), front)

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
        last = np.array([self._history[r][-1][2] for r in lost.tolist()], np.float64)
        gap = born - self._seen[lost]
        reach = within_reach(last, self._mean[lost, 4:6], gap, self._history[row][0][2], c.join_speed)
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
        """The row of the one confirmed track that the newly confirmed ``row`` continues by motion:
        lost at most ``join_window_s`` before ``row`` was born, or up to ``lost_timeout`` when it
        was lost behind another track's box or the two look alike (``join_similarity``), within
        reach of its first box, not of a clearly different look, and not last seen at an edge of the
        picture that its first box is not at; None when none is, or more than one: motion alone
        cannot tell which of two came back, and a new id is the safer error."""
        c = self.config
        born = self._history[row][0][0]
        groups = self._track_groups()
        gap = born - self._seen
        lost = np.flatnonzero(
            self._confirmed
            & (gap > 0)
            & (gap <= max(c.lost_timeout, c.join_window_s))
            & (groups == groups[row])
        )
        alike = np.full(len(lost), np.nan)  # unknown where either has no look yet
        if self._looks[row]:
            seen = self._looks[lost] > 0
            alike[seen] = appearance.similarity(self._look[row : row + 1], self._look[lost[seen]])[0]
        longer = self._hidden[lost] | (alike >= c.join_similarity)
        keep = ((gap[lost] <= c.join_window_s) | longer) & ~(alike < UNLIKE)  # colours rule out, or wait
        keep &= ~self._walked_out(lost, self._history[row][0][2])
        lost = lost[keep]
        reach = [self._reaches(r, born, self._history[row][0][2]) for r in lost.tolist()]
        return int(lost[reach][0]) if np.count_nonzero(reach) == 1 else None

    def _walked_out(self, lost: np.ndarray, first: np.ndarray) -> np.ndarray:
        """[N] True for the ``lost`` tracks whose last box touches a side of the picture that box
        ``first`` does not: they walked out there, and someone found inside is someone else."""
        if self._picture is None:
            return np.zeros(len(lost), dtype=bool)
        width, height = self._picture
        last = np.array([self._history[r][-1][2] for r in lost.tolist()], np.float64).reshape(-1, 4)

        def sides(box: np.ndarray) -> np.ndarray:
            limits = (EDGE_PX, EDGE_PX, width - EDGE_PX, height - EDGE_PX)
            return np.stack([box[:, k] <= v if k < 2 else box[:, k] >= v for k, v in enumerate(limits)], 1)

        return (sides(last) & ~sides(np.asarray(first, np.float64).reshape(1, 4))).any(axis=1)

    def _reaches(self, lost: int, born: float, first: np.ndarray) -> bool:
        """Whether box ``first``, seen at ``born``, lies where the lost track ``lost`` could be, judged
        from its last box of its usual shape: boxes much wider or narrower for their height than
        its median (a shadow, two people in one box) are often what led it astray before it was lost."""
        history = self._history[lost][-64:]
        boxes = np.array([box for _, _, box, _ in history], np.float64)
        shape = np.log(
            np.maximum(boxes[:, 2] - boxes[:, 0], 1.0) / np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        )
        usual = np.flatnonzero(np.abs(shape - np.median(shape)) <= np.log(USUAL_SHAPE))
        k = int(usual[-1]) if len(usual) else len(history) - 1
        gap = np.array([born - history[k][0]])
        reach = within_reach(
            boxes[k : k + 1], self._mean[lost : lost + 1, 4:6], gap, first, self.config.join_speed
        )
        return bool(reach[0])

    def _take_over(self, into: int, row: int) -> None:
        """Row ``into`` (a lost track) continues with the state and history of row ``row``; no id
        is rewritten: ``row`` was never reported."""
        for name in ("_mean", "_cov", "_time", "_seen", "_established", "_confirmed", "_hidden"):
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
