"""MOTChallenge's ignored objects: a tracker box on one is neither a hit nor a false positive, and
never takes the place of a box on a scored person."""

from __future__ import annotations

import numpy as np

from scenewatch.eval.mot import drop_ignored, load_ignored, load_mot, score_rows


def _row(frame: int, ident: int, left: float, top: float = 0.0, flag: int = 1) -> list[float]:
    return [frame, ident, left, top, 20.0, 50.0, flag]


def test_a_box_on_an_ignored_object_is_not_a_false_positive(tmp_path):
    path = tmp_path / "gt.txt"
    rows = [_row(f, 1, 100.0) for f in (1, 2)] + [_row(f, 2, 300.0, flag=0) for f in (1, 2)]
    np.savetxt(path, np.array(rows), delimiter=",", fmt="%g")
    gt, ignored = load_mot(path, ground_truth=True), load_ignored(path)
    assert len(gt) == 2 and len(ignored) == 2
    hyp = np.array([_row(f, 7, 101.0) for f in (1, 2)] + [_row(f, 8, 299.0) for f in (1, 2)])

    plain = score_rows(gt, hyp)
    assert plain.precision == 0.5 and plain.mota == 0.0  # two false positives on the ignored person
    protocol = score_rows(gt, hyp, ignored=ignored)
    assert protocol.precision == 1.0 and protocol.mota == 1.0 and protocol.recall == 1.0


def test_a_box_on_a_scored_person_overlapping_an_ignored_one_stays():
    # the ignored object overlaps the scored person; the single box belongs to the person
    gt = np.array([_row(1, 1, 100.0)], dtype=float)
    ignored = np.array([_row(1, 2, 104.0, flag=0)], dtype=float)
    hyp = np.array([_row(1, 5, 101.0)], dtype=float)
    assert len(drop_ignored(gt, hyp, ignored)) == 1
    # a second box, on the ignored object, goes
    both = np.vstack([hyp, np.array([_row(1, 6, 105.0)], dtype=float)])
    kept = drop_ignored(gt, both, ignored)
    assert kept[:, 1].tolist() == [5.0]
