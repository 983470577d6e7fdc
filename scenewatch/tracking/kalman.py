"""A constant-velocity Kalman filter over box centre and size, batched over all tracks.

State per track: ``[cx, cy, w, h, vx, vy, vw, vh]`` in pixels and pixels per second; the size's
rate of change may fade with time (``MotionNoise.size_memory_s``). Noise scales
with the box size (near objects move more pixels) and with the elapsed time, so the filter behaves
the same at 25 fps, at 10 fps or when only every third frame is detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_H = np.hstack([np.eye(4), np.zeros((4, 4))])


@dataclass(frozen=True, slots=True)
class MotionNoise:
    """Noise levels as fractions of the box size (see ``TrackerConfig``)."""

    position: float = 0.1  # per sqrt(second)
    velocity: float = 0.3  # per second per sqrt(second)
    measurement: float = 0.1
    initial_velocity: float = 2.0  # per second: how fast a newborn track may be moving
    # Seconds over which a box's rate of growth or shrinking fades, where the caller asks for it
    # (0: constant, as the position's). A box changes size mostly by pose, occlusion and the
    # picture's edge, none of which goes on for long: extrapolated over the gaps of sparse
    # detection, a constant rate shrank a lost track's box to a sliver no detection overlapped.
    size_memory_s: float = 0.0


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.hstack([xyxy[:, :2] + wh / 2, wh])


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    half = boxes[:, 2:4] / 2
    return np.hstack([boxes[:, :2] - half, boxes[:, :2] + half])


def _scale(sizes: np.ndarray) -> np.ndarray:
    """[N, 4] per-coordinate scale: width for x and w, height for y and h."""
    w, h = np.maximum(sizes[:, 0], 1.0), np.maximum(sizes[:, 1], 1.0)
    return np.stack([w, h, w, h], axis=1)


def initiate(boxes: np.ndarray, noise: MotionNoise) -> tuple[np.ndarray, np.ndarray]:
    """Means [N, 8] and covariances [N, 8, 8] for new tracks from [N, 4] cxcywh boxes."""
    n = len(boxes)
    mean = np.hstack([boxes, np.zeros((n, 4))])
    scale = _scale(boxes[:, 2:4])
    std = np.hstack([2 * noise.measurement * scale, noise.initial_velocity * scale])
    cov = np.zeros((n, 8, 8))
    idx = np.arange(8)
    cov[:, idx, idx] = std**2
    return mean, cov


def predict(
    mean: np.ndarray,
    cov: np.ndarray,
    dt: np.ndarray,
    noise: MotionNoise,
    fade: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Advance every track by its own ``dt`` seconds ([N]); with ``fade``, the size's rate of
    change fades with time (``MotionNoise.size_memory_s``)."""
    n = len(mean)
    if n == 0:
        return mean, cov
    dt = np.maximum(np.asarray(dt, dtype=np.float64).reshape(n), 0.0)
    transition = np.broadcast_to(np.eye(8), (n, 8, 8)).copy()
    transition[:, np.arange(4), np.arange(4) + 4] = dt[:, None]
    if fade and noise.size_memory_s > 0:  # w += vw * tau * (1 - e^(-dt/tau)), vw *= e^(-dt/tau)
        tau = noise.size_memory_s
        kept = np.exp(-dt / tau)
        transition[:, [2, 3], [6, 7]] = (tau * (1.0 - kept))[:, None]
        transition[:, [6, 7], [6, 7]] = kept[:, None]
    mean = np.einsum("nij,nj->ni", transition, mean)
    # Random walk in position and velocity: variance grows linearly with the elapsed time.
    scale = _scale(mean[:, 2:4])
    var = np.hstack([(noise.position * scale) ** 2, (noise.velocity * scale) ** 2]) * dt[:, None]
    cov = transition @ cov @ transition.transpose(0, 2, 1)
    idx = np.arange(8)
    cov[:, idx, idx] += var
    # A shrinking box would flip its sign after a long prediction; keep it physical.
    mean[:, 2:4] = np.maximum(mean[:, 2:4], 1.0)
    return mean, cov


def update(
    mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray, scores: np.ndarray, noise: MotionNoise
) -> tuple[np.ndarray, np.ndarray]:
    """Correct tracks [N] with their matched cxcywh boxes [N, 4].

    Measurement noise grows as the score falls (as in StrongSORT's NSA filter): a weak, partly
    occluded detection moves the track less.
    """
    if len(mean) == 0:
        return mean, cov
    scale = _scale(boxes[:, 2:4])
    r = (noise.measurement * scale) ** 2 * (1.5 - np.clip(scores, 0.0, 1.0))[:, None]
    projected_cov = cov[:, :4, :4] + np.einsum("ni,ij->nij", r, np.eye(4))
    # K = P H^T S^-1, solved rather than inverted.
    cross = cov[:, :, :4]  # P H^T
    gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = boxes - mean[:, :4]
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ projected_cov @ gain.transpose(0, 2, 1)
    return mean, cov


def project(mean: np.ndarray) -> np.ndarray:
    """Predicted boxes [N, 4] cxcywh."""
    return mean @ _H.T
