"""A ByteTrack-style multi-object tracker with time-aware motion and class groups.

One verb: ``update(detections, timestamp) -> tracked detections``. Tracks that end (lost for longer
than ``lost_timeout``) appear in ``tracker.finished`` after the update that ended them, and
``flush()`` ends the rest at the end of a file.

A track is *established* after ``min_hits`` matches (it then takes part in full association and
survives misses) and *confirmed* once its history is evidence of a real object
(``scenewatch.tracking.static``: a confident median score and, for moving classes, a box that has
moved). Only confirmed tracks are reported, in ``update``'s output and in ``finished``; an
established but unconfirmed track (a stone detected as a person) keeps absorbing its detections
silently, so it neither counts nor spawns new tracks.

Given the frame the detector saw, each track also learns its look (``scenewatch.tracking.appearance``:
colours of the upper and lower body, a running mean). Motion stays the primary cue: the look is
added to the cost only where motion is ambiguous (a track with two admissible detections, or a
detection two tracks could take, as when people cross), and a newly confirmed track takes over the
id of a confirmed track lost before it was born when the two look alike and it appeared within
reach of the lost one's path (re-found after an occlusion). Both happen before an id is reported,
so no reported id is ever rewritten, and a track whose look changes is never split by it. Without
the look, a new track takes over the id of the only track lost within ``join_window_s`` in reach
(with ``look_veto``, never of a clearly different look: ``rejoin``). Whatever the cue, a confirmed
track never takes a clean box of a look unlike its own (``switch_similarity``): someone walking in
front of a hidden person is not given the hidden one's track, and a lost track is not found again in
a box much taller than its last (``lost_max_growth``).
Sparse detection (a live camera's few a second): a running track's gate widens with the time since
its last match (``matching.sparse_gate``); between detections ``coast`` predicts, learning nothing;
and, updates more than ``SPARSE_S`` apart, a box's predicted growth fades within ``size_memory_s``
and a new track survives misses for ``tentative_lost_s`` (it is established only by its matches).

>>> from scenewatch.types import Detections
>>> tracker = Tracker()
>>> box = Detections([[10, 10, 50, 120]], [0.9], [2])  # a car: people standing still need a picture
>>> [tracker.update(box, t / 10).track_ids.tolist() for t in range(3)]
[[], [1], [1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenewatch.config.tracker import TrackerConfig
from scenewatch.tracking import appearance, kalman
from scenewatch.tracking.matching import (
    assign,
    box_cost,
    class_group_table,
    group_nms,
    load_solver,
    size_gate,
    sparse_gate,
)
from scenewatch.tracking.parts import PartBook
from scenewatch.tracking.rejoin import LookMemory, Looks
from scenewatch.tracking.static import HELD_HISTORY, confirm_table, evidence_median, has_moved, static_table
from scenewatch.types import Detections

_NO_TRACKS = np.zeros(0, dtype=np.intp)
# Updates further apart than this are sparse detection (a live camera's few a second; every frame
# of a 10 fps file is not): there a box's predicted growth fades (``size_memory_s``).
SPARSE_S = 0.15
# The per-track arrays, kept in step by ``_select``.
_STATE: tuple[str, ...] = ("_ids", "_mean", "_cov", "_time", "_seen", "_hits", "_established")
_STATE += ("_confirmed", "_scored", "_moved", "_votes", "_look", "_looks")


@dataclass(slots=True)
class FinishedTrack:
    """The matched observations of one track, in time order (no predicted-only boxes)."""

    track_id: int
    class_id: int
    times: np.ndarray  # [K] seconds
    frame_indices: np.ndarray  # [K]
    xyxy: np.ndarray  # [K, 4]
    scores: np.ndarray  # [K]

    @property
    def hits(self) -> int:
        return len(self.times)


class Tracker(LookMemory):
    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        c = self.config
        load_solver()  # at start-up, not in the first detected frame's path (a second's stall)
        self.noise = kalman.MotionNoise(
            c.position_noise, c.velocity_noise, c.measurement_noise, size_memory_s=c.size_memory_s
        )
        self.group_of = class_group_table(c.class_groups)
        self.confirm_score = confirm_table(c.evidence_score, c.class_confirm_score)
        self.held_static = static_table(c.static_classes)
        self.finished: list[FinishedTrack] = []
        self._next_id = 1
        self._frame = -1
        self._ids = np.zeros(0, dtype=np.int64)
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))
        self._time = np.zeros(0)  # time the state was last predicted to
        self._seen = np.zeros(0)  # time of the last matched detection
        self._hits = np.zeros(0, dtype=np.int64)
        self._established = np.zeros(0, dtype=bool)  # ByteTrack's confirmed: min_hits matches
        self._confirmed = np.zeros(0, dtype=bool)  # evidence of a real object: reported
        self._scored = np.zeros(0, dtype=bool)  # its median score has reached the class's confirm score
        self._moved = np.zeros(0, dtype=bool)  # its box has moved since birth (or its class may stand)
        self._votes = np.zeros((0, len(self.group_of)))  # summed scores per class: majority class
        self._look = np.zeros((0, appearance.SIZE), np.float32)  # running mean of its colours
        self._looks = np.zeros(0, dtype=np.int64)  # detections the look was learned from
        self._history: list[list[tuple[float, int, np.ndarray, float]]] = []
        self._parts = PartBook()  # whole and part tracks of one person (``tracking.parts``)

    def update(
        self,
        detections: Detections,
        timestamp: float,
        frame_index: int | None = None,
        image: np.ndarray | None = None,
    ) -> Detections:
        """Associate one frame's detections; returns the confirmed tracks seen in this frame.
        ``frame_index`` labels the history (default: a running count); ``image``, the frame the
        detector saw (BGR), lets the boxes' colours help association (``config.appearance``)."""
        c = self.config
        self._frame = self._frame + 1 if frame_index is None else int(frame_index)
        self.finished = []
        dets = self._prepare(detections)
        boxes = dets.xyxy.astype(np.float64)
        groups = self.group_of[dets.class_ids]
        high = dets.scores >= c.high_score
        looks = Looks.of(image, dets, c.high_score) if image is not None and self._looking() else None

        self._predict(timestamp)
        predicted = kalman.cxcywh_to_xyxy(kalman.project(self._mean))
        det_free = np.ones(len(dets), dtype=bool)
        matched_t: list[np.ndarray] = []
        matched_d: list[np.ndarray] = []

        def stage(tracks: np.ndarray, candidates: np.ndarray, max_cost: float) -> np.ndarray:
            det_idx = np.flatnonzero(candidates & det_free)
            if not len(tracks) or not len(det_idx):  # nothing to match: most frames' weak stage
                return tracks
            cost = box_cost(predicted[tracks], boxes[det_idx], c.centre_weight)
            gate = size_gate(predicted[tracks], boxes[det_idx], c.max_size_ratio)
            gate &= self._not_grown(tracks, boxes[det_idx], timestamp)  # long lost: someone else
            gate &= self._track_groups()[tracks][:, None] == groups[det_idx][None, :]
            gap = np.where(self._seen[tracks] >= self._last_time, timestamp - self._seen[tracks], 0.0)
            cost, limit = sparse_gate(cost, gate, gap, max_cost, c.match_cost_per_s, c.match_cost_s)
            cost, extra = self._add_looks(cost, tracks, looks and looks[det_idx])
            rows, cols = assign(cost, float(limit.max(initial=max_cost)) + extra)
            rows, cols = self._unvetoed(tracks, det_idx, rows, cols, looks)  # vetoed boxes stay free
            det_free[det_idx[cols]] = False
            matched_t.append(tracks[rows])
            matched_d.append(det_idx[cols])
            return np.setdiff1d(tracks, tracks[rows])

        established = np.flatnonzero(self._established)
        # Stage 1: every established track, running or lost, against the confident detections.
        left = stage(established, high, c.match_cost)
        # Stage 2 (ByteTrack): tracks seen last time also take weak, often occluded detections.
        stage(left[self._seen[left] >= self._last_time], ~high, c.low_match_cost)
        # Stage 3: tentative tracks only against confident leftovers.
        stage(np.flatnonzero(~self._established), high, c.tentative_match_cost)

        rows, cols = (np.concatenate(m) if m else _NO_TRACKS for m in (matched_t, matched_d))
        rows = self._correct(rows, dets[cols], timestamp, looks and looks[cols])
        self._last_time = timestamp

        output = self._output(rows, dets[cols])
        self._retire(timestamp, rows)
        born = np.flatnonzero(det_free & high & (dets.scores >= c.new_track_score))
        self._birth(dets[born], timestamp, looks and looks[born])
        return output

    def coast(self, timestamp: float) -> Detections:
        """Between detections: where the confirmed tracks matched by the last update are predicted
        to be at ``timestamp`` (their motion carries them), with their last scores. Nothing is
        learned: a guessed box is no evidence, so it neither corrects a track's motion, counts as a
        hit towards confirming one, nor starts one (fed to ``update`` as detections, carried boxes
        did all three, and at a few detections a second the real ones then missed their tracks)."""
        self.finished = []
        rows = np.flatnonzero(self._confirmed & (self._seen == self._last_time))
        since = timestamp - self._time[rows]  # between detections, which are sparse: sizes fade
        mean, _ = kalman.predict(self._mean[rows], self._cov[rows], since, self.noise, fade=True)
        return self._report(rows, kalman.cxcywh_to_xyxy(kalman.project(mean)))

    def flush(self) -> list[FinishedTrack]:
        """End every track (end of a file); returns the confirmed ones (the ones ever reported)."""
        finished = self._finish(np.flatnonzero(self._confirmed))
        self._select(np.zeros(len(self._ids), dtype=bool))
        self.finished = finished
        return finished

    def held(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tracks seen in the last update that count but for not having moved (a static class): their
        ids, majority classes and latest boxes, for a check on the picture that can :meth:`vouch`."""
        waiting = self._established & self._scored & ~self._moved & ~self._confirmed & ~self._held_back()
        rows = np.flatnonzero(waiting & (self._seen == self._last_time))
        return self._ids[rows], self._majority(rows), self._latest_boxes(rows)

    def vouch(self, track_ids: Sequence[int]) -> Detections:
        """The picture shows these held tracks are real objects standing still (a person's skeleton
        on the crop): they count from now on, as if they had moved. Returns them as seen in the last
        update, to be reported with that update's output."""
        rows = np.flatnonzero(np.isin(self._ids, np.asarray(track_ids, dtype=np.int64)))
        self._moved[rows] = True
        self._confirm(rows[self._established[rows] & ~self._confirmed[rows]])
        rows = rows[self._confirmed[rows]]
        return self._report(rows, self._latest_boxes(rows))

    def lost(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Confirmed tracks not matched in the last update, still alive: their ids, majority
        classes, last matched boxes and when they were last matched, for a second look that can
        :meth:`extend` them."""
        rows = np.flatnonzero(self._confirmed & (self._seen < self._last_time))
        return self._ids[rows], self._majority(rows), self._latest_boxes(rows), self._seen[rows].copy()

    def extend(self, track_id: int, box: np.ndarray, score: float) -> Detections:
        """Take ``box``, found by a second look, as the last update's match of the lost confirmed
        track ``track_id``: the motion starts afresh there (its shape changed, a fall) and the track
        lives on. Returns it as that update's output row (empty for an unknown or running track)."""
        rows = np.flatnonzero((self._ids == track_id) & self._confirmed & (self._seen < self._last_time))
        if not len(rows):
            return Detections.empty()
        row = int(rows[0])
        xyxy = np.asarray(box, dtype=np.float64).reshape(1, 4)
        mean, cov = kalman.initiate(kalman.xyxy_to_cxcywh(xyxy), self.noise)
        self._mean[row], self._cov[row] = mean[0], cov[0]
        self._time[row] = self._seen[row] = self._last_time
        self._hits[row] += 1
        self._history[row].append((self._last_time, self._frame, xyxy[0].astype(np.float32), float(score)))
        cls = int(np.argmax(self._votes[row]))
        return Detections(
            xyxy.astype(np.float32), np.array([score], np.float32), np.array([cls]), np.array([track_id])
        )

    def sightings(self, track_ids: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Track id -> times [K] and boxes [K, 4] (xyxy) of the detections so far of the live tracks
        among ``track_ids`` (a held track is reported late; rules date what it did meanwhile)."""
        rows = np.flatnonzero(np.isin(self._ids, np.asarray(track_ids, dtype=np.int64)))
        return {
            int(self._ids[row]): (
                np.array([t for t, *_ in self._history[row]], dtype=np.float64),
                np.array([box for _, _, box, _ in self._history[row]], dtype=np.float64).reshape(-1, 4),
            )
            for row in rows.tolist()
        }

    @property
    def active_ids(self) -> np.ndarray:
        """Ids of the confirmed tracks still alive (running or briefly lost)."""
        return self._ids[self._confirmed]

    # -- steps --------------------------------------------------------------------------------

    _last_time = -np.inf
    _sparse = False  # the last update came more than SPARSE_S after the one before

    def _report(self, rows: np.ndarray, boxes: np.ndarray) -> Detections:
        """Tracks ``rows`` as output at ``boxes`` (xyxy), with their latest detections' scores."""
        return Detections(
            boxes.astype(np.float32).reshape(-1, 4),
            self._latest_scores(rows).astype(np.float32),
            self._majority(rows),
            self._ids[rows],
        )

    def _majority(self, rows: np.ndarray) -> np.ndarray:
        """The class each of these tracks was detected as most (by summed score)."""
        return np.argmax(self._votes[rows], axis=1) if len(rows) else np.zeros(0, dtype=np.int64)

    def _prepare(self, detections: Detections) -> Detections:
        dets = detections[detections.scores >= self.config.low_score]
        keep = group_nms(dets.xyxy, dets.scores, self.group_of[dets.class_ids], self.config.class_nms_iou)
        dets = dets[keep]
        valid = np.all(dets.xyxy[:, 2:] > dets.xyxy[:, :2], axis=1)
        return dets[valid]

    def _track_groups(self) -> np.ndarray:
        return self.group_of[np.argmax(self._votes, axis=1)] if len(self._votes) else _NO_TRACKS

    def _predict(self, timestamp: float) -> None:
        # sparse detection only: frame by frame the measured rate holds (full rate is unchanged)
        fade = self._sparse = timestamp - self._last_time > SPARSE_S
        self._mean, self._cov = kalman.predict(
            self._mean, self._cov, timestamp - self._time, self.noise, fade
        )
        self._time[:] = timestamp

    def _correct(
        self, rows: np.ndarray, dets: Detections, timestamp: float, looks: Looks | None = None
    ) -> np.ndarray:
        """Update the matched tracks ``rows`` with their detections ``dets`` (and their ``looks``);
        returns the rows after joins (``LookMemory``)."""
        was_confirmed = self._confirmed[rows]
        measured = kalman.xyxy_to_cxcywh(dets.xyxy.astype(np.float64))
        self._mean[rows], self._cov[rows] = kalman.update(
            self._mean[rows], self._cov[rows], measured, dets.scores, self.noise
        )
        self._seen[rows] = timestamp
        self._hits[rows] += 1
        self._established[rows] |= self._hits[rows] >= self.config.min_hits
        np.add.at(self._votes, (rows, dets.class_ids), dets.scores)
        for row, box, score in zip(rows.tolist(), dets.xyxy, dets.scores.tolist(), strict=True):
            self._history[row].append((timestamp, self._frame, box, score))
        self._confirm(rows[self._established[rows] & ~self._confirmed[rows]])
        return self._rejoin(rows, was_confirmed, looks)

    def _confirm(self, rows: np.ndarray) -> None:
        """Confirm the established tracks whose history is now evidence enough (module static).

        Each kind of evidence, once shown, holds: a confident stretch and a movement need not
        coincide (people standing still score low while they turn)."""
        c = self.config
        window = c.confirm_detections
        for row in rows.tolist():
            history = self._history[row]
            cls = int(np.argmax(self._votes[row]))
            if not self._scored[row]:
                scores = [score for *_, score in history[-window:]]
                self._scored[row] = evidence_median(scores, window) >= self.confirm_score[cls]
            if not self._moved[row]:
                ends = history if len(history) <= 2 * window else history[:window] + history[-window:]
                boxes = np.array([box for _, _, box, _ in ends])
                self._moved[row] = not self.held_static[cls] or has_moved(boxes, window, c.static_motion)
            self._confirmed[row] = self._scored[row] and self._moved[row]
            if not self._confirmed[row] and len(history) > window + HELD_HISTORY:
                del history[window]  # a held track lives as long as its stone: keep memory bounded

    def _output(self, rows: np.ndarray, dets: Detections) -> Detections:
        shown = self._confirmed[rows]
        rows = rows[shown]
        return Detections(dets.xyxy[shown], dets.scores[shown], self._majority(rows), self._ids[rows])

    def _retire(self, timestamp: float, matched: np.ndarray) -> None:
        unmatched = np.ones(len(self._ids), dtype=bool)
        unmatched[matched] = False
        # Tentative tracks die on their first miss (sparse: after tentative_lost_s, as one missed
        # update there is 0.2 s or more); established ones after lost_timeout.
        grace = self.config.tentative_lost_s if self._sparse else 0.0
        dead_tentative = unmatched & ~self._established & (timestamp - self._seen >= grace)
        expired = self._established & (timestamp - self._seen > self.config.lost_timeout)
        self.finished.extend(self._finish(np.flatnonzero(expired & self._confirmed)))
        self._select(~(dead_tentative | expired))

    def _birth(self, dets: Detections, timestamp: float, looks: Looks | None = None) -> None:
        n = len(dets)
        if n == 0:
            return
        mean, cov = kalman.initiate(kalman.xyxy_to_cxcywh(dets.xyxy.astype(np.float64)), self.noise)
        votes = np.zeros((n, self._votes.shape[1]))
        votes[np.arange(n), dets.class_ids] = dets.scores
        self._ids = np.concatenate([self._ids, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        self._time = np.concatenate([self._time, np.full(n, timestamp)])
        self._seen = np.concatenate([self._seen, np.full(n, timestamp)])
        self._hits = np.concatenate([self._hits, np.ones(n, dtype=np.int64)])
        self._established = np.concatenate([self._established, np.full(n, self.config.min_hits <= 1)])
        self._confirmed = np.concatenate([self._confirmed, np.zeros(n, dtype=bool)])
        self._scored = np.concatenate([self._scored, np.zeros(n, dtype=bool)])
        self._moved = np.concatenate([self._moved, np.zeros(n, dtype=bool)])
        self._votes = np.concatenate([self._votes, votes])
        self._look = np.concatenate([self._look, np.zeros((n, appearance.SIZE), np.float32)])
        self._looks = np.concatenate([self._looks, np.zeros(n, dtype=np.int64)])
        self._history.extend(
            [(timestamp, self._frame, box, score)]
            for box, score in zip(dets.xyxy, dets.scores.tolist(), strict=True)
        )
        if looks is not None:
            self._learn(np.arange(len(self._ids) - n, len(self._ids)), looks.values)
        if self.config.min_hits <= 1:
            self._confirm(np.arange(len(self._ids) - n, len(self._ids)))

    def _finish(self, rows: np.ndarray) -> list[FinishedTrack]:
        finished = []
        for row in rows.tolist():
            times, frames, boxes, scores = zip(*self._history[row], strict=True)
            finished.append(
                FinishedTrack(
                    int(self._ids[row]),
                    int(np.argmax(self._votes[row])),
                    np.array(times),
                    np.array(frames, dtype=np.int64),
                    np.array(boxes, dtype=np.float32),
                    np.array(scores, dtype=np.float32),
                )
            )
        return finished

    def _select(self, keep: np.ndarray) -> None:
        for name in _STATE:
            setattr(self, name, getattr(self, name)[keep])
        self._history = [h for h, k in zip(self._history, keep.tolist(), strict=True) if k]
