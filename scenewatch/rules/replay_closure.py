"""Which stored tracks a replay reads the boxes of: the tracks near the rule's zone or line, the
tracks the stitcher could join their identities with, and the tracks on view meanwhile.

The stitcher lets a track born within ``gap_s`` of another's loss carry that one's identity on,
where the lost one's last second of motion would have taken it (``replay_select.CarryLinks``
holds every such pair). So instead of every track whose life touches a near one's in a chain
(on a busy camera that chains most of a week together), the identities are followed pair by
pair: the boxes of the tracks on view around the chosen ones' lives are read, their pairs found,
and the tracks paired with a chosen one are chosen too, until no pair adds one. The tracks on
view around the chosen ones are kept as well: their sightings are the frames the engine counted
while a chosen track was out of sight or about to be given up. A track paired with none of the
chosen ones shares no identity with them, and one that never comes near the zone or line raises
nothing whatever its identity. Where the first round already reads most tracks (a zone or line
most people pass), all are read at once instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scenewatch.rules.replay_select import SLACK_S, CarryLinks, Paths, pair_groups

Samples = dict[str, np.ndarray]
# Of the tracks: where the first round reads this many, reading them all costs less than
# following the pairs round after round (and holds every identity anyway). Measured with
# ``bench/rule_replay.py``: a line most people cross reads 74 % of a week of 50,000 tracks in the
# first round, and three more rounds of pairs over all it read cost more than the quarter it left
# out; at 59 % (a week of 10,000 tracks) the rounds still cost less.
MOST = 0.6


def load_closure(
    paths: Paths,
    near: np.ndarray,
    gap_s: float,
    load: Callable[[np.ndarray], Samples],
    also: np.ndarray,
) -> tuple[np.ndarray, Samples, np.ndarray]:
    """[N] the tracks read, and their sightings (sorted by row then time), for the ``near``
    tracks (and the tracks ``also`` read): ``load(rows)`` reads the sightings of track rows.
    Also [K, 2] the time spans in which every sighting of the window was read (sorted, disjoint):
    from a chosen track's first sighting to ``gap_s`` after its last, where any track on view was
    read (``SLACK_S`` in: path times are stored to the millisecond)."""
    chosen = near.copy()
    read = np.zeros(len(near), bool)
    parts: list[Samples] = []
    extra = also
    groups = _Groups.of({})
    while True:
        wanted = (_around(paths, chosen, gap_s) | extra) & ~read
        if not read.any() and wanted.mean() >= MOST:
            everything = np.ones(len(near), bool)
            return everything, load(np.flatnonzero(everything)), np.array([[-np.inf, np.inf]])
        extra = np.zeros_like(also)  # the first round only
        if wanted.any():
            parts.append(load(np.flatnonzero(wanted)))
            read |= wanted
            groups = _Groups.of(_joined(parts))  # the pairs change only with what is read
        grown = chosen | groups.joined(chosen)
        if (grown == chosen).all():
            break
        chosen = grown
    samples = _joined(parts)
    known = _spans(paths.first[chosen] + SLACK_S, paths.last[chosen] + gap_s - SLACK_S)
    if not samples:
        return read, load(np.flatnonzero(read)), known
    order = np.argsort(samples["row"], kind="stable")  # each track's sightings are in time order
    return read, {k: v[order] for k, v in samples.items()}, known


def _spans(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[K, 2] the union of the spans ``lo`` to ``hi`` as sorted disjoint spans."""
    if not len(lo):
        return np.zeros((0, 2))
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    opens = np.r_[True, lo[1:] > hi[:-1]]
    closes = np.r_[opens[1:], True]
    return np.stack([lo[opens], hi[closes]], axis=1)


def _around(paths: Paths, chosen: np.ndarray, gap_s: float) -> np.ndarray:
    """[N] the tracks whose life (plus ``gap_s``) overlaps a ``chosen`` one's."""
    first, end = paths.first, paths.last + gap_s + SLACK_S
    if not chosen.any():
        return chosen.copy()
    # the chosen lives as disjoint spans, in time order
    lo, hi = _spans(first[chosen], end[chosen]).T
    # the last span starting before a life's end is the one it can overlap, if any
    at = np.searchsorted(lo, end, "right") - 1
    return (at >= 0) & (hi[np.maximum(at, 0)] >= first)


@dataclass
class _Groups:
    """The read tracks' rows, each with its group: tracks joined by carry pairs among the read
    sightings share one."""

    rows: np.ndarray
    group: np.ndarray

    @classmethod
    def of(cls, samples: Samples) -> _Groups:
        """Of the read sightings (each track's together, in time order)."""
        if not samples:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))
        links = CarryLinks.of(samples["row"], samples["ts"], samples["xyxy"], samples["frame"])
        rows = samples["row"][links.starts]
        return cls(rows, pair_groups(len(rows), links.track[links.loss], links.track[links.birth]))

    def joined(self, chosen: np.ndarray) -> np.ndarray:
        """[N] the tracks joined to a ``chosen`` one."""
        out = np.zeros(len(chosen), bool)
        out[self.rows[np.isin(self.group, self.group[chosen[self.rows]])]] = True
        return out


def _joined(parts: list[Samples]) -> Samples:
    """Sightings of different tracks as one, each track's together and in time order."""
    found = [part for part in parts if len(part.get("row", ()))]
    if not found:
        return {}
    return {k: np.concatenate([part[k] for part in found]) for k in found[0]}
