"""How a track moved: speed (pixels and box heights per second), heading, stops, dwell.

Box heights per second is scale-free: a walker covers roughly 0.5-1 of their own height per
second at any distance from the camera, a runner 1.5 and more, so 'running' can be judged
without calibration. It is a heuristic: a steep camera foreshortens motion along the view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

STEP_S = 0.5  # resampling interval: detector jitter averages out, real motion does not
MOVING_H_S = 0.2  # box heights per second above which a step counts as moving
HEADING_MIN_H = 0.5  # net displacement (box heights) below which there is no heading
RUNNING_H_S = 1.5  # box heights per second where 'running' reaches 0.5
DEADBAND_H = 0.1  # box heights per second below which a heading component is jitter
GROWTH_WEIGHT = 2.0  # log growth of the box height, in box heights of bottom-edge drop
# Motion along the view is foreshortened: seen from a camera above head height, a step away
# moves the feet up the image by (camera height / distance) of what the same step sideways
# moves them across, about a half on a typical CCTV mount even with the box's shrinking counted.
# Depth motion is scaled up by this much (conservatively) before it competes with sideways
# motion, so a walk diagonally away reads as away as well as sideways, as a person sees it.
DEPTH_GAIN = 1.5
# A box whose height jumps from its neighbours' within a second (legs hidden behind someone, two
# people merged) is a partial detection: its bottom edge is not the feet, and it would read as a
# step away and back. Walking changes the height by under ~10 % a second even close to the camera.
PARTIAL_S = 1.0
PARTIAL_LOG_H = 0.2


# COCO keypoints name a person's own left and right: seen from the front the left shoulder is on
# the image's right, seen from behind on its left (MoveNet's face points are guessed from behind).
L_SHOULDER, R_SHOULDER = 5, 6
FACING_MIN_SCORE = 0.25  # weaker shoulders are guesses on small, blurred people


def facing(keypoints: np.ndarray, box: np.ndarray) -> float | None:
    """Which way a person faces in one view: the left shoulder's lead over the right, rightwards
    in box widths (clipped to +-1): > 0 front, < 0 back, near 0 side on. None when unsure."""
    if min(keypoints[L_SHOULDER, 2], keypoints[R_SHOULDER, 2]) < FACING_MIN_SCORE:
        return None
    lead = (keypoints[L_SHOULDER, 0] - keypoints[R_SHOULDER, 0]) / max(float(box[2] - box[0]), 1.0)
    return float(np.clip(lead, -1.0, 1.0))


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def whole_boxes(times: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Mask of the observations whose box height is within ``PARTIAL_LOG_H`` (log) of the median
    height within ``PARTIAL_S`` of them: the others are partial detections (see above)."""
    log_h = np.log(np.maximum(heights, 1.0))
    # medians on an even 0.1 s series (vectorised; a long dwell has thousands of boxes), mirrored
    # at the ends so the first and last boxes are judged by their one-sided neighbours
    fine = np.arange(times[0], times[-1] + 1e-9, 0.1)
    k = int(round(PARTIAL_S / 0.1))
    series = np.pad(np.interp(fine, times, log_h), k, mode="reflect")
    local = np.median(sliding_window_view(series, 2 * k + 1), axis=1)
    keep = np.abs(log_h - np.interp(times, fine, local)) <= PARTIAL_LOG_H
    return keep if keep.sum() >= 2 else np.ones(len(times), dtype=bool)


def heading_shares(xy: np.ndarray, heights: np.ndarray) -> dict[str, float]:
    """Share of the track's movement going left | right | towards | away (from the camera).

    Towards the camera an object's bottom edge moves down the image and its box grows; away, the
    bottom edge moves up and the box shrinks. Per resampled step, sideways motion (box heights)
    competes with 'depth' motion (bottom-edge drop in box heights plus log growth of the height),
    and each direction's positive part is summed over the steps, so a diagonal walk gets both of
    its directions and a long wandering track is judged by where it mostly went, not only by
    where it ended. Empty when the object hardly moved.
    """
    n = len(xy)
    if n < 2:
        return {}
    h = np.maximum(np.asarray(heights, dtype=np.float64), 1.0)
    scale = np.maximum((h[1:] + h[:-1]) / 2, 1.0)
    side = np.diff(xy[:, 0]) / scale
    growth = np.diff(np.log(h))
    drop = np.diff(xy[:, 1]) / scale
    # Growth only confirms the bottom edge, never outweighs it: box height also changes with
    # stride, occlusion and partial detections, so it counts where the feet move the same way,
    # and at most as much again as they moved.
    agree = np.sign(growth) * np.sign(drop) > 0
    depth = drop + np.where(agree, np.clip(GROWTH_WEIGHT * growth, -np.abs(drop), np.abs(drop)), 0.0)
    depth = DEPTH_GAIN * depth
    # Steps are grouped in pairs (about a second): a stride's sway is not a change of heading.
    pair = max(1, int(round(1.0 / STEP_S)))
    m = (len(side) // pair) * pair
    if m >= pair:
        side = np.add.reduceat(side[:m], np.arange(0, m, pair))
        depth = np.add.reduceat(depth[:m], np.arange(0, m, pair))
    # Below about 0.1 box heights a second a component is jitter, not walking (0.5-1 heights/s).
    side = np.where(np.abs(side) >= DEADBAND_H * pair * STEP_S, side, 0.0)
    depth = np.where(np.abs(depth) >= DEADBAND_H * pair * STEP_S, depth, 0.0)
    sums = {
        "left": float(np.clip(-side, 0, None).sum()),
        "right": float(np.clip(side, 0, None).sum()),
        "towards": float(np.clip(depth, 0, None).sum()),
        "away": float(np.clip(-depth, 0, None).sum()),
    }
    total = sum(sums.values())
    if total < HEADING_MIN_H:
        return {}
    return {k: round(v / total, 3) for k, v in sums.items() if v / total >= 0.001}


def heading(xy: np.ndarray, heights: np.ndarray) -> str | None:
    """left | right | towards | away (from the camera): the direction most of the movement went,
    None when the object hardly moved (see :func:`heading_shares`)."""
    return _most(heading_shares(xy, heights))


def _most(shares: dict[str, float]) -> str | None:
    """The heading with the largest share, None for none."""
    return max(shares, key=lambda name: shares[name]) if shares else None


def describe_motion(times: np.ndarray, xyxy: np.ndarray, person: bool = True) -> dict:
    """The ``motion`` attributes of one track from its observed boxes (times in seconds)."""
    times = np.asarray(times, dtype=np.float64)
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    dwell = float(times[-1] - times[0]) if len(times) else 0.0
    out: dict[str, Any] = {
        "speed_px_s": 0.0,
        "speed_h_s": 0.0,
        "heading": None,
        "headings": {},
        "moving_fraction": 0.0,
        "stopped_s": round(dwell, 3),
        "dwell_s": round(dwell, 3),
        "running": 0.0,
    }
    if len(times) < 2 or dwell <= 0:
        return out
    grid = np.append(np.arange(times[0], times[-1], STEP_S), times[-1])
    whole = whole_boxes(times, boxes[:, 3] - boxes[:, 1])
    times, boxes = times[whole], boxes[whole]
    feet_x = np.interp(grid, times, (boxes[:, 0] + boxes[:, 2]) / 2)
    feet_y = np.interp(grid, times, boxes[:, 3])
    height = np.interp(grid, times, boxes[:, 3] - boxes[:, 1])
    xy = np.stack([feet_x, feet_y], axis=1)
    dt = np.diff(grid)
    valid = dt > 1e-6
    dist = np.hypot(*np.diff(xy, axis=0).T)
    step_h = np.maximum((height[1:] + height[:-1]) / 2, 1.0)
    speed = np.where(valid, dist / np.where(valid, dt, 1.0), 0.0)
    speed_h = speed / step_h
    moving = (speed_h > MOVING_H_S) & valid
    # Longest run of consecutive still steps, in seconds.
    still = np.where(~moving, dt, 0.0)
    run_ends = np.flatnonzero(moving)
    runs = np.add.reduceat(still, np.r_[0, run_ends]) if len(still) else np.zeros(1)
    out["moving_fraction"] = round(float(dt[moving].sum() / dwell), 3)
    out["stopped_s"] = round(float(runs.max(initial=0.0)), 3)
    if moving.any():
        speed_h_s = round(float(np.median(speed_h[moving])), 3)
        out["speed_px_s"] = round(float(np.median(speed[moving])), 3)
        out["speed_h_s"] = speed_h_s
        out["headings"] = heading_shares(xy, height)
        out["heading"] = _most(out["headings"])
        if person:
            out["running"] = round(_sigmoid((speed_h_s - RUNNING_H_S) / 0.2), 3)
    return out
