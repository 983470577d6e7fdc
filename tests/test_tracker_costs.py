"""The tracker's per-frame costs: the solver loads with the tracker, and stages with nothing to
match cost nothing while giving the same tracks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from scenewatch.tracking import Tracker
from scenewatch.tracking import tracker as tracker_module
from scenewatch.types import Detections

_PROBE = """
import sys
import scenewatch.tracking.tracker as tracker
before = "scipy.optimize" in sys.modules
tracker.Tracker()
print(before, "scipy.optimize" in sys.modules)
"""


def test_the_assignment_solver_loads_with_a_tracker_not_in_its_first_frame():
    # importing the tracker (the server does) stays cheap; building one (a camera starting) loads
    # the solver, so the first detected frame does not stall for it
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"], out.stdout + out.stderr


def _walkers(t: float, weak: bool) -> Detections:
    """Two people walking side by side; ``weak``: the second one's box scores under the high score."""
    x = 40.0 * t
    boxes = [[100 + x, 50, 140 + x, 150], [100 + x, 260, 140 + x, 360]]
    return Detections(np.array(boxes, np.float32), np.array([0.9, 0.32 if weak else 0.8], np.float32), [0, 0])


def _run(tracker: Tracker) -> list[tuple[list[int], list[list[float]]]]:
    out = []
    for k in range(40):
        t = k / 5
        tracked = tracker.coast(t) if k % 7 == 6 else tracker.update(_walkers(t, weak=k % 5 == 3), t, k)
        out.append((tracked.track_ids.tolist(), tracked.xyxy.round(3).tolist()))
    return out


def test_stages_with_nothing_to_match_skip_the_solver_and_keep_the_tracks(monkeypatch):
    calls = []
    assign = tracker_module.assign

    def counted(cost, max_cost):
        calls.append(cost.shape)
        return assign(cost, max_cost)

    monkeypatch.setattr(tracker_module, "assign", counted)
    fast = _run(Tracker())
    # weak boxes only on some frames, tentative tracks only at the start: most frames leave a
    # stage with no track or no detection, and the solver is never called for it
    assert calls and all(rows and cols for rows, cols in calls)
    assert len(calls) < 3 * 34
    # both people keep their ids throughout, through the weak boxes and the coasting
    assert [ids for ids, _ in fast[2:]] == [[1, 2]] * 38
