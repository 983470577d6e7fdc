"""Which of a replay's tracks are judged without the engine, and what they raise.

A zone stay rule's events follow from each identity's sightings (``replay_solo``) once the
identities are known (``replay_identity``). Judged so are the tracks of a run in groups joined by
the identities they could pass on (``replay_select``'s carry pairs): groups whose tracks all have
their live boxes and tracker ids of their own, whose identities end before the run does (the
engine then hears of their end) and that ``judge_stays`` is sure of. The other groups go through
the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.geometry import bottom_centres
from scenewatch.rules.replay_events import Fired
from scenewatch.rules.replay_identity import identities
from scenewatch.rules.replay_load import StoredTracks
from scenewatch.rules.replay_select import CarryLinks, by_key_then_time, pair_groups, time_order
from scenewatch.rules.replay_solo import judge_stays


def judge_alone(
    camera: CameraConfig,
    samples: dict[str, np.ndarray],
    stored: StoredTracks,
    lost_timeout: float,
    run_ends: dict[int, float],
) -> tuple[np.ndarray, dict[int, Fired], CarryLinks | None]:
    """[S] the sightings (of ``samples``, sorted by row then time) judged without the engine, and
    per run (which ends at ``run_ends``: its last frame) the events they raise. Also the carry
    links of all the samples where they hold one run (so ``sightings_to_feed`` need not redo them)."""
    judged = np.zeros(len(samples["run"]), bool)
    raised: dict[int, Fired] = {}
    links = None
    for run_id, mine, run in runs_of(samples):
        done, raised[run_id], links = _judge_run(camera, run, stored, lost_timeout, run_ends[run_id])
        judged[mine[done]] = True
    return judged, raised, links if len(raised) == 1 else None


def runs_of(samples: dict[str, np.ndarray]) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
    """Each run's id, its sightings' places in ``samples`` and its sightings (no copy where the
    samples hold one run: a week of a camera is one run or a few)."""
    runs = samples["run"]
    # one run: no sort of a week's sightings to find that out
    run_ids = [int(runs[0])] if len(runs) and np.all(runs == runs[0]) else np.unique(runs).tolist()
    if len(run_ids) == 1:
        yield run_ids[0], np.arange(len(samples["run"])), samples
        return
    for run_id in run_ids:
        mine = np.flatnonzero(samples["run"] == run_id)
        yield run_id, mine, {k: v[mine] for k, v in samples.items()}


@dataclass
class RunIdentities:
    """A run's sightings (sorted by track then time) as the engine would see them: its frames'
    times and numbers, its tracks joined by the identities they could pass on, each sighting's
    identity, and the tracks whose identities cannot be worked out without the engine."""

    frames: np.ndarray  # [F] sorted frame times
    frame_no: np.ndarray  # [F] a frame's number: its first sighting's, as the engine is fed
    at: np.ndarray  # [S] each sighting's frame (index in ``frames``)
    track: np.ndarray  # [S] the track (0..T-1) of each sighting
    groups: np.ndarray  # [T] tracks joined by a pair share one
    identity: np.ndarray  # [S]
    unfit: np.ndarray  # [T] a tracker id used twice, or no frame numbers (path samples)
    links: CarryLinks


def run_identities(run: dict[str, np.ndarray], stored: StoredTracks, lost_timeout: float) -> RunIdentities:
    """The identities of one run's sightings (``run``: sorted by row then time)."""
    row, ts, frame, xyxy = run["row"], run["ts"], run["frame"], run["xyxy"]
    by_time = time_order(row, ts)
    # the frames as the sorted unique times, each sighting's one without a search
    at_time = ts[by_time]
    new_frame = np.r_[True, at_time[1:] != at_time[:-1]][: len(at_time)]
    frames, first = at_time[new_frame], np.flatnonzero(new_frame)
    at = np.empty(len(ts), np.int64)
    at[by_time] = np.cumsum(new_frame) - 1
    links = CarryLinks.of(row, ts, xyxy, frame)
    rows = row[links.starts]
    track = links.track
    ids = stored.tracker_ids[rows]
    known, uses = np.unique(ids, return_counts=True)
    identity = identities(
        links.starts,
        ids,
        ts,
        xyxy,
        stored.class_ids[rows],
        stored.last_ts[rows],
        frames,
        lost_timeout,
        track[links.loss],
        track[links.birth],
    )
    return RunIdentities(
        frames,
        frame[by_time[first]],
        at,
        track,
        pair_groups(len(rows), track[links.loss], track[links.birth]),
        identity,
        np.isin(ids, known[uses > 1]) | np.isin(rows, row[frame < 0]),
        links,
    )


def _judge_run(
    camera: CameraConfig,
    run: dict[str, np.ndarray],
    stored: StoredTracks,
    lost_timeout: float,
    run_end: float,
) -> tuple[np.ndarray, Fired, CarryLinks]:
    row, ts, xyxy = run["row"], run["ts"], run["xyxy"]
    known = run_identities(run, stored, lost_timeout)
    frames, frame_no, track, groups = known.frames, known.frame_no, known.track, known.groups
    identity, unfit = known.identity, known.unfit.copy()
    # an identity never within the zone's bounds raises nothing: judged without a look
    zone = next(z for z in camera.zones if z.name == camera.rules[0].zone_name)
    polygon = np.asarray(zone.polygon, np.float64)
    feet = bottom_centres(xyxy)
    near = np.all((feet >= polygon.min(axis=0) - 1.0) & (feet <= polygon.max(axis=0) + 1.0), axis=1)
    look = identity_range(row, identity, near.astype(np.int8))[1] > 0
    # an identity ends with the last track that held it
    order = np.flatnonzero(look)[by_key_then_time(identity[look], ts[look])]
    key, at = identity[order], ts[order]
    last_of = np.r_[key[1:] != key[:-1], True]
    ending = np.repeat(order[last_of], np.diff(np.r_[0, np.flatnonzero(last_of) + 1]))
    ends = stored.last_ts[row[ending]]
    classes = stored.class_ids[row[order]]
    feet32 = bottom_centres(xyxy.astype(np.float32))[order]  # what the zone test reads of a box
    stays, unsure = judge_stays(camera, key, at, feet32, classes, ends, frames, known.at[order])
    unsure |= ends + lost_timeout >= run_end  # the run ends before the engine hears of its end
    unfit[track[order[unsure]]] = True
    out_group = np.unique(groups[unfit])
    judged_track = ~np.isin(groups, out_group)
    fired = order[stays.sighting]
    keep = judged_track[track[fired]]
    fired, start, left = fired[keep], stays.start[keep], stays.left[keep]
    at = ts[fired]
    raised = Fired(row[fired], start, left, at, frame_no[np.searchsorted(frames, at)], xyxy[fired])
    return judged_track[track], raised, known.links


def identity_range(
    row: np.ndarray, identity: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[S] the lowest and [S] the highest of ``values`` over each sighting's identity (sightings
    sorted by track then time: an identity lies in stretches of its tracks, a few per identity)."""
    starts = np.flatnonzero(np.r_[True, (row[1:] != row[:-1]) | (identity[1:] != identity[:-1])])
    keys, which = np.unique(identity[starts], return_inverse=True)
    lowest = np.full(len(keys), np.inf)
    highest = np.full(len(keys), -np.inf)
    np.minimum.at(lowest, which, np.minimum.reduceat(values, starts))
    np.maximum.at(highest, which, np.maximum.reduceat(values, starts))
    lengths = np.diff(np.r_[starts, len(row)])
    return np.repeat(lowest[which], lengths), np.repeat(highest[which], lengths)
