"""Person down on a real person made to fall: vtest.avi with a walker's own crop held where they
stood, then turned to lie there (bench/scenes makes it), through the real pipeline (detector,
tracker, the fallen-person second look, pose, rules)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT, VIDEO, needs, needs_models

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.pipeline import index_file
from scenewatch.rules.store import list_events
from scenewatch.store.data import DataStore
from scenewatch.store.repo import get_track
from scenewatch.tracking import Tracker
from scenewatch.types import Detections

sys.path.insert(0, str(ROOT / "bench"))
from scenes.make import generate  # noqa: E402
from scenes.spec import Act, Scene  # noqa: E402

pytestmark = [needs(VIDEO / "vtest.avi"), needs_models]

# A walker on vtest.avi's campus road, alone in this box at frame 300 (bench/scenes vtest-a).
WALKER = (312, 215, 346, 293)


def run_scene(tmp_path: Path, act: Act) -> tuple[DataStore, dict, list[dict]]:
    """The scene (frames 290-359: the act from 300, 1 s standing, then the fall or not), indexed
    with a 3-s person-down rule: the store, the act's truth and the person-down events."""
    scene = Scene(
        f"fall-{act.kind}", "dev", clip="vtest.avi", start=290, end=360, step=1, seed=4, acts=(act,)
    )
    folder = generate(scene, root=tmp_path / "scenes")
    truth = json.loads((folder / "truth.json").read_text())["acts"][0]
    video = folder / "video.mp4"
    config = CameraConfig.model_validate(
        {
            "name": "campus",
            "source": {"url": str(video)},
            "rules": [{"type": "person_down", "time_s": 3, "cooldown_s": 0}],
        }
    )
    store = DataStore.open(tmp_path / "data")
    index_file(store, AppConfig(cameras=[config]), video, "campus")
    return store, truth, list_events(store.engine, rule="person_down")


def test_a_person_who_falls_is_tracked_down_as_themselves_and_raises_person_down(tmp_path):
    store, truth, events = run_scene(tmp_path, Act("down", 300, WALKER))
    assert len(events) == 1, events
    track = get_track(store.engine, events[0]["stored_track_ids"][0])  # track_ids: the run's tracker ids
    fall = round(truth["start"] * 10)  # vtest.avi: 10 frames/s; the scene's frame of the fall
    boxes = track["boxes"]
    upright = [b for b in boxes if b["frame"] < fall and b["y2"] - b["y1"] > 1.5 * (b["x2"] - b["x1"])]
    lying = [b for b in boxes if b["frame"] > fall + 3 and b["x2"] - b["x1"] > b["y2"] - b["y1"]]
    # one track: the person standing where the walker stood, then lying where they fell
    assert upright and abs((upright[-1]["x1"] + upright[-1]["x2"]) / 2 - truth["path"][0][0]) < 15
    assert len(lying) >= 30  # 3 s at 10 frames/s: down all along
    assert abs(lying[-1]["y2"] - truth["at"][1]) < 15
    # the event begins at the fall, not when the lying body was first seen
    assert events[0]["start_ts"] - upright[-1]["ts"] <= 0.5


def test_a_person_who_stands_still_raises_nothing(tmp_path):
    _, _, events = run_scene(tmp_path, Act("stand", 300, WALKER))
    assert events == []


def test_the_tracker_lists_a_lost_track_and_an_extension_keeps_its_id_past_the_timeout():
    tracker = Tracker()
    standing = Detections([[100, 100, 130, 180]], [0.9], [2])  # a car: counts without a picture
    for t in range(3):
        tracker.update(standing, t / 10)
    tracker.update(Detections.empty(), 0.3)
    ids, _, boxes, seen = tracker.lost()
    assert ids.tolist() == [1] and boxes.tolist() == [[100, 100, 130, 180]] and seen.tolist() == [0.2]
    timeout = tracker.config.lost_timeout
    for step in range(1, int(timeout * 10) + 10):
        now = 0.3 + step / 10
        tracker.update(Detections.empty(), now)
        kept = tracker.extend(1, np.array([90, 160, 170, 185]), 0.2)
        assert kept.track_ids.tolist() == [1] and tracker.finished == []
    assert tracker.lost()[0].tolist() == []  # the second look matched it
    assert tracker.extend(99, np.array([0, 0, 1, 1]), 0.2).track_ids.tolist() == []
