"""Rules date what they see from a track's first detection, not from when the tracker first reported
it: a person standing still since the camera started (held by the static-background check until
the picture vouches for them), a crowd of such people, someone the tracker confirmed only after
they had crossed a line."""

from __future__ import annotations

import numpy as np
import pytest

from scenewatch.config import CameraConfig
from scenewatch.config.tracker import TrackerConfig
from scenewatch.rules.engine import RuleEngine
from scenewatch.tracking import Tracker
from scenewatch.types import Detections, Frame

FPS = 5.0
PERSON = 0
SIZE = (640, 480)
BLANK = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
ZONE = {"name": "hall", "polygon": [[200, 200], [500, 200], [500, 450], [200, 450]], "inertia": 3}
DOOR = {"name": "door", "a": [300, 100], "b": [300, 450], "positive": "east", "negative": "west"}


def camera(rules: list[dict], lines: list[dict] | None = None) -> CameraConfig:
    return CameraConfig.model_validate(
        {"name": "hall", "source": {"url": "hall.mp4"}, "zones": [ZONE], "lines": lines or [], "rules": rules}
    )


def standing(x: float, y: float, t: float, h: float = 100.0) -> list[float]:
    """A standing person's box, feet at (x, y), swaying a pixel or two."""
    sway = np.sin(3 * t)
    return [x - 20 + sway, y - h + sway, x + 20 + sway, y]


def weak_until(seconds: float):
    """Detection scores of an object seen weakly until ``seconds``: below ``CAREFUL``'s confirm
    score, so the tracker keeps its track but reports it only once its median score is enough."""
    return lambda t: 0.45 if t < seconds else 0.6


# A camera that wants more evidence of a person than the detector's first-stage score.
CAREFUL = TrackerConfig(static_classes=["person"], class_confirm_score={"person": 0.5})


def run(
    config: CameraConfig, seconds: float, boxes, vouch_at: float | None, births: bool, score=None
) -> list:
    """The real tracker (people held while static) and the rule engine over ``seconds`` of frames
    with ``boxes(t)`` detected at ``score(t)`` (0.6); the held tracks are vouched for at
    ``vouch_at`` (the pose check's skeleton). ``births``: the engine asks the tracker for each new
    track's detections before it was reported."""
    tracker = Tracker(CAREFUL)
    first_seen = tracker.sightings if births else None
    engine = RuleEngine(config, SIZE, first_seen=first_seen)
    events = []
    for i in range(int(seconds * FPS) + 1):
        t = i / FPS
        rows = boxes(t)
        scores = [0.6 if score is None else score(t)] * len(rows)
        dets = Detections(np.array(rows, np.float64).reshape(-1, 4), scores, [PERSON] * len(rows))
        out = tracker.update(dets, t, i)
        if vouch_at is not None and t >= vouch_at:
            held = tracker.held()[0]
            if len(held):
                out = Detections.concat([out, tracker.vouch(held.tolist())])
        events += engine.observe(Frame(BLANK, "hall", i, t, t), out, tracker.finished)
    return events + engine.close()


def starts(events: list, rule_type: str) -> list:
    return [e for e in events if e.snapshot is not None and e.rule_type == rule_type]


LOITER = [{"type": "loitering", "zone": "hall", "time_s": 5, "cooldown_s": 0}]


def test_a_held_track_is_handed_over_with_its_detections_so_far():
    tracker = Tracker(TrackerConfig(static_classes=["person"]))
    for i in range(10):
        t = i / FPS
        assert not len(tracker.update(Detections([standing(300, 300, 0.0)], [0.6], [PERSON]), t, i))
    held = tracker.held()[0]
    assert len(held) == 1  # static: held, never reported yet
    seen = tracker.sightings(np.array([held[0], 999]))
    assert list(seen) == [held[0]]  # not an id the tracker does not hold
    times, boxes = seen[held[0]]
    assert times == pytest.approx(np.arange(10) / FPS) and boxes[0] == pytest.approx(standing(300, 300, 0.0))


def test_a_still_person_reported_late_loiters_from_their_first_detection():
    # Stands in the hall from 0 s; the tracker holds the track (it never moved) until 3 s.
    events = run(camera(LOITER), 10, lambda t: [standing(300, 300, t)], vouch_at=3.0, births=True)
    loiter = starts(events, "loitering")
    assert len(loiter) == 1
    assert loiter[0].start == pytest.approx(0.0)
    assert loiter[0].detail["frame"] == int(5 * FPS)  # raised at 5 s, not 5 s after being reported
    # Without the tracker's first sightings the stay would begin when the track was reported.
    late = starts(run(camera(LOITER), 10, lambda t: [standing(300, 300, t)], 3.0, births=False), "loitering")
    assert late[0].start == pytest.approx(3.0)


def test_a_person_first_detected_outside_enters_when_they_crossed_the_border():
    # Walks x = 100 + 50 t (border x = 200 at 2 s); seen weakly until 3 s: reported after that.
    def path(t: float) -> list[list[float]]:
        return [standing(101 + 50 * t, 300, t)]

    rules = [{"type": "intrusion", "zone": "hall", "cooldown_s": 0}]
    entries = starts(run(camera(rules), 5, path, None, True, weak_until(3.0)), "intrusion")
    assert len(entries) == 1 and entries[0].start == pytest.approx(2.0, abs=0.01)
    assert entries[0].detail["frame"] > 3 * FPS  # raised when reported
    late = starts(run(camera(rules), 5, path, None, False, weak_until(3.0)), "intrusion")
    assert late[0].start > 3.0


def test_a_group_standing_since_the_start_is_a_crowd_from_the_start():
    rules = [{"type": "crowd", "zone": "hall", "count": 3, "time_s": 1, "cooldown_s": 0}]
    group = [(260, 300), (330, 320), (400, 300)]
    events = run(camera(rules), 6, lambda t: [standing(x, y, t) for x, y in group], vouch_at=2.0, births=True)
    crowd = starts(events, "crowd")
    assert len(crowd) == 1 and crowd[0].start == pytest.approx(0.0)
    late = run(camera(rules), 6, lambda t: [standing(x, y, t) for x, y in group], 2.0, births=False)
    assert starts(late, "crowd")[0].start >= 2.0  # counted once reported


def test_a_line_crossed_before_the_track_was_reported_counts():
    # Walks east across x = 300 at 2 s (between frames); seen weakly until 3 s: reported past it.
    def path(t: float) -> list[list[float]]:
        return [standing(201 + 50 * t, 400, t)]

    config = camera([{"type": "line_crossing", "line": "door", "cooldown_s": 0}], lines=[DOOR])
    crossings = starts(run(config, 5, path, None, True, weak_until(3.0)), "line_crossing")
    assert [e.detail["direction"] for e in crossings] == ["east"]
    assert crossings[0].start == pytest.approx(1.98, abs=0.01)  # where the path met the line
    assert not starts(run(config, 5, path, None, False, weak_until(3.0)), "line_crossing")
