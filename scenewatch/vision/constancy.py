"""Per-camera colour constancy: a white balance learned from the camera's own frames.

A camera with a blue or yellow tint (auto white balance fooled by a sky, sodium lamps, a cheap
sensor) shifts every colour it sees, so a grey coat would be named blue on one camera and brown
on another. Plain grey-world (the frame's mean is grey) is wrong on scenes full of grass or
brick, so the balance is learned from the frame's *near-neutral* pixels only (pavement, walls,
clothes in black, grey and white): their mean colour is the cast. Those pixels are picked in
CIELAB by low chroma (below :data:`NEUTRAL_CHROMA`, or the least chromatic share of the frame
when a strong cast leaves nothing that low) and mid lightness (no clipped highlights, no
pitch-black shadows, whose colour is noise); the pick is repeated on the frame corrected so far
(:data:`ROUNDS`), where the grey surfaces come out cleaner. The gains are a running (geometric)
mean over sampled frames, limited to +/- :data:`MAX_GAIN` so a scene that truly is warm keeps
most of its warmth; shadows are handled where colours are named (``colours.py`` scales
lightness by the scene's bright level).
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_GAIN = 0.25  # a channel is scaled by at most 1 +/- this
NEUTRAL_CHROMA = 16.0  # CIELAB chroma below which a pixel is taken as a grey surface under the cast
NEUTRAL_SHARE = 0.3  # ... or, under a strong cast, the least chromatic 30 % of the frame
MAX_CAST_CHROMA = 30.0  # those beyond this chroma are no grey surface under any cast (all grass)
SAMPLE_STEP = 8  # every 8th pixel in each direction: the mean does not need more
EVERY = 25  # frames between samples
ROUNDS = 3  # pick neutral pixels, correct, pick again: a strong cast hides them at first


class WhiteBalance:
    """Running per-channel gains (B, G, R) of one camera; :meth:`apply` corrects a crop."""

    def __init__(self, every: int = EVERY) -> None:
        self.every = max(1, every)
        self.frames = 0
        self.log_gains = np.zeros(3, np.float64)
        self.samples = 0

    def observe(self, image_bgr: np.ndarray) -> None:
        """Learn from one frame (only every ``every``-th call looks at the pixels)."""
        self.frames += 1
        if (self.frames - 1) % self.every:
            return
        gains = frame_gains(image_bgr)
        if gains is not None:
            self.log_gains += np.log(gains)
            self.samples += 1

    @property
    def gains(self) -> np.ndarray:
        """Per-channel gains (B, G, R); ones before any frame with enough neutral pixels."""
        if not self.samples:
            return np.ones(3, np.float32)
        mean = np.exp(self.log_gains / self.samples)
        return np.clip(mean, 1.0 - MAX_GAIN, 1.0 + MAX_GAIN).astype(np.float32)

    def apply(self, image_bgr: np.ndarray) -> np.ndarray:
        """The image under neutral light (uint8 in, uint8 out; unchanged while nothing is learned)."""
        gains = self.gains
        if np.allclose(gains, 1.0, atol=1e-3):
            return image_bgr
        out = image_bgr.astype(np.float32) * gains[None, None, :]
        return np.clip(out, 0, 255).astype(np.uint8)


def frame_gains(image_bgr: np.ndarray) -> np.ndarray | None:
    """Gains (B, G, R) that make one frame's near-neutral pixels grey, or None where it has too
    few of them (all grass, all sky)."""
    small = image_bgr[::SAMPLE_STEP, ::SAMPLE_STEP].reshape(-1, 3).astype(np.float32)
    if len(small) == 0:
        return None
    gains = np.ones(3, np.float32)
    for _ in range(ROUNDS):
        corrected = np.clip(small * gains, 0, 255)[None] / 255.0
        lab = cv2.cvtColor(corrected, cv2.COLOR_BGR2Lab)[0]
        light, chroma = lab[:, 0], np.hypot(lab[:, 1], lab[:, 2])
        mid = (light > 20.0) & (light < 92.0)
        if mid.sum() < 16:
            return None
        limit = max(NEUTRAL_CHROMA, float(np.quantile(chroma[mid], NEUTRAL_SHARE)))
        neutral = mid & (chroma <= limit)
        if float(np.median(chroma[neutral])) > MAX_CAST_CHROMA:
            return None
        gains = gains_for(small[neutral].mean(axis=0))
    return gains


def gains_for(means_bgr: np.ndarray) -> np.ndarray:
    """Gains that make ``means_bgr`` grey at the same brightness, each within +/- MAX_GAIN."""
    means = np.maximum(np.asarray(means_bgr, np.float64), 1.0)
    gains = means.mean() / means
    return np.clip(gains, 1.0 - MAX_GAIN, 1.0 + MAX_GAIN).astype(np.float32)
