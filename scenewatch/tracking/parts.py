"""One person boxed twice: a whole body and its upper part as two tracks.

The detector sometimes boxes a person's upper body alone (the legs hidden or not yet seen) and
later also the whole body; NMS keeps both (IoU about 0.5), and the tracker would hold them as two
people. :class:`PartMemory`, mixed into ``Tracker``, watches new tracks (never reported yet) whose
box holds a running confirmed track's box as its nested part, or lies in one as such a part (about
the same top, most of the width, ending well above the bottom). While the two stay nested the new
track is held back (not confirmed); after ``part_updates`` matched updates in a row, nested every
time, the two are one person: a new whole-body track takes over the part track's id (the part
track's boxes stay with that id), and the part, now or new, goes on silently, absorbing the part
boxes so they start no track. From then on the id follows the whole body while it is seen and
passes to the part when the whole has been lost a while (``WHOLE_LOST_S``). Every pass happens
before the receiving track is reported, so no reported id is ever rewritten. A silent track
whose person's id has ended counts again, as a new person, from its first box after the person was
last seen (the earlier ones were reported under the person's id).

Two people one behind the other are kept apart: a big box that also holds a more confident box
lower down, not top-aligned, is two people boxed together (its top box is the one behind), so it is
no whole. A child beside an adult is not inside the adult's box. Only people are paired: a vehicle
has no upper body, and its box inside another's is another vehicle or a second guess at its class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from scenewatch.vision.labels import class_id

if TYPE_CHECKING:
    from scenewatch.config.tracker import TrackerConfig

# A part box: at least this share of its width over the whole box, its top within this share of the
# whole's height of the whole's top (an upper body's box often reaches higher, over the head), at
# least this share of the whole's width, and its bottom at most this share of the whole's height
# below the whole's top (the legs are not in it). Upper bodies on the concourse (dev): tops 0.03-0.19
# above, bottoms at 0.5-0.75, widths 0.8-1.07.
PART_INSIDE, PART_TOP, PART_WIDTH, PART_HEIGHT = 0.8, 0.2, 0.7, 0.8
# A person's id passes from the whole body to its part only once the whole has not been seen this
# long (its box flickers: at 25 fps, passing at each miss moved the id between the two 100 times
# in 14 s on the concourse).
WHOLE_LOST_S = 0.5
PERSON = class_id("person")


def nested(parts: np.ndarray, wholes: np.ndarray) -> np.ndarray:
    """[P, W] True where box ``parts[p]`` (xyxy) is a nested part of box ``wholes[w]``: over it, of
    about its top and most of its width, and ending well above its bottom."""
    a, b = parts[:, None, :].astype(np.float64), wholes[None, :, :].astype(np.float64)
    over = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    wa, wb = np.maximum(a[..., 2] - a[..., 0], 1.0), np.maximum(b[..., 2] - b[..., 0], 1.0)
    hb = np.maximum(b[..., 3] - b[..., 1], 1.0)
    top = np.abs(a[..., 1] - b[..., 1]) <= PART_TOP * hb
    short = a[..., 3] - b[..., 1] <= PART_HEIGHT * hb
    return (over >= PART_INSIDE * wa) & top & (wa >= PART_WIDTH * wb) & short


def two_people(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """[N] True where box n holds a more confident box lower down (inside it, its top well below
    n's top): two people one behind the other boxed together, no single whole."""
    a, b = boxes[:, None, :].astype(np.float64), boxes[None, :, :].astype(np.float64)  # a: inner
    size = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None)
    inter = np.prod(size, axis=2)
    wa, ha = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    hb = np.maximum(b[..., 3] - b[..., 1], 1.0)
    lower = (a[..., 1] - b[..., 1] > PART_TOP * hb) & (ha <= 0.75 * hb)
    inner = lower & (inter >= 0.8 * np.maximum(wa * ha, 1.0)) & (scores[:, None] > scores[None, :])
    np.fill_diagonal(inner, False)
    return inner.any(axis=0)


@dataclass(slots=True)
class PartBook:
    """Track id -> (id of the running track it is nested with, matched updates in a row nested,
    whether it is the whole); and silent track id -> (the reported id of its person, whether the
    silent one is the whole)."""

    pending: dict[int, tuple[int, int, bool]] = field(default_factory=dict)
    silent: dict[int, tuple[int, bool]] = field(default_factory=dict)
    person_seen: dict[int, float] = field(default_factory=dict)  # silent id -> its person last seen


class PartMemory:
    """Mixed into ``Tracker`` (through ``LookMemory``): whole and part tracks of one person."""

    config: TrackerConfig
    group_of: np.ndarray  # COCO class -> class group
    _ids: np.ndarray
    _seen: np.ndarray
    _established: np.ndarray
    _confirmed: np.ndarray
    _scored: np.ndarray
    _moved: np.ndarray
    _hits: np.ndarray
    _history: list[list[tuple[float, int, np.ndarray, float]]]

    _parts: PartBook

    def _track_groups(self) -> np.ndarray:
        raise NotImplementedError

    def _latest_boxes(self, rows: np.ndarray) -> np.ndarray:
        """[N, 4] the box (xyxy) of each track row's last matched detection."""
        return np.array([self._history[r][-1][2] for r in rows.tolist()], np.float32).reshape(-1, 4)

    def _latest_scores(self, rows: np.ndarray) -> np.ndarray:
        """[N] the score of each track row's last matched detection."""
        return np.array([self._history[r][-1][3] for r in rows.tolist()], np.float64)

    def _people(self, rows: np.ndarray) -> np.ndarray:
        """[N] True for the track rows of the person class group."""
        return self._track_groups()[rows] == self.group_of[PERSON]

    def _row(self, track_id: int) -> int:
        """The row of the live track ``track_id``."""
        return int(np.flatnonzero(self._ids == track_id)[0])

    def _held_back(self) -> np.ndarray:
        """[N] True for tracks that may not be reported (nor vouched for): new ones nested with a
        running track, not yet judged, and silent parts."""
        book = self._parts
        if not book.pending and not book.silent:
            return np.zeros(len(self._ids), dtype=bool)
        return np.isin(self._ids, np.array([*book.pending, *book.silent], dtype=np.int64))

    def _join_parts(self, rows: np.ndarray, was: np.ndarray) -> np.ndarray:
        """After the matched ``rows`` were updated and confirmed (``was``: confirmed before this
        update): follow new tracks nested with running ones, make whole and part one person after
        ``part_updates`` nested updates, and hold back the rest; returns ``was`` with a whole that
        took a part's id marked as reported (no motion join for it)."""
        book, need = self._parts, self.config.part_updates
        if need <= 0 or not len(self._ids):
            return was
        was = was.copy()
        if book.silent:
            self._follow_wholes(rows, was)
        earlier, book.pending = book.pending, {}
        for new, (run, whole) in self._nested_pairs(rows, was).items():
            before = earlier.get(new)
            count = before[1] + 1 if before and before[0] == run else 1
            if count < need:
                book.pending[new] = (run, count, whole)
                continue
            if whole:  # the whole body takes over the part's id; the part goes on as ``new``
                self._pass_id(run, new)
                self._mark_reported(was, rows, run)
            book.silent[new] = (run, False)  # the silent one is the part either way
        self._confirmed &= ~self._held_back()
        return was

    def _follow_wholes(self, rows: np.ndarray, was: np.ndarray) -> None:
        """Each joined person's id follows the whole body while it is seen, else (the whole lost a
        while) the part; people whose id ended, or whose silent track did, are forgotten."""
        book = self._parts
        alive, reported = set(self._ids.tolist()), set(self._ids[self._confirmed].tolist())
        for silent, (person, _) in list(book.silent.items()):
            if silent in alive and person in reported:
                book.person_seen[silent] = float(self._seen[self._row(person)])
                continue
            if silent in alive:  # its person's id ended: it counts as new, from the boxes not reported
                row = self._row(silent)
                since = book.person_seen.get(silent, -np.inf)
                unreported = [entry for entry in self._history[row] if entry[0] > since]
                self._history[row] = unreported or self._history[row][-1:]
            del book.silent[silent]
            book.person_seen.pop(silent, None)
        matched = set(self._ids[rows].tolist())
        now = float(self._seen[rows].max(initial=-np.inf))
        for silent, (person, whole) in list(book.silent.items()):
            gone = now - float(self._seen[self._row(person)]) >= WHOLE_LOST_S
            if silent in matched and (whole or gone):
                self._pass_id(person, silent)
                book.silent[silent] = (person, not whole)
                self._mark_reported(was, rows, person)

    def _mark_reported(self, was: np.ndarray, rows: np.ndarray, track_id: int) -> None:
        """Mark in ``was`` (one flag per matched row) the row now holding ``track_id`` as reported."""
        was[rows == self._row(track_id)] = True

    def _nested_pairs(self, rows: np.ndarray, was: np.ndarray) -> dict[int, tuple[int, bool]]:
        """New (never reported) matched track id -> (id of the running confirmed track it is nested
        with, whether the new one is the whole), for the pairs nested in this update."""
        book = self._parts
        ids = self._ids[rows]
        # people only: a vehicle's box inside another's is another vehicle, or the detector's
        # second guess at its class, never its upper body
        people = self._people(rows)
        fresh = people & ~was & ~np.isin(ids, np.array(list(book.silent), dtype=np.int64))
        running = people & was & self._confirmed[rows]
        if not fresh.any() or not running.any():
            return {}
        boxes = self._latest_boxes(rows).astype(np.float64)
        scores = self._latest_scores(rows)
        single = ~two_people(boxes, scores)
        new_whole = nested(boxes[running], boxes[fresh]).T & single[fresh][:, None]
        new_part = nested(boxes[fresh], boxes[running]) & single[running][None, :]
        pairs: dict[int, tuple[int, bool]] = {}
        run_ids = ids[running]
        for k, new in enumerate(ids[fresh].tolist()):
            for hits, whole in ((new_whole[k], True), (new_part[k], False)):
                if np.count_nonzero(hits) == 1:  # nested with one running track only: no doubt
                    pairs[new] = (int(run_ids[hits][0]), whole)
        return pairs

    def _pass_id(self, person: int, silent: int) -> None:
        """The silent track ``silent`` takes over the reported id ``person`` (its boxes so far stay
        with that id; the silent track's follow on) and the track that had it goes on, silently,
        as ``silent`` (its own boxes its history: never reported)."""
        to, was = self._row(silent), self._row(person)
        self._ids[to], self._ids[was] = person, silent
        now = self._history[to][-1][0]
        kept = [entry for entry in self._history[was] if entry[0] < now]
        after = kept[-1][0] if kept else -np.inf
        self._history[to] = kept + [entry for entry in self._history[to] if entry[0] > after]
        self._established[to] = self._confirmed[to] = self._scored[to] = self._moved[to] = True
        self._hits[to] = max(self._hits[to], self._hits[was])
