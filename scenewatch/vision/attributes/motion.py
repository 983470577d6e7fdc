"""How a track moved: speed (pixels and box heights per second), heading, stops, dwell.

Box heights per second is scale-free: a walker covers roughly 0.5-1 of their own height per
second at any distance from the camera, a runner 1.5 and more, so 'running' can be judged
without calibration. It is a heuristic: a steep camera foreshortens motion along the view.
"""

from __future__ import annotations

import numpy as np

STEP_S = 0.5  # resampling interval: detector jitter averages out, real motion does not
MOVING_H_S = 0.2  # box heights per second above which a step counts as moving
HEADING_MIN_H = 0.5  # net displacement (box heights) below which there is no heading
RUNNING_H_S = 1.5  # box heights per second where 'running' reaches 0.5


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def heading(xy: np.ndarray, heights: np.ndarray) -> str | None:
    """left | right | towards | away (from the camera), None when the object hardly moved.

    Towards the camera, an object moves down the image and grows; away, it moves up and shrinks.
    Both are summed into one 'depth' measure (box heights), compared with sideways motion.
    """
    n = len(xy)
    if n < 2:
        return None
    k = max(1, n // 5)  # mean of the first and last fifth: robust to a jittery end box
    start, end = xy[:k].mean(axis=0), xy[-k:].mean(axis=0)
    h0, h1 = max(float(heights[:k].mean()), 1.0), max(float(heights[-k:].mean()), 1.0)
    scale = (h0 + h1) / 2
    side = (end[0] - start[0]) / scale
    depth = (end[1] - start[1]) / scale + 2.0 * np.log(h1 / h0)
    if np.hypot(side, depth) < HEADING_MIN_H:
        return None
    if abs(side) >= abs(depth):
        return "right" if side > 0 else "left"
    return "towards" if depth > 0 else "away"


def describe_motion(times: np.ndarray, xyxy: np.ndarray, person: bool = True) -> dict:
    """The ``motion`` attributes of one track from its observed boxes (times in seconds)."""
    times = np.asarray(times, dtype=np.float64)
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    dwell = float(times[-1] - times[0]) if len(times) else 0.0
    out = {
        "speed_px_s": 0.0,
        "speed_h_s": 0.0,
        "heading": None,
        "moving_fraction": 0.0,
        "stopped_s": round(dwell, 3),
        "dwell_s": round(dwell, 3),
        "running": 0.0,
    }
    if len(times) < 2 or dwell <= 0:
        return out
    grid = np.append(np.arange(times[0], times[-1], STEP_S), times[-1])
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
        out["speed_px_s"] = round(float(np.median(speed[moving])), 3)
        out["speed_h_s"] = round(float(np.median(speed_h[moving])), 3)
        out["heading"] = heading(xy, height)
        if person:
            out["running"] = round(_sigmoid((out["speed_h_s"] - RUNNING_H_S) / 0.2), 3)
    return out
