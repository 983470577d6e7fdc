"""Which configured zones a track's ground points entered (vectorised point-in-polygon)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Polygon = Sequence[Sequence[float]]


def inside(points: np.ndarray, polygon: Polygon) -> np.ndarray:
    """[N] bool: which (x, y) points lie inside the polygon (even-odd ray casting, all at once)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(poly) < 3 or len(pts) == 0:
        return np.zeros(len(pts), dtype=bool)
    x, y = pts[:, :1], pts[:, 1:]  # [N, 1] against the [M] edges
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.count_nonzero(straddles & (x < cross_x), axis=1) % 2 == 1


def zones_visited(points: np.ndarray, zones: Mapping[str, Polygon] | None) -> list[str]:
    """Names of the zones any point entered, in the order they were first entered."""
    if not zones or len(points) == 0:
        return []
    first: dict[str, int] = {}
    for name, polygon in zones.items():
        hits = np.flatnonzero(inside(points, polygon))
        if len(hits):
            first[name] = int(hits[0])
    return sorted(first, key=lambda name: (first[name], name))
