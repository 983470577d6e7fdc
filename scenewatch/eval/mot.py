"""MOTChallenge scoring: load gt.txt and tracker rows, compute MOTA, IDF1, precision, recall, ID switches.

``motmetrics`` (a dev dependency) is the metric engine. Its own IoU helper calls ``np.asfarray``,
gone in NumPy 2, so the distance matrices are computed here and fed to its accumulator frame by frame.
Protocol: ground-truth rows whose 7th field is 0 are ignored objects (too small, or people cut
away by the frame): a tracker box that matches one is neither a hit nor a false positive, as in
MOTChallenge; a match needs IoU >= 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# frame, id, left, top, width, height, score
MotRow = tuple[int, int, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class MotScores:
    mota: float
    idf1: float
    precision: float
    recall: float
    id_switches: int
    frames: int

    def line(self) -> str:
        return (
            f"MOTA {100 * self.mota:5.1f}  IDF1 {100 * self.idf1:5.1f}  precision {100 * self.precision:5.1f}"
            f"  recall {100 * self.recall:5.1f}  ID switches {self.id_switches}"
        )


def load_mot(path: Path, ground_truth: bool = False) -> np.ndarray:
    """[N, 7] float rows (frame, id, left, top, width, height, score) of a MOTChallenge text file.

    For ground truth, rows flagged 0 in the 7th field (ignored objects) are dropped.
    """
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    if ground_truth:
        rows = rows[rows[:, 6] != 0]
    return rows[:, :7]


def load_ignored(path: Path) -> np.ndarray:
    """[N, 7] ground-truth rows flagged 0 in the 7th field: objects a tracker may or may not report."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows[rows[:, 6] == 0][:, :7]


def drop_ignored(gt: np.ndarray, hyp: np.ndarray, ignored: np.ndarray, min_iou: float = 0.5) -> np.ndarray:
    """``hyp`` without the boxes that match an ignored object once every box is assigned one to one
    over the frame's scored and ignored objects together (so a box on a real person is never taken)."""
    from scipy.optimize import linear_sum_assignment

    if len(ignored) == 0 or len(hyp) == 0:
        return hyp
    keep = np.ones(len(hyp), dtype=bool)
    hyp_frames, gt_frames, ig_frames = (a[:, 0].astype(np.int64) for a in (hyp, gt, ignored))
    for frame in np.unique(ig_frames).tolist():
        h_index = np.flatnonzero(hyp_frames == frame)
        if len(h_index) == 0:
            continue
        objects = np.vstack([gt[gt_frames == frame], ignored[ig_frames == frame]])
        n_scored = int((gt_frames == frame).sum())
        cost = iou_distance(objects[:, 2:6], hyp[h_index, 2:6], min_iou)
        rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=2.0))
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if r >= n_scored and not np.isnan(cost[r, c]):
                keep[h_index[c]] = False
    return hyp[keep]


def iou_distance(gt_tlwh: np.ndarray, hyp_tlwh: np.ndarray, min_iou: float = 0.5) -> np.ndarray:
    """[G, H] 1 - IoU, NaN where IoU < ``min_iou`` (motmetrics' marker for "cannot match")."""
    if len(gt_tlwh) == 0 or len(hyp_tlwh) == 0:
        return np.empty((len(gt_tlwh), len(hyp_tlwh)))
    a = np.hstack([gt_tlwh[:, :2], gt_tlwh[:, :2] + gt_tlwh[:, 2:4]])
    b = np.hstack([hyp_tlwh[:, :2], hyp_tlwh[:, :2] + hyp_tlwh[:, 2:4]])
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    union = np.prod(gt_tlwh[:, 2:4], axis=1)[:, None] + np.prod(hyp_tlwh[:, 2:4], axis=1)[None] - inter
    iou = inter / np.maximum(union, 1e-12)
    return np.where(iou >= min_iou, 1.0 - iou, np.nan)


def score_rows(
    gt: np.ndarray,
    hyp: np.ndarray | Sequence[MotRow] | Iterable[MotRow],
    min_iou: float = 0.5,
    ignored: np.ndarray | None = None,
) -> MotScores:
    """Score tracker rows against ground-truth rows (both as from ``load_mot``); boxes on the
    ``ignored`` objects (``load_ignored``) count neither way."""
    import motmetrics as mm  # dev dependency: only needed when measuring

    hyp = np.asarray(list(hyp) if not isinstance(hyp, np.ndarray) else hyp, dtype=np.float64).reshape(-1, 7)
    if ignored is not None:
        hyp = drop_ignored(gt, hyp, ignored, min_iou)
    acc = mm.MOTAccumulator(auto_id=False)
    gt_frames, hyp_frames = gt[:, 0].astype(np.int64), hyp[:, 0].astype(np.int64)
    for frame in np.union1d(gt_frames, hyp_frames).tolist():
        g, h = gt[gt_frames == frame], hyp[hyp_frames == frame]
        acc.update(
            g[:, 1].astype(np.int64),
            h[:, 1].astype(np.int64),
            iou_distance(g[:, 2:6], h[:, 2:6], min_iou),
            frameid=frame,
        )
    names = ["mota", "idf1", "precision", "recall", "num_switches", "num_frames"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="seq")
    values = summary.iloc[0]
    return MotScores(
        float(values["mota"]),
        float(values["idf1"]),
        float(values["precision"]),
        float(values["recall"]),
        int(values["num_switches"]),
        int(values["num_frames"]),
    )


def reference_result(sequence: str) -> Path | None:
    """motmetrics' shipped tracker output for a TUD sequence (its scores are the published reference)."""
    try:
        import motmetrics
    except ImportError:
        return None
    path = Path(motmetrics.__file__).parent / "data" / sequence / "test.txt"
    return path if path.is_file() else None


# motmetrics 1.4.0's test.txt scored against the MOTChallenge gt at IoU 0.5: (MOTA, IDF1).
REFERENCE_SCORES = {"TUD-Campus": (0.526, 0.558), "TUD-Stadtmitte": (0.564, 0.645)}
