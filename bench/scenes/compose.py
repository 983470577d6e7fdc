"""Pixel work for composite scenes: a clean background plate, a soft mask around a real object and
pasting that object (turned about its feet, squashed or not) onto a live frame."""

from __future__ import annotations

import cv2
import numpy as np

# A pixel belongs to the object where it differs from the background plate by more than this
# (0-255, the largest channel); the soft edge then fades over FEATHER of the box's shorter side.
DIFF = 28
FEATHER = 0.15


def background(frames: list[np.ndarray]) -> np.ndarray:
    """The per-pixel median of frames spread over the clip: the road or ground without the traffic
    and people that move through it."""
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def padded(box: tuple[int, int, int, int], shape: tuple[int, ...], pad: float = FEATHER) -> tuple[int, ...]:
    x0, y0, x1, y1 = box
    p = max(3, int(round(pad * min(x1 - x0, y1 - y0))))
    return max(x0 - p, 0), max(y0 - p, 0), min(x1 + p, shape[1]), min(y1 + p, shape[0])


def cut(
    frame: np.ndarray, plate: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The object in ``box`` as (pixels, mask 0-1, padded box): the mask is where the frame differs
    from the plate inside the box, closed and softened, times a window that fades to 0 at the
    padded edge, so nothing of a neighbour outside the box and no hard seam comes along."""
    x0, y0, x1, y1 = region = padded(box, frame.shape)
    pixels = frame[y0:y1, x0:x1].copy()
    diff = np.abs(pixels.astype(np.int16) - plate[y0:y1, x0:x1].astype(np.int16)).max(axis=2)
    inside = np.zeros(diff.shape, np.uint8)
    bx0, by0, bx1, by1 = box
    inside[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = 1
    silhouette = ((diff > DIFF) & (inside > 0)).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    silhouette = cv2.dilate(cv2.morphologyEx(silhouette, cv2.MORPH_CLOSE, kernel), kernel)
    soft = cv2.GaussianBlur(silhouette.astype(np.float32), (0, 0), 1.5)
    window = np.minimum(
        *np.meshgrid(
            ramp(diff.shape[0], by0 - y0, y1 - by1), ramp(diff.shape[1], bx0 - x0, x1 - bx1), indexing="ij"
        )
    )
    return pixels, np.clip(soft, 0, 1) * window, region


def ramp(n: int, before: int, after: int) -> np.ndarray:
    """1 inside, falling linearly to 0 over the ``before`` first and ``after`` last samples."""
    k = np.arange(n, dtype=np.float32)
    up = np.clip((k + 1) / (before + 1), 0, 1)
    down = np.clip((n - k) / (after + 1), 0, 1)
    return np.minimum(up, down)


def paste(
    frame: np.ndarray,
    pixels: np.ndarray,
    mask: np.ndarray,
    foot: tuple[float, float],
    to: tuple[float, float],
    angle: float = 0.0,
    squash: float = 1.0,
    alpha: float = 1.0,
) -> tuple[float, float, float, float]:
    """Lay ``pixels`` over ``frame`` in place: the patch point ``foot`` lands on frame point ``to``,
    turned ``angle`` degrees about it (90: lying, head to the right) and squashed to ``squash`` of
    its height; returns the box (x0, y0, x1, y1) the mask covers in the frame."""
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    # patch -> frame: move the foot to the origin, squash, turn (clockwise on screen), move to ``to``
    linear = np.array([[c, -s], [s, c]]) @ np.diag([1.0, squash])
    offset = np.asarray(to) - linear @ np.asarray(foot)
    matrix = np.hstack([linear, offset[:, None]]).astype(np.float32)
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_LINEAR)
    weight = cv2.warpAffine(mask.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR) * alpha
    ys, xs = np.nonzero(weight > 0.5)
    if not len(xs):
        return (to[0], to[1], to[0], to[1])
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    w = weight[..., None]
    frame[:] = (frame * (1 - w) + warped * w).astype(np.uint8)
    return float(x0), float(y0), float(x1), float(y1)
