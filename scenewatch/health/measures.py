"""Cheap per-frame measurements for the health checks.

Everything is computed on one small grey (and colour) copy of the frame, a few milliseconds on one
core, so a camera can be analysed once or twice a second for well under 1 % of a core.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TILE_COLS = 8
TILE_ROWS = 6
# Immerkaer's fast noise estimator: a kernel that cancels smooth image structure, leaving noise.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_NOISE_SCALE = float(np.sqrt(np.pi / 2.0) / 6.0)
# Index of each scalar in Measures.vector(); the baseline stores rows of these.
SCALARS = ("brightness", "contrast", "dark_frac", "sat_frac", "sharpness", "noise", "rg", "by", "diff")


@dataclass(slots=True)
class Measures:
    """What one analysed frame looked like. Grey levels are 0..255.

    ``tile_mean`` and ``tile_detail`` [TILE_ROWS * TILE_COLS] are each tile's mean grey over the frame's
    mean and its Laplacian energy over the frame's contrast: per-region appearance that a global gain
    change leaves alone, for the "covered" check. ``diff`` the mean absolute grey difference from the previous
    analysed frame (NaN when there is none); ``rg``/``by`` the colour-opponent means of the frame
    (0 for a grey world); ``thumb`` a 40x30 zero-mean unit-variance thumbnail used to spot cuts.
    """

    brightness: float
    contrast: float
    dark_frac: float
    sat_frac: float
    sharpness: float
    noise: float
    rg: float
    by: float
    diff: float
    green: bool
    tile_mean: np.ndarray
    tile_detail: np.ndarray
    thumb: np.ndarray

    def vector(self) -> np.ndarray:
        """Scalars then tile means then tile detail: the row a baseline stores."""
        head = np.array([getattr(self, name) for name in SCALARS], dtype=np.float32)
        return np.concatenate([head, self.tile_mean, self.tile_detail]).astype(np.float32)


def analysis_image(image: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Downscale a BGR frame to ``width`` pixels wide; returns (colour, grey float32).

    Every measure of detail and noise is taken on the grey, an area average (INTER_AREA, both the
    best downscale for them and a mild denoiser). Area averaging is slow for uneven factors
    (768 -> 320: 2 ms for three channels), so it runs on the grey alone; the colour copy only gives
    mean colours and snapshots, so 2x2 means plus a bilinear rest do (a seventh of the cost).
    """
    h, w = image.shape[:2]
    height = max(TILE_ROWS * 4, round(h * width / w))
    grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (width, height), interpolation=cv2.INTER_AREA)
    small = image
    while small.shape[1] >= 2 * width and small.shape[0] >= 2 * height:
        small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_AREA)
    small = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return small, grey.astype(np.float32)


def _tiles(values: np.ndarray) -> np.ndarray:
    """View a 2-D array as [TILE_ROWS, th, TILE_COLS, tw], cropping the remainder."""
    th, tw = values.shape[0] // TILE_ROWS, values.shape[1] // TILE_COLS
    return values[: th * TILE_ROWS, : tw * TILE_COLS].reshape(TILE_ROWS, th, TILE_COLS, tw)


def thumbnail(grey: np.ndarray) -> np.ndarray:
    """A 40x30 normalised thumbnail: structure only, indifferent to gain and offset."""
    t = cv2.resize(grey, (40, 30), interpolation=cv2.INTER_AREA)
    t = t - t.mean()
    return t / (float(t.std()) + 1e-3)


def measure(small: np.ndarray, grey: np.ndarray, previous: np.ndarray | None) -> Measures:
    """Measure one analysis image; ``previous`` is the last analysed grey of the same size or None."""
    mean, std = cv2.meanStdDev(grey)
    brightness, contrast = float(mean[0, 0]), float(std[0, 0])
    tile_mean = _tiles(grey).mean(axis=(1, 3)).reshape(-1) / (brightness + 1.0)

    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    tile_lap = np.sqrt((_tiles(lap) ** 2).mean(axis=(1, 3))).reshape(-1)
    # Sharpness: Laplacian energy of the more textured half of the view over the overall contrast,
    # so darkening (which scales both) leaves it alone while defocus (which kills fine detail) does not.
    tile_detail = tile_lap / (contrast + 1.0)
    sharpness = float(np.percentile(tile_detail, 75))

    residual = np.abs(cv2.filter2D(grey, cv2.CV_32F, _NOISE_KERNEL))
    tile_noise = _tiles(residual).mean(axis=(1, 3)).reshape(-1)
    # The flattest quarter of the tiles: there the residual is sensor noise, not scene edges.
    noise = _NOISE_SCALE * float(np.percentile(tile_noise, 25))

    b, g, r = (float(v) for v in cv2.mean(small)[:3])
    total = b + g + r + 1.0
    rg = (r - g) / total
    by = (b - (r + g) / 2.0) / total
    # A decoder with no data paints green (YUV all zero) or grey (YUV mid); grey is caught by contrast.
    green = g > 60.0 and r < 0.3 * g and b < 0.3 * g and contrast < 12.0

    diff = float("nan")
    if previous is not None and previous.shape == grey.shape:
        diff = float(cv2.absdiff(grey, previous).mean())

    return Measures(
        brightness=brightness,
        contrast=contrast,
        dark_frac=float((grey < 16).mean()),
        sat_frac=float((grey >= 250).mean()),
        sharpness=sharpness,
        noise=noise,
        rg=rg,
        by=by,
        diff=diff,
        green=green,
        tile_mean=tile_mean,
        tile_detail=tile_detail,
        thumb=thumbnail(grey),
    )


def structure_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two normalised thumbnails: about 1 for the same view, near 0 after a cut."""
    return float((a * b).mean())
