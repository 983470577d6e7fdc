"""Offline finishing of ended tracks, for files and recordings: fill short gaps, drop blips.

Applied to a ``FinishedTrack`` when the tracker reports it, before its per-frame boxes are written,
so a live pipeline and a file benchmark produce the same rows.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scenewatch.tracking.tracker import FinishedTrack


def interpolate_gaps(track: FinishedTrack, max_gap: float, stride: int | None = None) -> FinishedTrack:
    """Fill gaps of up to ``max_gap`` seconds with linearly interpolated boxes.

    Filled frames step by the track's usual frame stride, so a detector running on every third
    frame gets boxes on every third frame, not on frames it never looked at; a given ``stride``
    (1 for a live camera, which reports every frame between its detections) replaces it.
    """
    frames = track.frame_indices
    if len(frames) < 2 or max_gap <= 0:
        return track
    steps = np.diff(frames)
    stride = stride or max(int(np.min(steps)), 1)
    gaps = np.flatnonzero((steps > stride) & (np.diff(track.times) <= max_gap))
    if len(gaps) == 0:
        return track
    # All filled frames at once: for each gap, the frame indices strictly inside it.
    counts = steps[gaps] // stride - 1 + (steps[gaps] % stride > 0)
    start = np.repeat(gaps, counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    new_frames = frames[start] + offset * stride
    alpha = ((new_frames - frames[start]) / steps[start])[:, None]
    new_times = track.times[start] + alpha[:, 0] * (track.times[start + 1] - track.times[start])
    new_boxes = track.xyxy[start] + alpha * (track.xyxy[start + 1] - track.xyxy[start])
    # Filled boxes carry no detection score of their own: the lower of their two neighbours.
    new_scores = np.minimum(track.scores[start], track.scores[start + 1])
    order = np.argsort(np.concatenate([frames, new_frames]), kind="stable")
    return replace(
        track,
        times=np.concatenate([track.times, new_times])[order],
        frame_indices=np.concatenate([frames, new_frames])[order],
        xyxy=np.concatenate([track.xyxy, new_boxes.astype(np.float32)])[order],
        scores=np.concatenate([track.scores, new_scores])[order],
    )


def finish_track(
    track: FinishedTrack, max_gap: float, min_hits: int, stride: int | None = None
) -> FinishedTrack | None:
    """The track as it should be stored, or None when it is too short to be a real object."""
    if track.hits < min_hits:
        return None
    return interpolate_gaps(track, max_gap, stride)
