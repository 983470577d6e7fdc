"""The live overlay's data: the tracks the tracker reports on the latest analysed frame, from the
real pipeline over the sample footage to ``GET /api/cameras/{name}/objects``, scoped like the
snapshot (a viewer sees only granted cameras; another camera answers 404 as an unknown one)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import VTEST, needs_models, needs_samples
from fastapi.testclient import TestClient
from test_api import bearer, seed_store

from scenewatch.api import auth, create_app
from scenewatch.api.live_frames import LiveFrames
from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.source import SourceConfig
from scenewatch.pipeline import run_cameras
from scenewatch.vision.labels import class_name

pytestmark = [needs_samples, needs_models]
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """The seeded store (cameras gate and yard), with the real pipeline watching vtest.avi as the
    camera 'gate' until the live view holds a frame with several tracks; ``reported`` maps each
    analysed frame's timestamp to what the tracker reported on it."""
    store, settings = seed_store(tmp_path_factory.mktemp("live-objects") / "data")
    auth.create_user(store.engine, "view-yard", PASSWORD, "viewer", cameras=["yard"])
    live = LiveFrames()
    reported: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def record(frame, tracked, _finished) -> None:
        reported[frame.timestamp] = (tracked.xyxy.copy(), tracked.track_ids.copy(), tracked.class_ids.copy())

    gate = CameraConfig(name="gate", source=SourceConfig(url=str(VTEST)), detect_fps=5)
    stop = threading.Event()
    pipeline = threading.Thread(
        target=run_cameras,
        args=(store, AppConfig(cameras=[gate]), stop),
        kwargs={
            "track_observers": {"gate": [record]},
            "detection_observers": {"gate": [live.observer("gate")]},
        },
        daemon=True,
    )
    pipeline.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        latest = live.latest("gate")
        if latest is not None and len(latest.track_ids) >= 3:
            break
        time.sleep(0.1)
    stop.set()
    pipeline.join(60)
    assert live.latest("gate") is not None and len(live.latest("gate").track_ids) >= 3, "no tracks in 120 s"
    app = create_app(store, settings, live=live)
    return app, live, reported


def test_a_granted_viewer_gets_the_tracks_of_the_latest_frame(running):
    app, live, reported = running
    with TestClient(app) as client:
        headers = bearer(client, "view")  # a masked viewer: positions are no faces
        answer = client.get("/api/cameras/gate/objects", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # the snapshot names its frame, so the overlay draws these objects on that very picture
        snapshot = client.get("/api/cameras/gate/snapshot.jpg", headers=headers)
        assert snapshot.headers["x-frame-seq"] == str(body["seq"])
    frame = live.latest("gate")
    assert (body["seq"], body["timestamp"]) == (frame.seq, frame.timestamp)
    assert (body["width"], body["height"]) == (768, 576)
    boxes, ids, classes = reported[body["timestamp"]]  # the tracker's own output for that frame
    assert len(ids) >= 3 and (ids >= 0).all()
    assert [o["track_id"] for o in body["objects"]] == ids.tolist()
    assert [o["class"] for o in body["objects"]] == [class_name(c) for c in classes]
    assert np.allclose([o["box"] for o in body["objects"]], boxes, atol=0.06)


def test_another_cameras_viewer_and_an_unknown_camera_get_404(running):
    app, _live, _reported = running
    with TestClient(app) as client:
        other = client.get("/api/cameras/gate/objects", headers=bearer(client, "view-yard"))
        assert other.status_code == 404 and other.json()["error"] == "camera 'gate' not found"
        admin = bearer(client, "admin")
        unknown = client.get("/api/cameras/nowhere/objects", headers=admin)
        assert unknown.status_code == 404 and unknown.json()["error"] == "camera 'nowhere' not found"
        # a camera without live frames reports no objects, and the size its boxes would have
        idle = client.get("/api/cameras/yard/objects", headers=admin).json()
        assert idle == {"seq": None, "timestamp": None, "width": 768, "height": 576, "objects": []}
