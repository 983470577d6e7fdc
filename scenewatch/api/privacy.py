"""Privacy masking, applied to every image and clip frame the server hands out.

Two layers, in this order:

1. static privacy zones of the camera (polygons in camera pixels) are filled black for everyone;
2. for users without the 'unmasked' permission, every person box is pixelated (coarse mosaic,
   box grown by a margin so the edge of a head is not left sharp). When the boxes of a frame are
   not known (no detections for that moment), the whole frame is pixelated: fail closed.

For video, :class:`~scenewatch.api.sightings.Sightings` says where people are at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scenewatch.store import repo

PRIVACY_KEY = "privacy_zones"
MARGIN = 0.15  # grow person boxes by 15 % each side ...
MIN_MARGIN = 4.0  # ... and at least this many camera pixels (small, far people)
BLOCKS = 6  # mosaic cells across the narrow side of a box ...
MIN_CELL = 5  # ... each at least this many pixels, so small (far) people are hidden too


def mosaic() -> tuple[float, ...]:
    """What the look of pixelated people depends on (a key for caches of masked media)."""
    return (MARGIN, MIN_MARGIN, BLOCKS, MIN_CELL)


@dataclass(frozen=True)
class Mask:
    """What to hide in one image: black ``zones`` and pixelated ``people`` (None = unknown)."""

    zones: tuple[np.ndarray, ...]  # polygons in camera pixels
    pixelate: bool
    people: np.ndarray | None  # N x 4 boxes in camera pixels; None: not known

    @property
    def empty(self) -> bool:
        return not self.zones and not self.pixelate


def privacy_zones(engine, camera: str) -> list[list[list[float]]]:
    return repo.get_setting(engine, PRIVACY_KEY, {}).get(camera, [])


def mask_for(engine, camera: str, unmasked: bool, people: np.ndarray | None) -> Mask:
    zones = tuple(np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in privacy_zones(engine, camera))
    return Mask(zones, not unmasked, people)


def apply(
    image: np.ndarray, mask: Mask, scale: tuple[float, float] = (1.0, 1.0), offset=(0.0, 0.0)
) -> np.ndarray:
    """A masked copy of ``image`` (BGR). ``scale``/``offset`` map camera pixels to image pixels:
    ``image_xy = (camera_xy - offset) * scale`` (for downscaled snapshots and cropped thumbnails)."""
    if mask.empty:
        return image
    out = image.copy()
    sx, sy = scale
    ox, oy = offset
    if mask.pixelate:
        if mask.people is None:
            out = pixelate(out, 0, 0, out.shape[1], out.shape[0], blocks=24)
        else:
            for x1, y1, x2, y2 in np.asarray(mask.people, dtype=np.float32).reshape(-1, 4):
                mx, my = max(MIN_MARGIN, (x2 - x1) * MARGIN), max(MIN_MARGIN, (y2 - y1) * MARGIN)
                out = pixelate(
                    out, (x1 - mx - ox) * sx, (y1 - my - oy) * sy, (x2 + mx - ox) * sx, (y2 + my - oy) * sy
                )
    for polygon in mask.zones:
        points = ((polygon - (ox, oy)) * (sx, sy)).round().astype(np.int32)
        cv2.fillPoly(out, [points], (0, 0, 0))
    return out


def pixelate(
    image: np.ndarray, x1: float, y1: float, x2: float, y2: float, blocks: int = BLOCKS
) -> np.ndarray:
    """Mosaic the box in place (clipped to the image); returns ``image``."""
    h, w = image.shape[:2]
    a, b = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    c, d = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
    if c - a < 2 or d - b < 2:
        return image
    region = image[b:d, a:c]
    cell = max(MIN_CELL, min(c - a, d - b) // blocks)
    small = cv2.resize(
        region, (max(1, (c - a) // cell), max(1, (d - b) // cell)), interpolation=cv2.INTER_AREA
    )
    image[b:d, a:c] = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
    return image


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode JPEG")
    return data.tobytes()
