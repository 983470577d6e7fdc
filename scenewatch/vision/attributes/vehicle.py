"""Vehicles: body colour from the middle of the box, type from COCO class and box shape."""

from __future__ import annotations

import cv2
import numpy as np

from scenewatch.vision.colours import colour_distribution

# Body band of the box per class (top, bottom, left, right as fractions): below the windows and
# above the wheels and road for cars; buses and trucks are body almost to the roof.
BODY_BANDS = {
    "car": (0.45, 0.8, 0.15, 0.85),
    "bus": (0.2, 0.8, 0.1, 0.9),
    "truck": (0.3, 0.8, 0.1, 0.9),
    "motorcycle": (0.2, 0.8, 0.15, 0.85),
    "bicycle": (0.2, 0.8, 0.15, 0.85),
}
TWO_WHEELERS = ("bicycle", "motorcycle")
FRAME_QUANTILE = 90  # two-wheelers: the most colourful tenth of the band is the frame/fairing
COLOURLESS_CHROMA = 15.0  # ... unless even that is hardly coloured: a black or silver bike


def _band(shape: tuple[int, ...], box: np.ndarray, cls: str) -> np.ndarray:
    height, width = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    top, bottom, left, right = BODY_BANDS.get(cls, BODY_BANDS["car"])
    mask = np.zeros((height, width), dtype=bool)
    r0, r1 = int(round(y1 + top * h)), int(round(y1 + bottom * h))
    c0, c1 = int(round(x1 + left * w)), int(round(x1 + right * w))
    mask[max(r0, 0) : max(r1, r0 + 1), max(c0, 0) : max(c1, c0 + 1)] = True
    return mask


def _ring(shape: tuple[int, ...], box: np.ndarray) -> np.ndarray:
    """The crop outside the box: the object's surroundings."""
    ring = np.ones(shape[:2], dtype=bool)
    x1, y1, x2, y2 = (float(v) for v in box)
    ring[max(int(y1), 0) : int(np.ceil(y2)), max(int(x1), 0) : int(np.ceil(x2))] = False
    return ring


def body_colours(image: np.ndarray, box: np.ndarray, cls: str, lightness: float | None) -> dict[str, float]:
    """Body colour distribution of a vehicle crop (``box`` in crop pixels).

    Cars, vans, trucks, buses: the body band fills most of the box, so its colours are the body's.
    Bicycles and motorcycles are mostly see-through: their box is background, rider and black
    tyres, and what people call a bike's colour is its frame. So only the most colourful pixels
    of the band count, less whatever equally colourful pixels around the box show (a yellow wall
    behind the bike is background, not frame).
    """
    band = _band(image.shape, box, cls)
    if cls not in TWO_WHEELERS:
        return colour_distribution(image, band, lightness)
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    threshold = float(np.percentile(chroma[band], FRAME_QUANTILE)) if band.any() else 0.0
    if threshold < COLOURLESS_CHROMA:
        return colour_distribution(image, band, lightness)
    frame = colour_distribution(image, band & (chroma >= threshold), lightness)
    ring = _ring(image.shape, box) & (chroma >= threshold)
    if ring.sum() < 16:
        return frame
    around = colour_distribution(image, ring, lightness)
    left = {t: max(v - around[t], 0.0) for t, v in frame.items()}
    total = sum(left.values())
    return {t: v / total for t, v in left.items()} if total > 0.05 else frame


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def cut_off(box: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether a crop's box touches the crop's border: crops are padded on every side unless
    clipped by the frame, so such a box is cut off by the frame edge and its shape is not the
    object's."""
    height, width = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = max(3.0, 0.03 * (x2 - x1)), max(3.0, 0.03 * (y2 - y1))  # detector boxes stop short
    return x1 <= mx or y1 <= my or x2 >= width - mx or y2 >= height - my


def vehicle_type(cls: str, box: np.ndarray, cut: bool = False) -> dict[str, float]:
    """Soft vehicle type. Heuristic, said plainly: COCO has no van or pickup class, so a tall box
    for a car suggests a van (or an SUV), and for a truck a van; a long low truck box suggests a
    pickup. Box shape depends on the viewing angle, so these are weak hints, never certainties.
    A box ``cut`` off by the frame edge gives no shape hint at all: just the detector's class."""
    if cls in ("bus", "motorcycle", "bicycle") or (cut and cls in ("car", "truck")):
        return {cls: 1.0}
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    aspect = h / max(w, 1.0)
    if cls == "car":
        van = 0.5 * _sigmoid((aspect - 0.95) / 0.1)
        return {"car": 1.0 - van, "van": van}
    if cls == "truck":
        van = 0.5 * _sigmoid((aspect - 0.85) / 0.1)
        pickup = 0.4 * _sigmoid((0.55 - aspect) / 0.08)
        return {"truck": 1.0 - van - pickup, "van": van, "pickup": pickup}
    return {}
