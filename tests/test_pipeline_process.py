"""The server's pipeline in a process of its own (``ProcessRunner``), on real footage: it stores
tracks and reports its figures, a zone saved during the run goes to the running camera (no replay),
the live view gets its frames (masked for viewers) through the pipe, only while someone watches, a
killed child is reported and comes back, and stopping the server stops and reaps it."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import needs_models, needs_samples
from sqlalchemy import func, select
from test_capacity import check_exposition
from test_config_reload import camera_on, duplicates, run_rows, short_clip, track_rows, wait_for  # noqa: F401
from test_privacy_masking import fine_detail

from scenewatch.api import privacy
from scenewatch.config import AppConfig
from scenewatch.store.data import DataStore
from scenewatch.store.schema import events


def real_footage(test):
    """The tests of a running pipeline: they need the sample footage and the models."""
    return needs_samples(needs_models(test))


PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory, short_clip):  # noqa: F811 (the fixture)
    """A server whose pipeline process watches the looped 4 s vtest clip, with metrics."""
    from fastapi.testclient import TestClient

    from scenewatch.api import auth, create_app
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.pipeline_process import ProcessRunner
    from scenewatch.runtime.metrics import MetricsRegistry

    root = tmp_path_factory.mktemp("process")
    store = DataStore.open(root / "data")
    settings = AppConfig(cameras=[camera_on(short_clip, loop=True)])
    for name, role in (("admin", "admin"), ("viewer", "viewer")):
        auth.create_user(store.engine, name, PASSWORD, role)
    metrics = MetricsRegistry()
    runner = ProcessRunner(store, settings, LiveFrames(), metrics=metrics)
    app = create_app(store, settings, runner, config_path=root / "scenewatch.yaml")
    runner.start()
    try:
        with TestClient(app) as client:
            tokens = {}
            for name in ("admin", "viewer"):
                answer = client.post(
                    "/api/auth/login", json={"username": name, "password": PASSWORD, "bearer": True}
                )
                assert answer.status_code == 200, answer.text
                tokens[name] = {"authorization": f"Bearer {answer.json()['token']}"}
            yield {
                "client": client,
                "store": store,
                "runner": runner,
                "metrics": metrics,
                "auth": tokens,
                "versions": app.state.ctx.versions,
            }
    finally:
        runner.stop()


@real_footage
def test_the_process_stores_tracks_and_reports_its_figures(server):
    store, client = server["store"], server["client"]
    wait_for(lambda: len([r for r in track_rows(store) if r["finished"]]) >= 3, "three finished tracks")
    health = client.get("/api/health", headers=server["auth"]["admin"]).json()
    assert health["pipeline"] == {"running": True, "error": None}
    assert server["runner"].pid != os.getpid()
    # the child's writes reach the server's response caches: cached searches are dropped on them
    (tracks_version,) = server["versions"].version("tracks")
    assert tracks_version > 0  # this process writes no tracks: each bump was reported by the child
    # the child's figures, forwarded: a Prometheus scrape in the server shows the camera
    name = "scenewatch_camera_frames_decoded_total"
    text = wait_for(
        lambda: f'{name}{{camera="campus"}}' in (t := server["metrics"].render_prometheus()) and t,
        "the camera's figures in the server's metrics",
    )
    samples = {(n, c): v for n, c, v in check_exposition(text)}
    assert samples[(name, "campus")] > 0
    assert ("scenewatch_describe_queued", "") in samples  # the node's describer, forwarded too


@real_footage
def test_saving_a_zone_and_rule_during_a_run_replays_nothing(server):
    """As test_config_reload's, through the process: the camera keeps its run and source."""
    store, client = server["store"], server["client"]
    wait_for(lambda: len([r for r in track_rows(store) if r["finished"]]) >= 3, "the first finished tracks")
    geometry = {
        "zones": [{"name": "road", "polygon": [[0, 0], [768, 0], [768, 576], [0, 576]]}],
        "rules": [{"type": "intrusion", "zone": "road", "classes": ["person"]}],
    }
    done = max(r["last_frame"] for r in track_rows(store))  # analysed before the save
    answer = client.put("/api/config/cameras/campus", json=geometry, headers=server["auth"]["admin"])
    assert answer.status_code == 200, answer.text
    wait_for(lambda: _count(store, events), "an intrusion event from the rule saved during the run")
    wait_for(
        lambda: [r for r in track_rows(store) if r["finished"] and r["first_frame"] > done],
        "tracks that start after the frames analysed before the save",
    )
    assert duplicates(track_rows(store)) == []
    assert len(run_rows(store)) == 1  # the source was never reopened


@real_footage
def test_the_live_snapshot_comes_through_the_pipe_masked_for_viewers(server):
    client, live = server["client"], server["runner"].live

    def snapshot_of_a_known_frame():
        """(frame, snapshot bytes) when the snapshot is of a live frame with people still held."""
        answer = client.get("/api/cameras/campus/snapshot.jpg", headers=server["auth"]["viewer"])
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        frame = live.latest("campus")
        if frame is None or not len(frame.people) or answer.headers.get("x-frame-seq") != str(frame.seq):
            return None
        return frame, answer.content

    frame, body = wait_for(snapshot_of_a_known_frame, "a snapshot of a frame with people")
    # the frame the child sent, masked for a viewer: people pixelated (the rest as it is)
    assert body == live.jpeg(frame, privacy.mask_for(server["store"].engine, "campus", False, frame.people))
    masked = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert masked.shape == frame.image.shape == (576, 768, 3)
    inner = [_inside(box) for box in frame.people if (box[2] - box[0]) >= 16 and (box[3] - box[1]) >= 16]
    assert inner, frame.people
    clear = sum(fine_detail(frame.image, box) for box in inner)
    assert sum(fine_detail(masked, box) for box in inner) < 0.8 * clear
    # the tracker's boxes and ids travel with the frame (the arguments of LiveFrames.put, as passed)
    tracked = wait_for(lambda: (f := live.watch("campus")) is not None and len(f.track_ids) and f, "tracks")
    assert len(tracked.boxes) == len(tracked.track_ids) == len(tracked.class_ids)


@real_footage
def test_the_server_gets_a_cameras_frames_only_while_someone_watches_it(server):
    """Nobody watching: no frame comes through the pipe, yet the camera is listed as streaming.
    The first viewer's snapshot is a live frame, sent on request."""
    from scenewatch.api.live_frames import WATCH_S

    client, live, viewer = server["client"], server["runner"].live, server["auth"]["viewer"]
    wait_for(lambda: live.streaming("campus"), "the camera reported running")
    time.sleep(WATCH_S + 1.0)  # whoever watched before has gone
    held = live.latest("campus", max_age_s=float("inf"))
    time.sleep(3.0)  # the camera analyses 2.5 frames a second: several would have come
    assert live.latest("campus", max_age_s=float("inf")) is held, "frames came with nobody watching"
    (camera,) = client.get("/api/cameras", headers=viewer).json()
    assert camera["name"] == "campus" and camera["streaming"]
    asked = time.monotonic()

    def live_snapshot():
        answer = client.get("/api/cameras/campus/snapshot.jpg", headers=viewer)
        return answer if answer.status_code == 200 and "x-frame-seq" in answer.headers else None

    answer = wait_for(live_snapshot, "a live frame for the first viewer")
    frame = live.latest("campus")
    assert frame is not None and frame.received >= asked and frame is not held
    assert int(answer.headers["x-frame-seq"]) <= frame.seq


@real_footage
def test_a_killed_pipeline_process_is_reported_and_comes_back(server):
    store, client, runner = server["store"], server["client"], server["runner"]
    old = runner.pid
    assert old is not None and runner.running
    os.kill(old, signal.SIGKILL)

    def reported():
        pipeline = client.get("/api/health", headers=server["auth"]["admin"]).json()["pipeline"]
        return pipeline["error"] if pipeline["error"] and "SIGKILL" in pipeline["error"] else None

    assert "died" in wait_for(reported, "the health report to name the killed process")
    assert not Path(f"/proc/{old}").exists()  # reaped: no zombie left
    wait_for(lambda: runner.running and runner.pid != old and runner.error is None, "a new pipeline process")
    last = max(r["id"] for r in track_rows(store))
    wait_for(lambda: [r for r in track_rows(store) if r["id"] > last], "tracks stored by the new process")
    killed, new = run_rows(store)[-2:]
    assert killed["status"] == "interrupted" and new["status"] == "running"


@real_footage
def test_stopping_stops_and_reaps_the_process(server):
    runner = server["runner"]
    wait_for(lambda: runner.running, "the pipeline process")
    pid = runner.pid
    runner.stop()
    assert not runner.running
    assert not Path(f"/proc/{pid}").exists()
    (status,) = {r["status"] for r in run_rows(server["store"])[-1:]}
    assert status == "stopped"  # stopped cleanly: its run was ended, not left for the next start


@real_footage
def test_sigterm_stops_the_servers_pipeline_process_before_the_server_exits(run_cli, tmp_path, short_clip):  # noqa: F811
    """`scenewatch serve` told to end (SIGTERM, as service managers do) stops its cameras first:
    the pipeline process has ended its run and is gone when the server has exited."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "cams.yaml"
    config.write_text(
        f"cameras:\n  - name: campus\n    detect_fps: 2.5\n    source: {{url: '{short_clip}', loop: true}}\n"
    )
    server = run_cli.start("serve", "--config", str(config), "--port", str(port))
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/version"), "the server")
        store = DataStore.open(run_cli.data)  # the server has made and migrated it
        wait_for(lambda: [r for r in run_rows(store) if r["status"] == "running"], "the camera's run")
        (child,) = wait_for(lambda: _pipeline_children(server.pid), "the pipeline process")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert server.returncode == 128 + signal.SIGTERM
    assert not Path(f"/proc/{child}").exists()  # ended (and reaped) before the server exited
    assert [r["status"] for r in run_rows(store)] == ["stopped"]


@real_footage
def test_the_pipeline_process_runs_at_the_niceness_asked_for(tmp_path, short_clip):  # noqa: F811
    """``serve --pipeline-nice N``: the child and every thread it starts, the server unchanged."""
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.pipeline_process import ProcessRunner

    settings = AppConfig(cameras=[camera_on(short_clip, loop=True)])
    runner = ProcessRunner(DataStore.open(tmp_path / "data"), settings, LiveFrames(), nice=5)
    base = os.nice(0)
    runner.start()
    try:
        pid = runner.pid
        wait_for(lambda: len(list(Path(f"/proc/{pid}/task").iterdir())) > 3, "the child's threads")
        # threads started by imports included; the describer lowers its own further
        wait_for(lambda: min(_niceness(pid).values()) == base + 5, "every thread of the child at +5")
        assert _niceness(pid)[pid] == base + 5
        assert os.nice(0) == base
    finally:
        runner.stop()


def _niceness(pid: int) -> dict[int, int]:
    """Each thread's niceness (/proc/PID/task/TID/stat, field 19)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = int((task / "stat").read_text().rsplit(")", 1)[1].split()[16])
        except (OSError, ValueError, IndexError):  # ended meanwhile
            continue
    return found


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _pipeline_children(pid: int) -> list[int]:
    """Child processes of ``pid`` running the pipeline (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"resource_tracker" not in command:
            found.append(int(entry.name))
    return found


def _inside(box, margin: float = 0.2) -> tuple[int, int, int, int]:
    """The middle of a box: the person, not the background their box also holds."""
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    return int(x1 + dx), int(y1 + dy), int(x2 - dx), int(y2 - dy)


def _count(store: DataStore, table) -> int:
    with store.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def _messages_until(received, last_ts: float) -> list[tuple]:
    """The live messages read until the one of the frame put at ``last_ts``."""
    messages: list[tuple] = []
    while received.poll(60.0):
        message = received.recv()
        if message[0] == "live":
            messages.append(message)
            if message[2][2] == last_ts:
                break
    return messages


def test_live_frames_go_as_the_latest_call_per_camera_with_wide_images_downscaled():
    """What the child's live view stand-in sends for a watched camera: the arguments of ``put`` as
    passed, the latest per camera when the server is behind (a frame does not fit in the pipe: the
    sender waits), an image wider than ``max_width`` downscaled with the camera's size beside it,
    which the server keeps as it came and masks and encodes at that size."""
    import multiprocessing

    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.pipeline_child import LiveForwarder, Outbox

    received, sent = multiprocessing.Pipe(duplex=False)
    live = LiveForwarder(Outbox(sent), max_width=640)
    live.wanted("gate")
    ramp = np.linspace(0, 255, 1280, dtype=np.float32)  # smooth: shrinking it loses little
    image = np.repeat(np.broadcast_to(ramp, (720, 1280))[..., None], 3, axis=2).astype(np.uint8)
    people = np.array([[10.0, 20.0, 30.0, 60.0]], np.float32)
    for n in range(5):  # faster than anyone reads
        live.put("gate", image, people, float(n), track_ids=np.array([n]))
    messages = _messages_until(received, 4.0)
    live.close()
    assert 1 <= len(messages) <= 2  # the first, maybe, and the latest: never a queue of five
    kind, camera, args, kwargs = messages[-1]
    assert (kind, camera, args[2], kwargs["track_ids"].tolist()) == ("live", "gate", 4.0, [4])
    assert args[0].shape == (360, 640, 3) and kwargs["size"] == (720, 1280)
    assert np.abs(args[0].astype(int) - image[::2, ::2]).mean() < 2
    assert np.array_equal(args[1], people)
    server = LiveFrames()
    server.put(camera, *args, **kwargs)
    frame = server.latest("gate")
    assert (frame.width, frame.height) == (1280, 720) and frame.image is args[0]  # not scaled back up
    masked = cv2.imdecode(np.frombuffer(server.jpeg(frame, privacy.Mask((), True, None)), np.uint8), 1)
    assert masked.shape == (360, 640, 3)


def test_a_camera_nobody_watches_sends_no_frames_only_that_it_runs():
    """Frames of a camera nobody watches stay in the child (the latest is held); the server hears
    that the camera runs. The first viewer gets the held frame at once, the next ones as they come,
    until nobody has asked for WATCH_S."""
    import multiprocessing

    from scenewatch.api import live_frames
    from scenewatch.api.pipeline_child import ALIVE_EVERY_S, LiveForwarder, Outbox

    received, sent = multiprocessing.Pipe(duplex=False)
    live = LiveForwarder(Outbox(sent), max_width=640, watch_s=1.0)
    image = np.zeros((48, 64, 3), np.uint8)
    try:
        live.put("gate", image, np.zeros((0, 4)), 1.0)
        live.put("yard", image, np.zeros((0, 4)), 1.0)
        assert received.poll(ALIVE_EVERY_S + 60.0)
        assert received.recv() == ("alive", ["gate", "yard"])  # and no frame
        live.put("gate", image, np.zeros((0, 4)), 2.0)  # held, not sent
        assert not received.poll(0.5)
        live.wanted("yard")
        (first,) = _messages_until(received, 1.0)
        assert first[1] == "yard"  # the held frame, at once
        live.put("gate", image, np.zeros((0, 4)), 3.0)
        live.put("yard", image, np.zeros((0, 4)), 3.0)
        assert [m[1] for m in _messages_until(received, 3.0)] == ["yard"]
        time.sleep(1.2)  # watch_s passed with nobody asking
        live.put("yard", image, np.zeros((0, 4)), 4.0)
        assert all(m[0] == "alive" for m in _drain(received, 0.5))
        assert live_frames.WATCH_S >= 2 * live_frames.ANNOUNCE_EVERY_S  # a viewer's asks overlap
    finally:
        live.close()


def _drain(received, wait_s: float) -> list[tuple]:
    found = []
    while received.poll(wait_s):
        found.append(received.recv())
    return found


def test_a_first_viewer_waits_for_the_frame_the_pipeline_sends_on_request():
    """Server side: with frames on request, a watch announces the camera (at most once a second),
    drops a frame held from before nobody watched, and waits for the next one."""
    from scenewatch.api.live_frames import LiveFrames

    live = LiveFrames()
    asked: list[str] = []
    image = np.zeros((48, 64, 3), np.uint8)

    def pipeline(camera: str) -> None:  # answers as the child does: the frame comes a little later
        asked.append(camera)
        threading.Timer(0.2, live.put, args=(camera, image, np.zeros((0, 4)), time.time())).start()

    live.put("gate", image, np.zeros((0, 4)), 0.0)  # from an earlier viewer
    live.on_watch = pipeline
    assert live.streaming("gate")
    frame = live.watch("gate", wait_s=60.0)
    assert frame is not None and frame.timestamp > 0.0 and asked == ["gate"]
    live.watch("gate")
    assert asked == ["gate"]  # within a second: not announced again
    assert live.watch("yard", wait_s=60.0) is None and asked == ["gate", "yard"]  # not running: no wait
