"""Pure geometry helpers for zones, lines and ground calibration: numpy in, numpy out, no I/O.

Image coordinates throughout: x to the right, y downwards, in pixels of the analysed frame.

>>> square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
>>> points_in_polygon(np.array([[5, 5], [15, 5]]), square).tolist()
[True, False]
"""

from __future__ import annotations

import cv2
import numpy as np


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """[N] bool: which of the [N, 2] points lie inside the [M, 2] polygon (even-odd rule).

    Ray casting one edge at a time over the points that straddle it (no [N, M] temporaries, so a
    week's feet in a rule replay go at once); points on an edge may fall either way, but always
    the same way, live and in replays alike.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    px, py = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])
    inside = np.zeros(len(px), dtype=bool)
    for (x0, y0), (x1, y1) in zip(poly.tolist(), np.roll(poly, -1, axis=0).tolist(), strict=True):
        if y0 == y1:
            continue  # a level edge: no point straddles it
        at = np.flatnonzero((y0 > py) != (y1 > py))
        cross_x = x0 + (py[at] - y0) * (x1 - x0) / (y1 - y0)
        inside[at[px[at] < cross_x]] ^= True
    return inside


def bottom_centres(boxes: np.ndarray) -> np.ndarray:
    """[N, 2] the bottom-centre of each xyxy box: where a person or vehicle stands."""
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)


def side_of_line(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N] cross product sign of each point against the directed line a -> b.

    Negative means left of a -> b as seen on the screen (y grows downwards), positive right.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    rel = pts - np.asarray(a, dtype=np.float64)
    return d[0] * rel[:, 1] - d[1] * rel[:, 0]


def distance_to_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N] distance of each point to the segment a -> b.

    >>> distance_to_segment(np.array([[0.0, 1.0], [3.0, 0.0]]), np.array([0.0, 0.0]), np.array([1.0, 0.0]))
    array([1., 2.])
    """
    d = b - a
    t = np.clip(((points - a) @ d) / max(float(d @ d), 1e-9), 0.0, 1.0)
    return np.hypot(*(points - (a + t[:, None] * d)).T)


def segments_intersect(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N] bool: does segment p[i] -> q[i] properly cross segment a -> b (touching counts)."""
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(q, dtype=np.float64).reshape(-1, 2)
    s1 = np.sign(side_of_line(p, a, b))
    s2 = np.sign(side_of_line(q, a, b))
    # a and b against each segment p -> q
    d = q - p
    s3 = np.sign(d[:, 0] * (a[1] - p[:, 1]) - d[:, 1] * (a[0] - p[:, 0]))
    s4 = np.sign(d[:, 0] * (b[1] - p[:, 1]) - d[:, 1] * (b[0] - p[:, 0]))
    return (s1 * s2 <= 0) & (s3 * s4 <= 0) & ~((s1 == 0) & (s2 == 0))


def self_intersects(polygon: np.ndarray) -> bool:
    """Whether any two non-adjacent edges of the closed polygon cross (all edge pairs at once)."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    n = len(poly)
    if n < 4:
        return False
    start, end = poly, np.roll(poly, -1, axis=0)
    i, j = np.triu_indices(n, k=2)
    # Edges 0 and n-1 share a vertex: adjacent, not a crossing.
    keep = ~((i == 0) & (j == n - 1))
    i, j = i[keep], j[keep]

    def orient(o: np.ndarray, p: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.sign((p[:, 0] - o[:, 0]) * (r[:, 1] - o[:, 1]) - (p[:, 1] - o[:, 1]) * (r[:, 0] - o[:, 0]))

    o1 = orient(start[i], end[i], start[j])
    o2 = orient(start[i], end[i], end[j])
    o3 = orient(start[j], end[j], start[i])
    o4 = orient(start[j], end[j], end[i])
    return bool(np.any((o1 * o2 < 0) & (o3 * o4 < 0)))


def polygon_area(polygon: np.ndarray) -> float:
    """Absolute area by the shoelace formula."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def ground_homography(image_points: np.ndarray, width_m: float, length_m: float) -> np.ndarray:
    """3x3 homography from image pixels to ground metres.

    The four image points mark a rectangle on the ground, in order: the corner taken as origin, the
    corner ``width_m`` away along one side, the opposite corner, the corner ``length_m`` from the
    origin along the other side.
    """
    src = np.asarray(image_points, dtype=np.float32).reshape(4, 2)
    dst = np.array([[0, 0], [width_m, 0], [width_m, length_m], [0, length_m]], dtype=np.float32)
    return cv2.getPerspectiveTransform(src, dst)


def to_ground(points: np.ndarray, homography: np.ndarray | None) -> np.ndarray:
    """[N, 2] points mapped to the ground plane (metres); unchanged when there is no homography."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if homography is None or len(pts) == 0:
        return pts
    h = np.asarray(homography, dtype=np.float64)
    ones = np.ones((len(pts), 1))
    mapped = np.hstack([pts, ones]) @ h.T
    return mapped[:, :2] / mapped[:, 2:3]


def speeds(times: np.ndarray, points: np.ndarray) -> np.float64:
    """Mean speed (units of ``points`` per second) between the first and last sample of each row.

    ``times`` [K], ``points`` [K, 2]; a single number, 0 with fewer than two samples.
    """
    if len(times) < 2 or times[-1] <= times[0]:
        return np.float64(0.0)
    return np.float64(np.linalg.norm(points[-1] - points[0]) / (times[-1] - times[0]))


def wrap_angle(angles: np.ndarray) -> np.ndarray:
    """Angles wrapped to (-pi, pi]."""
    return (np.asarray(angles) + np.pi) % (2 * np.pi) - np.pi


def segment_fraction_on_line(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N] where along each step p[i] -> q[i] (0 at p, 1 at q) it meets the infinite line through a, b.

    NaN where the step runs parallel to the line.

    >>> segment_fraction_on_line(np.array([[0, 0]]), np.array([[10, 0]]), np.array([4, -1]), np.array([4, 1]))
    array([0.4])
    """
    sp = side_of_line(p, a, b)
    sq = side_of_line(q, a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(sp / (sp - sq), 0.0, 1.0)


def segment_fraction_into_polygon(p: np.ndarray, q: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """[N] where along each step p[i] -> q[i] it last crosses the polygon's border (0 at p, 1 at q).

    For a step that enters (or leaves) the polygon: the fraction of the way at which it did so. 0.5
    where the step meets no edge (both ends on the same side).

    >>> square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    >>> segment_fraction_into_polygon(np.array([[-10, 5]]), np.array([[5, 5]]), square)
    array([0.66666667])
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(q, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    e0, e1 = poly, np.roll(poly, -1, axis=0)
    d = (q - p)[:, None, :]  # [N, 1, 2] against [M] edges
    e = (e1 - e0)[None, :, :]
    w = e0[None, :, :] - p[:, None, :]
    denom = d[..., 0] * e[..., 1] - d[..., 1] * e[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (w[..., 0] * e[..., 1] - w[..., 1] * e[..., 0]) / denom  # along the step
        u = (w[..., 0] * d[..., 1] - w[..., 1] * d[..., 0]) / denom  # along the edge
    hit = (denom != 0) & (s >= 0) & (s <= 1) & (u >= 0) & (u <= 1)
    s = np.where(hit, s, -1.0).max(axis=1) if len(poly) else np.full(len(p), -1.0)
    return np.where(s >= 0, s, 0.5)
