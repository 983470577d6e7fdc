"""Behaviour rules: synthetic trajectories with known answers for every rule type, the geometry
config errors, and events through the real pipeline and CLI (snapshot with the zone drawn)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from conftest import MOT, needs_mot

from scenewatch.config import AppConfig, load_config
from scenewatch.config.camera import CameraConfig
from scenewatch.errors import ConfigError
from scenewatch.geometry import (
    ground_homography,
    points_in_polygon,
    segments_intersect,
    self_intersects,
    to_ground,
)
from scenewatch.model_checks import person_crop
from scenewatch.models import ModelStore
from scenewatch.pipeline import index_file
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.posture import PostureCheck
from scenewatch.rules.store import list_events
from scenewatch.search.engine import search
from scenewatch.store.data import DataStore
from scenewatch.tracking import FinishedTrack
from scenewatch.types import Detections, Frame
from scenewatch.vision.pose import PoseEstimator

SIZE = (640, 480)
PERSON, CAR = 0, 2
SQUARE = [[200, 200], [400, 200], [400, 400], [200, 400]]


def camera(**parts) -> CameraConfig:
    return CameraConfig.model_validate({"name": "cam", "source": {"url": "cam.mp4"}, **parts})


def person_box(x: float, y: float, h: float = 100.0, w: float | None = None) -> list[float]:
    """A box whose bottom-centre is (x, y)."""
    w = h * 0.4 if w is None else w
    return [x - w / 2, y - h, x + w / 2, y]


def simulate(
    config: CameraConfig,
    tracks: dict,
    fps: float = 10.0,
    t0: float = 1_000_000.0,
    posture: PostureCheck | None = None,
    image: np.ndarray | None = None,
) -> list:
    """Run the engine over tracks {id: (class, [(t, box), ...])}; tracks end after their last box.

    Returns every event the engine emits (starts and ends), times relative to ``t0``.
    """
    engine = RuleEngine(config, SIZE, posture)
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8) if image is None else image
    # Every detected frame reaches the engine, also those where nothing is tracked.
    end_time = max(t for _, path in tracks.values() for t, _ in path)
    times = [round(i / fps, 6) for i in range(int(round(end_time * fps)) + 1)]
    last = {tid: max(t for t, _ in path) for tid, (_, path) in tracks.items()}
    out, ended = [], set()
    for index, t in enumerate([*times, times[-1] + 5.0]):
        rows = [
            (tid, cls, box) for tid, (cls, path) in tracks.items() for tt, box in path if abs(tt - t) < 1e-6
        ]
        dets = Detections(
            [r[2] for r in rows] or np.zeros((0, 4)),
            [0.9] * len(rows),
            [r[1] for r in rows],
            [r[0] for r in rows],
        )
        finished = []
        for tid, end in last.items():
            if end < t - 0.5 and tid not in ended:
                ended.add(tid)
                cls, path = tracks[tid]
                finished.append(
                    FinishedTrack(tid, cls, np.array([end + t0]), np.array([0]), np.zeros((1, 4)), np.ones(1))
                )
        frame = Frame(image, "cam", index, t0 + t, t)
        for event in engine.observe(frame, dets, finished):
            event.start -= t0
            event.end = None if event.end is None else event.end - t0
            out.append(event)
    for event in engine.close():
        event.start -= t0
        event.end -= t0
        out.append(event)
    return out


def started(events, rule_type=None):
    return [e for e in events if e.snapshot is not None and (rule_type is None or e.rule_type == rule_type)]


def walk(start, end, t_start, t_end, fps=10.0, h=100.0, w=None):
    """A straight walk of the bottom-centre from ``start`` to ``end``."""
    n = int(round((t_end - t_start) * fps)) + 1
    ts = np.linspace(t_start, t_end, n)
    xs = np.linspace(start[0], end[0], n)
    ys = np.linspace(start[1], end[1], n)
    return [(float(t), person_box(x, y, h, w)) for t, x, y in zip(ts, xs, ys, strict=True)]


# -- geometry -----------------------------------------------------------------------------------


def test_point_in_polygon_matches_opencv():
    rng = np.random.default_rng(1)
    polygon = np.array([[100, 50], [500, 80], [420, 400], [260, 200], [90, 380]], dtype=float)
    points = rng.uniform(0, 600, size=(2000, 2))
    expected = [cv2.pointPolygonTest(polygon.astype(np.float32), tuple(p), False) > 0 for p in points]
    assert points_in_polygon(points, polygon).tolist() == expected


def test_segment_and_self_intersection():
    a, b = np.array([0.0, 0.0]), np.array([10.0, 0.0])
    crosses = segments_intersect(
        np.array([[5, -1], [15, -1], [5, 1]]), np.array([[5, 1], [15, 1], [6, 2]]), a, b
    )
    assert crosses.tolist() == [True, False, False]
    assert self_intersects(np.array([[0, 0], [10, 10], [10, 0], [0, 10]]))  # a bow tie
    assert not self_intersects(np.array(SQUARE))


def test_calibration_gives_metres():
    # A 3.5 m x 20 m lane seen in perspective.
    h = ground_homography(np.array([[300, 400], [380, 400], [350, 200], [320, 200]]), 3.5, 20.0)
    ground = to_ground(np.array([[300, 400], [380, 400], [350, 200]]), h)
    assert np.allclose(ground, [[0, 0], [3.5, 0], [3.5, 20]], atol=1e-3)


# -- zones: inertia, intrusion, schedule, cooldown ------------------------------------------------


def test_inertia_ignores_flicker_and_dates_the_entry():
    config = camera(
        zones=[{"name": "z", "polygon": SQUARE, "inertia": 3}], rules=[{"type": "intrusion", "zone": "z"}]
    )
    # Two frames inside then out again (border flicker), later a real entry at t=2.0.
    path = [(0.0, person_box(150, 300)), (0.1, person_box(210, 300)), (0.2, person_box(210, 300))]
    path += [(0.3 + i / 10, person_box(150, 300)) for i in range(10)]
    path += [(2.0 + i / 10, person_box(300, 300)) for i in range(10)]
    events = started(simulate(config, {1: (PERSON, path)}))
    assert len(events) == 1
    # Unseen from 1.2 (x=150) to 2.0 (x=300): the border (x=200) was crossed a third of the way.
    assert events[0].start == pytest.approx(1.2 + 0.8 / 3)


def test_intrusion_filters_classes_and_ends_when_leaving():
    config = camera(zones=[{"name": "z", "polygon": SQUARE}], rules=[{"type": "intrusion", "zone": "z"}])
    tracks = {1: (PERSON, walk((100, 300), (500, 300), 0, 4)), 2: (CAR, walk((100, 310), (500, 310), 0, 4))}
    events = simulate(config, tracks)
    assert [e.track_ids for e in started(events)] == [[1]]
    end = [e for e in events if e.end is not None][-1]
    assert end.start == pytest.approx(1.0, abs=0.11) and end.end == pytest.approx(3.0, abs=0.11)


def test_schedule_arms_the_rule_only_inside_its_window():
    t0 = datetime(2024, 5, 6, 23, 0, tzinfo=UTC).timestamp()  # a Monday, 23:00 UTC
    rules = [
        {"type": "intrusion", "zone": "z", "schedule": {"windows": [{"start": "22:00", "end": "06:00"}]}}
    ]
    config = camera(zones=[{"name": "z", "polygon": SQUARE}], rules=rules)
    tracks = {1: (PERSON, walk((100, 300), (500, 300), 0, 4))}
    assert len(started(simulate(config, tracks, t0=t0))) == 1
    assert len(started(simulate(config, tracks, t0=t0 - 12 * 3600))) == 0  # 11:00: unarmed


def test_cooldown_gives_one_alert_for_one_situation():
    rules = [{"type": "intrusion", "zone": "z", "cooldown_s": 10}]
    config = camera(zones=[{"name": "z", "polygon": SQUARE, "inertia": 1}], rules=rules)
    # In, out for 2 s, in again: one event; then out for 15 s and in again: a second one.
    path = (
        walk((300, 300), (300, 300), 0, 1)
        + walk((100, 300), (100, 300), 1.1, 3)
        + walk((300, 300), (300, 300), 3.1, 4)
    )
    path += walk((100, 300), (100, 300), 4.1, 19) + walk((300, 300), (300, 300), 19.1, 20)
    events = started(simulate(config, {1: (PERSON, path)}))
    assert [round(e.start, 1) for e in events] == [0.0, 19.1]


# -- loitering, crowd, build-up ------------------------------------------------------------------


def test_loitering_only_past_the_time():
    rules = [{"type": "loitering", "zone": "z", "time_s": 5}]
    config = camera(zones=[{"name": "z", "polygon": SQUARE}], rules=rules)
    stays = {
        1: (PERSON, walk((250, 300), (350, 300), 0, 8)),  # 8 s inside: loiters
        2: (PERSON, walk((250, 250), (350, 250), 0, 3)),  # 3 s: passes
    }
    events = simulate(config, stays)
    assert [e.track_ids for e in started(events)] == [[1]]
    done = [e for e in events if e.end is not None]
    assert done[0].start == pytest.approx(0.0) and done[0].detail["dwell_s"] >= 7.5


def test_crowd_reaches_count_and_holds():
    rules = [{"type": "crowd", "zone": "z", "count": 3, "time_s": 2}]
    config = camera(zones=[{"name": "z", "polygon": SQUARE, "inertia": 1}], rules=rules)
    people = {i: (PERSON, walk((250 + 20 * i, 300), (250 + 20 * i, 300), i, 10)) for i in range(1, 4)}
    events = simulate(config, people)
    assert len(started(events, "crowd")) == 1
    assert started(events)[0].start == pytest.approx(3.0)  # the third arrives at 3 s
    # Only two people: never a crowd.
    assert not started(simulate(config, {i: people[i] for i in (1, 2)}))


def test_crowd_buildup_fires_on_a_fast_rise_only():
    rules = [{"type": "crowd_buildup", "zone": "z", "rise": 3, "within_s": 2}]
    config = camera(zones=[{"name": "z", "polygon": SQUARE, "inertia": 1}], rules=rules)
    fast = {i: (PERSON, walk((220 + 30 * i, 300), (220 + 30 * i, 300), 5 + 0.3 * i, 12)) for i in range(3)}
    slow = {i: (PERSON, walk((220 + 30 * i, 300), (220 + 30 * i, 300), 5 + 3 * i, 12)) for i in range(3)}
    events = started(simulate(config, fast))
    assert len(events) == 1 and events[0].start == pytest.approx(5.6)
    assert not started(simulate(config, slow))


# -- lines ---------------------------------------------------------------------------------------

LINE = {"name": "door", "a": [300, 100], "b": [300, 450], "positive": "eastbound", "negative": "westbound",
        "positive_side": "left"}  # fmt: skip
# Looking from a (top) to b (bottom) on screen, the left side is x > 300: east.


def test_line_crossing_counts_both_directions_within_the_segment():
    config = camera(lines=[LINE], rules=[{"type": "line_crossing", "line": "door"}])
    tracks = {
        1: (PERSON, walk((100, 300), (500, 300), 0, 4)),  # east
        2: (PERSON, walk((500, 350), (100, 350), 0, 4)),  # west
        3: (PERSON, walk((100, 470), (500, 470), 0, 4)),  # below the end of the line: no crossing
    }
    events = started(simulate(config, tracks))
    assert sorted((e.track_ids[0], e.detail["direction"]) for e in events) == [
        (1, "eastbound"),
        (2, "westbound"),
    ]
    assert all(e.start == pytest.approx(2.0, abs=0.11) for e in events)
    assert events[-1].detail["counts"] == {"eastbound": 1, "westbound": 1}


def test_wrong_way_is_a_crossing_against_the_allowed_direction():
    config = camera(lines=[LINE], rules=[{"type": "wrong_way", "line": "door", "allowed": "eastbound"}])
    tracks = {
        1: (CAR, walk((100, 300), (500, 300), 0, 2, w=60, h=40)),
        2: (CAR, walk((500, 200), (100, 200), 0, 2, w=60, h=40)),
    }
    events = started(simulate(config, tracks))
    assert [(e.track_ids, e.detail["direction"]) for e in events] == [([2], "westbound")]


def test_wrong_way_needs_travel_against_the_traffic_not_jitter_on_the_line():
    """A car waiting on the line whose box jitters a few pixels back and forth (as small distant
    boxes do) crosses it both ways, but never drives the wrong way."""
    config = camera(lines=[LINE], rules=[{"type": "wrong_way", "line": "door", "allowed": "eastbound"}])
    x_line = LINE["a"][0]
    jitter = [(i / 10, person_box(x_line + (6 if i % 8 < 4 else -6), 250, 40, 60)) for i in range(60)]
    assert not started(simulate(config, {1: (CAR, jitter)}))
    # The same car then waits east of the line and really reverses against the traffic: one
    # event, dated where it crossed (x = 300 at 7.0 + 16/100 s), though confirmed 20 px later.
    wait = [(6.0 + i / 10, person_box(x_line + 16, 250, 40, 60)) for i in range(1, 10)]
    reverse = walk((x_line + 16, 250), (x_line - 184, 250), 7.0, 9.0, w=60, h=40)
    events = started(simulate(config, {1: (CAR, jitter + wait + reverse)}))
    assert [e.detail["direction"] for e in events] == ["westbound"]
    assert events[0].start == pytest.approx(7.16, abs=0.15)


# -- occlusions and id switches (what the real tracker does to the rules) --------------------------


def gap(path, t0, t1):
    """The path without its samples strictly between t0 and t1 (the detector missed the object)."""
    return [(t, box) for t, box in path if not t0 < t < t1]


def test_entry_during_a_detection_gap_is_dated_on_the_path_and_not_held_back():
    # Walks x = 100 + 100 t into the square (border x = 200 at t = 1.0); unseen from 0.5 to 1.5.
    config = camera(
        zones=[{"name": "yard", "polygon": SQUARE, "inertia": 3}],
        rules=[{"type": "intrusion", "zone": "yard"}],
    )
    events = started(simulate(config, {1: (PERSON, gap(walk((100, 300), (300, 300), 0, 2), 0.5, 1.5))}))
    assert len(events) == 1
    assert events[0].start == pytest.approx(1.0, abs=0.05)  # not 1.5, when it was seen again
    box = events[0].detail["box"]
    assert (box[0] + box[2]) / 2 == pytest.approx(250, abs=1)  # fired on sight, not 3 frames later


def test_line_crossing_during_a_detection_gap_is_dated_on_the_path_and_not_held_back():
    config = camera(lines=[LINE], rules=[{"type": "line_crossing", "line": "door"}])
    path = gap(walk((100, 300), (500, 300), 0, 4), 1.5, 2.5)  # crosses x = 300 at t = 2.0, unseen
    events = started(simulate(config, {1: (PERSON, path)}))
    assert [e.detail["direction"] for e in events] == ["eastbound"]
    assert events[0].start == pytest.approx(2.0, abs=0.05)
    box = events[0].detail["box"]
    assert (box[0] + box[2]) / 2 == pytest.approx(350, abs=1)


def test_a_new_id_where_a_lost_track_went_continues_it():
    zone = {"name": "yard", "polygon": SQUARE, "inertia": 3}
    config = camera(
        zones=[zone],
        lines=[LINE],
        rules=[{"type": "intrusion", "zone": "yard"}, {"type": "line_crossing", "line": "door"}],
    )
    path = walk((100, 300), (500, 300), 0, 4)
    # The tracker loses id 1 at t = 1.5 (x = 250) and starts id 2 on the same person at t = 1.9.
    tracks = {1: (PERSON, [p for p in path if p[0] <= 1.5]), 2: (PERSON, [p for p in path if p[0] >= 1.9])}
    events = started(simulate(config, tracks))
    assert [(e.rule_type, e.track_ids) for e in events] == [("intrusion", [1]), ("line_crossing", [1])]
    assert events[1].start == pytest.approx(2.0, abs=0.11)
    ends = [e for e in simulate(config, tracks) if e.snapshot is None and e.rule_type == "intrusion"]
    assert len(ends) == 1 and ends[0].end == pytest.approx(3.0, abs=0.11)  # left the yard at x = 400


def test_a_new_id_far_from_any_lost_track_is_a_new_object():
    config = camera(
        zones=[{"name": "yard", "polygon": SQUARE, "inertia": 3}],
        rules=[{"type": "intrusion", "zone": "yard"}],
    )
    tracks = {
        1: (PERSON, walk((100, 300), (250, 300), 0, 1.5)),
        2: (PERSON, walk((390, 250), (380, 250), 1.9, 3)),  # another person, 100 px from where 1 was going
    }
    events = started(simulate(config, tracks))
    assert sorted(e.track_ids[0] for e in events) == [1, 2]


def test_one_object_split_into_two_ids_at_the_line_counts_once():
    config = camera(lines=[LINE], rules=[{"type": "line_crossing", "line": "door"}])
    tracks = {
        1: (PERSON, walk((100, 300), (500, 300), 0, 4)),
        2: (PERSON, walk((102, 302), (502, 302), 0, 4)),  # a duplicate id on the same person
        3: (PERSON, walk((100, 150), (500, 150), 0, 4)),  # someone else crossing at the same time
    }
    events = started(simulate(config, tracks))
    assert sorted(e.track_ids[0] for e in events) in ([1, 3], [2, 3])


# -- motion --------------------------------------------------------------------------------------

LANE = {"points": [[280, 450], [360, 450], [340, 50], [300, 50]], "width_m": 4.0, "length_m": 40.0}


def test_speeding_in_kmh_with_calibration():
    config = camera(calibration=LANE, rules=[{"type": "speeding", "max_kmh": 60}])
    # 40 m of lane in 400 px of image along the middle (homography: not linear; the answer is in metres).
    h = ground_homography(np.array(LANE["points"]), 4.0, 40.0)
    inv = np.linalg.inv(h)

    def drive(kmh, tid):
        ts = np.arange(0, 2.0, 0.1)
        ground = np.stack([np.full_like(ts, 2.0), 2 + ts * kmh / 3.6], axis=1)
        pix = to_ground(ground, inv)
        return tid, (
            CAR,
            [(float(t), [x - 20, y - 15, x + 20, y]) for t, (x, y) in zip(ts, pix, strict=True)],
        )

    events = started(simulate(config, dict([drive(90, 1), drive(40, 2)])))
    assert [e.track_ids for e in events] == [[1]]
    assert events[0].detail["value"] == pytest.approx(90, rel=0.03)
    assert events[0].detail["unit"] == "km/h"


def test_speeding_in_pixels_per_second():
    config = camera(rules=[{"type": "speeding", "max_px_s": 150}])
    tracks = {
        1: (CAR, walk((100, 300), (500, 300), 0, 2, w=60, h=40)),
        2: (CAR, walk((100, 200), (300, 200), 0, 2, w=60, h=40)),
    }
    assert [e.track_ids for e in started(simulate(config, tracks))] == [[1]]


def test_running_in_own_heights_per_second():
    config = camera(rules=[{"type": "running", "min_heights_s": 1.8}])
    tracks = {
        1: (PERSON, walk((50, 300), (600, 300), 0, 2.5, h=100)),  # 220 px/s = 2.2 heights/s
        2: (PERSON, walk((50, 420), (400, 420), 0, 4, h=100)),  # 0.9 heights/s: walking
    }
    assert [e.track_ids for e in started(simulate(config, tracks))] == [[1]]


def test_erratic_swerving_but_not_a_lane_change():
    config = camera(rules=[{"type": "erratic", "turn_deg": 25, "min_turns": 3, "within_s": 4}])
    ts = np.arange(0, 4.0, 0.1)
    x = 50 + 120 * ts
    swerve = 300 + 40 * np.sign(np.sin(2 * np.pi * ts / 1.2)) * np.minimum(
        1, np.abs(np.sin(2 * np.pi * ts / 1.2)) * 3
    )
    lane = 300 + 40 * np.clip((ts - 1.5) / 1.0, 0, 1)
    box = lambda px, py: [px - 30, py - 30, px + 30, py]  # noqa: E731
    tracks = {
        1: (CAR, [(float(t), box(a, b)) for t, a, b in zip(ts, x, swerve, strict=True)]),
        2: (CAR, [(float(t), box(a, b + 100)) for t, a, b in zip(ts, x, lane, strict=True)]),
    }
    assert [e.track_ids for e in started(simulate(config, tracks))] == [[1]]


def test_stopped_vehicle_in_the_zone_after_the_time():
    rules = [{"type": "stopped_vehicle", "zone": "road", "time_s": 5}]
    config = camera(zones=[{"name": "road", "polygon": SQUARE}], rules=rules)
    jitter = np.random.default_rng(0).normal(0, 1.5, size=(100, 2))
    parked_in = [(i / 10, [280 + j[0], 270 + j[1], 340 + j[0], 300 + j[1]]) for i, j in enumerate(jitter)]
    parked_out = [(i / 10, [480, 270, 540, 300]) for i in range(100)]  # outside the zone: allowed
    passing = walk((100, 350), (600, 350), 0, 5, w=60, h=30)
    events = started(simulate(config, {1: (CAR, parked_in), 2: (CAR, parked_out), 3: (CAR, passing)}))
    assert [e.track_ids for e in events] == [[1]]
    assert events[0].start == pytest.approx(0.0, abs=0.25)  # zone inertia: in from the 3rd frame


def test_a_stopped_vehicle_stays_stopped_through_one_frame_box_jumps_and_ends_when_it_moves_on():
    """In traffic a passing car merges with a stopped car's box for a frame now and then; the
    stop goes on (with ``leave_s``). When it drives off, the event ends where it first moved."""
    rules = [{"type": "stopped_vehicle", "zone": "road", "time_s": 5, "leave_s": 0.5}]
    config = camera(zones=[{"name": "road", "polygon": SQUARE}], rules=rules)
    still = [280, 270, 340, 300]
    merged = [280, 270, 380, 300]  # one frame: bottom centre 20 px (over 0.25 of 60) to the right
    jumps = {12, 25, 38, 46}  # every 0.8-1.3 s: no 5 s without one
    parked = [(i / 10, merged if i in jumps else still) for i in range(70)]
    leaving = [(7.0 + i / 10, [280 + 15 * i, 270, 340 + 15 * i, 300]) for i in range(1, 6)]
    events = simulate(config, {1: (CAR, parked + leaving)})
    begun = started(events)
    assert [e.track_ids for e in begun] == [[1]]
    assert begun[0].start == pytest.approx(0.0, abs=0.25)
    ended = [e for e in events if e.end is not None]
    assert len(ended) == 1 and ended[0].end == pytest.approx(7.1, abs=0.15)


def test_person_down_after_a_fall_and_not_after_getting_up():
    config = camera(rules=[{"type": "person_down", "time_s": 3}])
    standing = [(i / 10, person_box(300, 400, 160, 60)) for i in range(20)]
    falling = [(2.0 + i / 10, person_box(300, 400, 160 - 25 * i, 60 + 20 * i)) for i in range(1, 5)]
    lying = [(2.5 + i / 10, person_box(300, 400, 60, 150)) for i in range(60)]
    up_again = [(2.5 + i / 10, person_box(300, 400, 60, 150)) for i in range(15)]
    up_again += [(4.0 + i / 10, person_box(300, 400, 160, 60)) for i in range(40)]
    events = started(simulate(config, {1: (PERSON, standing + falling + lying)}))
    assert len(events) == 1 and events[0].start == pytest.approx(1.9, abs=0.2)
    assert not started(simulate(config, {1: (PERSON, standing + falling + up_again)}))


def test_person_down_pose_clears_an_upright_person_and_confirms_a_lying_one():
    """A real person (vtest.avi) in a box wider than tall: the torso decides. Upright in a wide box
    (a bike, a bag, two people merged) is no event; the same person turned on their side is."""
    posture = PostureCheck(PoseEstimator(ModelStore().path("movenet-multipose.onnx"), size=192, threads=1))
    config = camera(rules=[{"type": "person_down", "time_s": 1}])
    for person, expected in [
        (person_crop(), []),
        (cv2.rotate(person_crop(), cv2.ROTATE_90_CLOCKWISE), ["lying"]),
    ]:
        image = np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)
        height, width = person.shape[:2]
        image[300 : 300 + height, 250 : 250 + width] = person
        # The box is wider than tall either way (lying by aspect), with the person at its centre.
        box = [250 - 0.3 * width, 300, 250 + 1.3 * width, 300 + height]
        path = [(i / 10, box) for i in range(30)]
        events = started(simulate(config, {1: (PERSON, path)}, posture=posture, image=image))
        assert [e.detail["pose"] for e in events] == expected


# -- config errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"zones": [{"name": "z", "polygon": [[0, 0], [10, 0]]}]}, "at least 3 points"),
        ({"zones": [{"name": "z", "polygon": [[0, 0], [10, 10], [10, 0], [0, 10]]}]}, "crosses itself"),
        ({"lines": [{"name": "l", "a": [5, 5], "b": [5, 5]}]}, "zero length"),
        ({"rules": [{"type": "loitering", "zone": "nowhere", "time_s": 3}]}, "unknown zone 'nowhere'"),
        ({"rules": [{"type": "line_crossing", "line": "gate"}]}, "unknown line 'gate'"),
        (
            {
                "zones": [{"name": "z", "polygon": SQUARE}],
                "rules": [{"type": "intrusion", "zone": "z", "classes": ["dragon"]}],
            },
            "unknown object class 'dragon'",
        ),
        ({"rules": [{"type": "speeding", "max_kmh": 50}]}, "add a `calibration:`"),
        ({"rules": [{"type": "teleport"}]}, "teleport"),
        ({"rules": [{"type": "speeding"}]}, "exactly one of max_kmh or max_px_s"),
    ],
)
def test_bad_geometry_and_rules_are_clear_errors_at_load(tmp_path, parts, message):
    text = json.dumps({"cameras": [{"name": "cam", "source": {"url": "cam.mp4"}, **parts}]})
    path = tmp_path / "config.yaml"
    path.write_text(text)  # JSON is YAML
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert str(path) in str(error.value)


def test_geometry_outside_the_frame_is_refused_at_camera_start():
    config = camera(
        zones=[{"name": "far", "polygon": [[0, 0], [900, 0], [900, 100]]}],
        rules=[{"type": "intrusion", "zone": "far"}],
    )
    with pytest.raises(ConfigError, match="camera 'cam': zone 'far' has point .* outside the 640x480 frame"):
        RuleEngine(config, SIZE)


# -- the real pipeline and CLI -------------------------------------------------------------------

STADTMITTE = MOT / "TUD-Stadtmitte" / "TUD-Stadtmitte.mp4"


@needs_mot
def test_events_through_pipeline_and_cli(run_cli, tmp_path):
    config = tmp_path / "rules.yaml"
    config.write_text(
        f"""
cameras:
  - name: street
    source: {{url: {STADTMITTE}}}
    zones:
      - {{name: left, polygon: [[0, 220], [300, 220], [300, 340], [0, 340]]}}
    lines:
      - {{name: mid, a: [330, 200], b: [330, 360], positive: east, negative: west, positive_side: left}}
    rules:
      - {{type: intrusion, zone: left}}
      - {{type: line_crossing, line: mid, cooldown_s: 5}}
"""
    )
    done = run_cli("index", str(STADTMITTE), "--camera", "street", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    listed = run_cli("events", "list", "--camera", "street", "--json")
    events = json.loads(listed.stdout)
    assert {e["rule_type"] for e in events} == {"intrusion", "line_crossing"}
    crossing = next(e for e in events if e["rule_type"] == "line_crossing")
    assert crossing["detail"]["direction"] in ("east", "west")
    assert crossing["clip"]["path"] == str(STADTMITTE)
    shown = json.loads(run_cli("events", "show", str(events[-1]["id"]), "--json").stdout)
    snapshot = cv2.imread(shown["snapshot_file"])
    assert snapshot.shape == (480, 640, 3)
    # The zone is drawn: its border pixels are amber (0, 200, 255 BGR), in the original they are not.
    border = snapshot[219:222, 50:250].reshape(-1, 3).astype(int)
    assert np.mean(np.abs(border - [0, 200, 255]).sum(axis=1) < 90) > 0.5
    assert shown["end_ts"] is not None  # ended by the end of the file at the latest
    text = run_cli("events", "list").stdout
    assert "intrusion-left" in text and "new" in text
    acked = run_cli("events", "ack", str(shown["id"]))
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    assert (
        json.loads(run_cli("events", "list", "--state", "acknowledged", "--json").stdout)[0]["id"]
        == shown["id"]
    )
    assert run_cli("events", "resolve", str(shown["id"])).returncode == 0
    missing = run_cli("events", "show", "9999")
    assert missing.returncode != 0 and "no event with id 9999" in missing.stderr


@needs_mot
def test_zone_outside_the_video_fails_before_any_write(run_cli, tmp_path):
    config = tmp_path / "rules.yaml"
    config.write_text(
        f"""
cameras:
  - name: street
    source: {{url: {STADTMITTE}}}
    zones: [{{name: big, polygon: [[0, 0], [1000, 0], [1000, 700]]}}]
    rules: [{{type: intrusion, zone: big}}]
"""
    )
    done = run_cli("index", str(STADTMITTE), "--camera", "street", "--config", str(config))
    assert done.returncode != 0
    assert "camera 'street': zone 'big'" in done.stderr and "640x480" in done.stderr
    assert not (run_cli.data / "media" / "events").exists()


@needs_mot
def test_standing_searches_alert_on_the_tracks_the_search_finds(tmp_path):
    """A search saved as a rule fires on exactly the tracks that search ranks above its min_score,
    in English and Chinese alike, with the track's thumbnail, score and reasons."""
    rules = [
        {"type": "search", "name": "dark-top", "query": "a person in a dark top", "min_score": 0.5},
        {"type": "search", "name": "dark-top-zh", "query": "穿深色上衣的人", "min_score": 0.5},
        {"type": "search", "name": "red-car", "query": "a red car", "min_score": 0.5},
        {"type": "search", "name": "anyone", "query": "a person", "cooldown_s": 3600},
    ]
    settings = AppConfig.model_validate(
        {"cameras": [{"name": "street", "source": {"url": str(STADTMITTE)}, "rules": rules}]}
    )
    store = DataStore.open(tmp_path / "data")
    index_file(store, settings, STADTMITTE, "street")
    fired: dict[str, set[int]] = {}
    for event in list_events(store.engine, limit=1000):
        assert event["rule_type"] == "search" and event["snapshot"]
        assert (store.media.root / event["snapshot"]).is_file()
        assert event["detail"]["score"] >= 0.5 and event["detail"]["reasons"]
        fired.setdefault(event["rule"], set()).add(event["detail"]["track"])
    # a standing search alerts on each track, so it is compared with the search's tracks, not with
    # the walks it groups them into for the results page
    found = search(store, "a person in a dark top", limit=100, group=False)
    expected = {hit.track_id for hit in found.results if hit.score >= 0.5}
    assert expected, "TUD-Stadtmitte has people in dark tops"
    assert fired.get("dark-top") == expected
    assert fired.get("dark-top-zh") == expected
    assert "red-car" not in fired
    assert len(fired["anyone"]) == 1  # the cooldown holds back the others
