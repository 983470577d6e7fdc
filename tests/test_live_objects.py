"""The live overlay's data: the tracks the tracker reports on the latest analysed frame, from the
real pipeline over the sample footage to ``GET /api/cameras/{name}/objects`` and, with the frame's
masked picture, to the Live page's one stream ``GET /api/live/frames``; both scoped like the
snapshot (a viewer sees only granted cameras; another camera answers 404 as an unknown one)."""

from __future__ import annotations

import http.client
import json
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import VTEST, needs_models, needs_samples
from fastapi.testclient import TestClient
from support.servers import AppServer
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
    feed = live.observer("gate")

    def observe(frame, detected, tracked) -> None:
        if not stop.is_set():  # the live view keeps the first frame with several tracks
            feed(frame, detected, tracked)
            if len(tracked.track_ids) >= 3:
                stop.set()

    pipeline = threading.Thread(
        target=run_cameras,
        args=(store, AppConfig(cameras=[gate]), stop),
        kwargs={
            "track_observers": {"gate": [record]},
            "detection_observers": {"gate": [observe]},
        },
        daemon=True,
    )
    pipeline.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stop.is_set():
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


def _token(port: int, user: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": user, "password": PASSWORD, "bearer": True})
    conn.request("POST", "/api/auth/login", body, {"content-type": "application/json"})
    return json.loads(conn.getresponse().read())["token"]


def _open(port: int, token: str, query: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/api/live/frames?{query}", headers={"authorization": f"Bearer {token}"})
    return conn.getresponse()


def _record(answer: http.client.HTTPResponse) -> tuple[dict, bytes] | None:
    """The next record of a frame stream (its keep-alive lines skipped); None when it ended."""
    while (line := answer.readline()) == b"\n":
        pass
    if not line:
        return None
    head = json.loads(line)
    return head, answer.read(head["jpeg"])


def test_the_frame_stream_carries_each_frame_with_its_tracks_and_masked_picture(running):
    app, live, reported = running
    with AppServer(app, "the live server") as served:
        token = _token(served.port, "view")  # masked: people pixelated, positions given
        answer = _open(served.port, token, "cameras=gate")
        assert answer.status == 200 and answer.getheader("content-type") == "application/octet-stream"
        head, jpeg = _record(answer)
        snapshot = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        snapshot.request(
            "GET", "/api/cameras/gate/snapshot.jpg", headers={"authorization": f"Bearer {token}"}
        )
        masked = snapshot.getresponse().read()
        answer.close()
    frame = live.latest("gate")
    assert (head["camera"], head["seq"], head["timestamp"]) == ("gate", frame.seq, frame.timestamp)
    assert (head["width"], head["height"]) == (768, 576)
    boxes, ids, classes = reported[head["timestamp"]]  # the tracker's own output for that frame
    assert len(ids) >= 3
    assert [o["track_id"] for o in head["objects"]] == ids.tolist()
    assert [o["class"] for o in head["objects"]] == [class_name(c) for c in classes]
    assert np.allclose([o["box"] for o in head["objects"]], boxes, atol=0.06)
    # the very picture the snapshot gives this user: people pixelated, the frame's own size
    assert jpeg == masked
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (576, 768, 3)


def test_the_frame_stream_refuses_cameras_the_user_may_not_see(running):
    app, _live, _reported = running
    with TestClient(app) as client:
        yard, admin = bearer(client, "view-yard"), bearer(client, "admin")
        for query in ("cameras=gate", "cameras=yard,gate"):
            refused = client.get(f"/api/live/frames?{query}", headers=yard)
            assert refused.status_code == 404 and refused.json()["error"] == "camera 'gate' not found"
        unknown = client.get("/api/live/frames?cameras=yard,nowhere", headers=admin)
        assert unknown.status_code == 404 and unknown.json()["error"] == "camera 'nowhere' not found"
        empty = client.get("/api/live/frames?cameras=,", headers=admin)
        assert empty.status_code == 400 and "cameras" in empty.text
        many = client.get("/api/live/frames?cameras=" + ",".join(f"c{i}" for i in range(17)), headers=admin)
        assert many.status_code == 400 and "at most 16" in many.json()["error"]
        assert client.get("/api/live/frames?cameras=gate").status_code == 401


def test_the_frame_stream_keeps_to_its_rate_and_ends_with_the_session(tmp_path):
    """Frames of the sample put 25 times a second (as the pipeline process forwards them) reach a
    stream asking for 4 a second no more often than that; signing out ends the stream."""
    store, settings = seed_store(tmp_path / "data")
    auth.create_user(store.engine, "view-yard", PASSWORD, "viewer", cameras=["yard"])
    live = LiveFrames()
    capture = cv2.VideoCapture(str(VTEST))
    images = [capture.read()[1] for _ in range(25)]
    capture.release()
    stop = threading.Event()

    def feed() -> None:
        n = 0
        while not stop.is_set():
            live.put(
                "yard", images[n % len(images)], np.zeros((0, 4)), time.time(), [[1, 2, 30, 40]], [n], [0]
            )
            n += 1
            time.sleep(0.04)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with AppServer(create_app(store, settings, live=live), "the live server") as served:
            token = _token(served.port, "view-yard")
            started = time.monotonic()
            answer = _open(served.port, token, "cameras=yard&fps=4")
            assert answer.status == 200
            seqs = []
            while time.monotonic() - started < 3.0:
                head, jpeg = _record(answer)
                assert head["camera"] == "yard" and head["objects"][0]["box"] == [1, 2, 30, 40]
                seqs.append(head["seq"])
            elapsed = time.monotonic() - started
            assert len(seqs) <= 4 * elapsed + 2, (len(seqs), elapsed)  # of about 75 frames put
            assert len(seqs) >= 3 and seqs == sorted(set(seqs))  # newer frames, each once
            logout = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
            logout.request("POST", "/api/auth/logout", headers={"authorization": f"Bearer {token}"})
            assert logout.getresponse().status == 204
            deadline = time.monotonic() + 60
            while _record(answer) is not None:
                assert time.monotonic() < deadline, "the stream went on after sign-out"
    finally:
        stop.set()
        feeder.join(10)
