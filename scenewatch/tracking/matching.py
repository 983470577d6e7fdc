"""Pure geometry for association: pairwise costs, gates and the optimal assignment."""

from __future__ import annotations

import numpy as np

from scenewatch.vision.labels import class_id, coco_names


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, M] IoU of xyxy boxes ``a`` [N, 4] and ``b`` [M, 4]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def box_cost(tracks: np.ndarray, dets: np.ndarray, centre_weight: float) -> np.ndarray:
    """1 - IoU plus the squared centre distance over the enclosing box's diagonal (DIoU).

    The distance term keeps a fast or long-occluded object matchable when its predicted box no
    longer overlaps the detection, and breaks ties between overlapping neighbours.
    """
    cost = 1.0 - iou_matrix(tracks, dets)
    if centre_weight and cost.size:
        centre_t = (tracks[:, :2] + tracks[:, 2:]) / 2
        centre_d = (dets[:, :2] + dets[:, 2:]) / 2
        dist2 = np.sum((centre_t[:, None] - centre_d[None]) ** 2, axis=2)
        outer = np.maximum(tracks[:, None, 2:], dets[None, :, 2:]) - np.minimum(
            tracks[:, None, :2], dets[None, :, :2]
        )
        diag2 = np.maximum(np.sum(outer**2, axis=2), 1e-9)
        cost = cost + centre_weight * dist2 / diag2
    return cost


def size_gate(tracks: np.ndarray, dets: np.ndarray, max_ratio: float) -> np.ndarray:
    """[N, M] True where the heights differ by no more than ``max_ratio`` (either way)."""
    h_t = np.maximum(tracks[:, 3] - tracks[:, 1], 1.0)
    h_d = np.maximum(dets[:, 3] - dets[:, 1], 1.0)
    ratio = np.abs(np.log(h_t[:, None] / h_d[None, :]))
    return ratio <= np.log(max_ratio)


# A track lost this long (the default join window) is found again only in a box not much taller
# than its last one (``TrackerConfig.lost_max_growth``).
LONG_LOST_S = 1.0


def grown(tracks: np.ndarray, dets: np.ndarray, max_ratio: float) -> np.ndarray:
    """[N, M] True where a detection is taller than the track's box by more than ``max_ratio``."""
    h_t = np.maximum(tracks[:, 3] - tracks[:, 1], 1.0)
    h_d = np.maximum(dets[:, 3] - dets[:, 1], 1.0)
    return h_d[None, :] > max_ratio * h_t[:, None]


def lone_or_within(cost: np.ndarray, max_cost: float, limit: np.ndarray) -> np.ndarray:
    """[N, M] admissible pairs: those within ``max_cost``, and those within their track's wider
    ``limit`` [N] where neither has another candidate within the limits (a person sampled sparsely
    strays farther from the prediction; in a group a wider gate would hand a box to a neighbour)."""
    within = cost <= limit[:, None]
    lone = (within.sum(axis=1) == 1)[:, None] & (within.sum(axis=0) == 1)[None, :]
    return (cost <= max_cost) | (within & lone)


def sparse_gate(
    cost: np.ndarray, gate: np.ndarray, gap_s: np.ndarray, max_cost: float, per_s: float, cap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """``cost`` [N, M] with inadmissible pairs set to inf, and each track's cost limit [N]: a track
    matched by the last update, ``gap_s`` ago (0 for a lost one), may stray the farther from its
    prediction the longer ago that was (sparse detection), by ``per_s`` a second up to ``cap_s``."""
    limit = max_cost + per_s * np.minimum(gap_s, cap_s)
    cost = np.where(gate, cost, np.inf)
    return np.where(lone_or_within(cost, max_cost, limit), cost, np.inf), limit


def load_solver() -> None:
    """Load the assignment solver now (a tracker's construction), not in the first frame that
    matches: scipy.optimize takes a second to load. Not at import: the server process imports
    the tracker's types but never tracks, and should not pay for it at start."""
    import scipy.optimize  # noqa: F401


def assign(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching; pairs above ``max_cost`` (or gated to inf) are left unmatched.

    Returns index arrays ``(rows, cols)`` of the accepted pairs.
    """
    from scipy.optimize import linear_sum_assignment  # loaded by load_solver: a lookup here

    if cost.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    # Forbidden pairs get a finite cost above the threshold so the solver never needs them.
    bounded = np.where(np.isfinite(cost), np.minimum(cost, max_cost + 1.0), max_cost + 1.0)
    rows, cols = linear_sum_assignment(bounded)
    keep = bounded[rows, cols] <= max_cost
    return rows[keep], cols[keep]


def group_nms(xyxy: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept after greedy NMS within each class group (a car also reported as a truck)."""
    n = len(scores)
    if n < 2 or iou >= 1.0:
        return np.arange(n)
    order = np.argsort(-scores, kind="stable")
    overlap = iou_matrix(xyxy[order], xyxy[order])
    same = groups[order][:, None] == groups[order][None, :]
    # Box j is suppressed by any higher-scored box i of its group; resolve greedily because a
    # suppressed box must not suppress others.
    suppresses = np.triu((overlap > iou) & same, k=1)
    keep = np.ones(n, dtype=bool)
    for i in np.flatnonzero(suppresses.any(axis=1)):  # only boxes that overlap something
        if keep[i]:
            keep[suppresses[i]] = False
    return np.sort(order[keep])


# A new box within reach of a lost one is within this factor of its height, either way (see
# ``within_reach``; people are held to ``TrackerConfig.lost_max_growth`` upwards).
REACH_RATIO = 2.0


def within_reach(
    last: np.ndarray,
    velocity: np.ndarray,
    gap: np.ndarray,
    first: np.ndarray,
    speed: float,
    max_growth: float = REACH_RATIO,
) -> np.ndarray:
    """[N] True where box ``first`` [4] lies where tracks last seen at ``last`` [N, 4] (xyxy), moving
    at ``velocity`` [N, 2] pixels a second, could be after ``gap`` [N] seconds: its centre within
    half a box height plus ``speed`` heights a second of the gap of the extrapolated centre, in the
    smaller of the two boxes' heights, and its height at least half the lost box's (legs hidden
    behind someone) and at most ``max_growth`` times it (taller is someone nearer the camera)."""
    height = np.maximum(last[:, 3] - last[:, 1], 1.0)
    first_height = max(float(first[3] - first[1]), 1.0)
    centre = (last[:, :2] + last[:, 2:]) / 2 + velocity * gap[:, None]
    off = np.hypot(*(((first[:2] + first[2:]) / 2 - centre).T))
    # A large lost box (near, or two people merged) must not reach a small person appearing far
    # off its path by its own scale: a man walking out of the picture took the id of one re-found
    # behind him
    unit = np.minimum(height, first_height)
    return (
        (off <= unit * (0.5 + speed * gap))
        & (first_height >= height / REACH_RATIO)
        & (first_height <= max_growth * height)
    )


def ambiguity_cost(
    cost: np.ndarray,
    track_looks: np.ndarray,
    has_look: np.ndarray,
    det_looks: np.ndarray,
    weight: float,
    det_clean: np.ndarray | None = None,
) -> np.ndarray:
    """``cost`` [N, M] (inf where inadmissible) with ``weight`` times the colour dissimilarity added
    where motion alone is ambiguous: to the admissible pairs of a track with more than one admissible
    detection, or of a detection more than one track could take (people crossing). A track without
    a look yet (``has_look`` [N] False) or a lone candidate keeps its motion cost, so the look never
    decides alone and never stops a match; nor does a detection outside ``det_clean`` [M] (a box
    another overlaps: its pixels mix two people)."""
    from scenewatch.tracking.appearance import similarity

    ok = np.isfinite(cost) & has_look[:, None]
    ambiguous = ok & ((ok.sum(axis=1) > 1)[:, None] | (ok.sum(axis=0) > 1)[None, :])
    if det_clean is not None:  # a box another overlaps mixes two people's colours: motion decides
        ambiguous &= det_clean[None, :]
    if not ambiguous.any():
        return cost
    return np.where(ambiguous, cost + weight * (1.0 - similarity(track_looks, det_looks)), cost)


def class_group_table(groups: list[list[str]]) -> np.ndarray:
    """COCO index -> group number; a class in no group gets a group of its own."""
    n = len(coco_names())
    table = np.arange(n) + len(groups)
    for number, names in enumerate(groups):
        for name in names:
            table[class_id(name)] = number
    return table
