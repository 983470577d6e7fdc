"""Config changes while cameras run, on the real pipeline over real footage: a looped file keeps
producing tracks past its end, a file camera that is not looped says it ended, a zone or rule
saved during a run is swapped into the running camera (same run, no track stored twice, the new
rule fires), and a file camera restarted on the same file goes on after its last analysed frame."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import VTEST, needs_models, needs_samples
from sqlalchemy import func, select

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.source import SourceConfig
from scenewatch.store.data import DataStore
from scenewatch.store.schema import events, runs, tracks

pytestmark = [needs_samples, needs_models]
CLIP_S = 4.0  # the short clip's length: 40 frames of people crossing the campus road
FRAMES = 40
DETECT_FPS = 2.5  # few detections: a busy CI machine still plays the clip several times a minute
WAIT_S = 60.0  # generous: CI machines are several times slower


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The first ``CLIP_S`` seconds of vtest.avi (10 fps), H.264 with a keyframe a second."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found (Debian package ffmpeg)")
    path = tmp_path_factory.mktemp("clip") / "campus.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(VTEST), "-t", str(CLIP_S), "-an",
         "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def camera_on(clip: Path, name: str = "campus", **source) -> CameraConfig:
    return CameraConfig(name=name, source=SourceConfig(url=str(clip), **source), detect_fps=DETECT_FPS)


def wait_for(condition, what: str, timeout: float = WAIT_S):
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def track_rows(store: DataStore) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(tracks).order_by(tracks.c.id)).mappings()]


def run_rows(store: DataStore) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs).order_by(runs.c.id)).mappings()]


def duplicates(rows: list[dict]) -> list[tuple]:
    """Tracks stored twice: the same object over the same frames of the same camera (a replayed
    file gives the same frame numbers, first position and counts again; wall-clock times differ)."""
    seen: dict[tuple, int] = {}
    for row in rows:
        start = tuple(round(v) for v in row["path"][0][1:]) if row["path"] else ()
        key = (
            row["camera_id"],
            row["class_name"],
            row["first_frame"],
            row["last_frame"],
            row["detections"],
            start,
        )
        seen[key] = seen.get(key, 0) + 1
    return [key for key, count in seen.items() if count > 1]


def test_the_default_sample_camera_loops_past_the_end_of_its_file(tmp_path, short_clip):
    """The embedded default's camera, pointed at a 4 s clip, keeps finding people after the end of
    the clip: tracks first seen in its second pass (it would end after one pass unlooped)."""
    from scenewatch.pipeline import default_config, run_cameras

    sample = default_config().cameras[0]
    settings = AppConfig(
        cameras=[
            sample.model_copy(
                update={
                    "source": sample.source.model_copy(update={"url": str(short_clip)}),
                    "detect_fps": DETECT_FPS,
                }
            )
        ]
    )
    store = DataStore.open(tmp_path / "data")
    stop = threading.Event()
    thread = threading.Thread(target=run_cameras, args=(store, settings, stop), daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: [r for r in track_rows(store) if r["first_frame"] >= FRAMES],
            "a track first seen in the second pass over the clip",
        )
    finally:
        stop.set()
        thread.join(WAIT_S)
    (run,) = run_rows(store)
    assert run["status"] == "stopped" and run["frames_decoded"] > FRAMES
    assert duplicates(track_rows(store)) == []


def test_a_file_camera_that_is_not_looped_reports_ended(tmp_path, short_clip, caplog):
    from fastapi.testclient import TestClient

    from scenewatch.api import auth, create_app
    from scenewatch.pipeline import run_cameras

    settings = AppConfig(cameras=[camera_on(short_clip)])
    store = DataStore.open(tmp_path / "data")
    caplog.set_level(logging.INFO, logger="scenewatch.flow.camera")
    (result,) = run_cameras(store, settings, threading.Event())  # returns when the file has ended
    assert result.status == "done" and result.frames_decoded == FRAMES
    assert "camera campus: ended at " in caplog.text and "(end of file)" in caplog.text

    auth.create_user(store.engine, "viewer", "correct-horse-battery", "viewer")
    with TestClient(create_app(store, settings)) as client:
        answer = client.post(
            "/api/auth/login", json={"username": "viewer", "password": "correct-horse-battery"}
        )
        assert answer.status_code == 200, answer.text
        (camera,) = client.get("/api/cameras").json()
    assert camera["run_state"] == "ended"
    assert abs(camera["run_ended_at"] - time.time()) < WAIT_S


def test_saving_a_zone_and_rule_during_a_run_replays_nothing(tmp_path, short_clip):
    """The server's own path: PUT a zone and an intrusion rule while the camera runs. The camera
    keeps its run and source (no second run, no track stored twice) and the new rule fires."""
    from fastapi.testclient import TestClient

    from scenewatch.api import auth, create_app
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.runner import PipelineRunner

    settings = AppConfig(cameras=[camera_on(short_clip, loop=True)])
    store = DataStore.open(tmp_path / "data")
    auth.create_user(store.engine, "admin", "correct-horse-battery", "admin")
    runner = PipelineRunner(store, settings, LiveFrames())
    app = create_app(store, settings, runner, config_path=tmp_path / "scenewatch.yaml")
    runner.start()
    try:
        wait_for(
            lambda: len([r for r in track_rows(store) if r["finished"]]) >= 3, "the first finished tracks"
        )
        with TestClient(app) as client:
            answer = client.post(
                "/api/auth/login",
                json={"username": "admin", "password": "correct-horse-battery", "bearer": True},
            )
            assert answer.status_code == 200, answer.text
            client.headers["authorization"] = f"Bearer {answer.json()['token']}"
            geometry = {
                "zones": [{"name": "road", "polygon": [[0, 0], [768, 0], [768, 576], [0, 576]]}],
                "rules": [{"type": "intrusion", "zone": "road", "classes": ["person"]}],
            }
            done = max(r["last_frame"] for r in track_rows(store))  # analysed before the save
            answer = client.put("/api/config/cameras/campus", json=geometry)
            assert answer.status_code == 200, answer.text
        # the new rule runs in the same camera: people on the road raise intrusion events
        wait_for(lambda: _count(store, events), "an intrusion event from the rule saved during the run")
        # and the camera goes on past what it had analysed (a replay would store those tracks again)
        wait_for(
            lambda: [r for r in track_rows(store) if r["finished"] and r["first_frame"] > done],
            "tracks that start after the frames analysed before the save",
        )
    finally:
        runner.stop()
    rows = track_rows(store)
    assert len(rows) > 3
    assert duplicates(rows) == []
    (run,) = run_rows(store)  # one run: the source was never reopened


def test_a_restarted_file_camera_goes_on_after_its_last_analysed_frame(tmp_path, short_clip):
    """A change of the camera's source settings (decoder threads) restarts that camera alone, on
    the same file: the second run goes on after the first one's last analysed frame, so no frame
    is analysed twice and every frame up to the last once."""
    from scenewatch.flow.cameras import CameraSet
    from scenewatch.pipeline import run_cameras

    camera = camera_on(short_clip, loop=True)
    store = DataStore.open(tmp_path / "data")
    handed: list[CameraSet] = []
    tracked: list[int] = []  # the index of every frame tracked, in order, in both runs
    stop = threading.Event()
    thread = threading.Thread(
        target=run_cameras,
        args=(store, AppConfig(cameras=[camera]), stop),
        kwargs={
            "on_start": handed.append,
            "track_observers": {"campus": [lambda f, *_: tracked.append(f.index)]},
        },
        daemon=True,
    )
    thread.start()
    try:
        (cameras,) = wait_for(lambda: handed, "the cameras to start")
        wait_for(lambda: len(tracked) >= 5, "five tracked frames")
        changed = camera.model_copy(update={"source": camera.source.model_copy(update={"threads": 1})})
        assert cameras.apply([changed])
        wait_for(lambda: len(run_rows(store)) == 2, "the camera's second run")
        before = len(tracked)
        wait_for(lambda: len(tracked) >= before + 5, "five frames tracked in the second run")
    finally:
        stop.set()
        thread.join(WAIT_S)
    first, second = run_rows(store)
    assert first["status"] == second["status"] == "stopped"
    assert tracked == sorted(set(tracked))  # a replay would track frame 0 (and the rest) again
    last_index = cameras.resume["campus"][1][0]
    assert first["frames_decoded"] + second["frames_decoded"] == last_index + 1
    assert duplicates(track_rows(store)) == []


def _count(store: DataStore, table) -> int:
    with store.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_the_next_start_goes_on_where_the_last_one_stopped_and_an_ended_file_stays_ended(
    tmp_path, short_clip
):
    """Positions are kept in the store: a pipeline started again on the same data (the next
    server start) analyses the rest of the file, not the whole of it again; started once more after
    the file's end it analyses nothing and the camera reports ended again."""
    from scenewatch.pipeline import run_cameras

    settings = AppConfig(cameras=[camera_on(short_clip)])
    store = DataStore.open(tmp_path / "data")
    tracked: list[int] = []
    stop = threading.Event()
    observers = {"campus": [lambda f, *_: tracked.append(f.index)]}
    thread = threading.Thread(
        target=run_cameras, args=(store, settings, stop), kwargs={"track_observers": observers}, daemon=True
    )
    thread.start()
    try:
        wait_for(lambda: len(tracked) >= 3, "three tracked frames")
    finally:
        stop.set()
        thread.join(WAIT_S)
    (rest,) = run_cameras(store, settings, threading.Event(), track_observers=observers)
    (again,) = run_cameras(store, settings, threading.Event(), track_observers=observers)
    first = run_rows(store)[0]
    assert first["status"] == "stopped" and 0 < first["frames_decoded"] < FRAMES
    assert rest.status == "done" and first["frames_decoded"] + rest.frames_decoded == FRAMES
    assert again.status == "done" and again.frames_decoded == 0
    assert tracked == sorted(set(tracked))  # no frame tracked twice over the three runs
    assert duplicates(track_rows(store)) == []


def test_a_mask_and_a_standing_search_are_swapped_into_the_running_camera(tmp_path, short_clip):
    """An ignore mask over the whole frame, saved while the camera runs, empties the tracked
    detections from the next frames on, in the same run; a standing search saved with it is
    judged by that run."""
    from scenewatch.flow.cameras import CameraSet
    from scenewatch.pipeline import run_cameras

    camera = camera_on(short_clip, loop=True)
    store = DataStore.open(tmp_path / "data")
    handed: list[CameraSet] = []
    seen: list[tuple[int, int]] = []  # (frame index, objects tracked in it)
    stop = threading.Event()
    observers = {"campus": [lambda f, tracked, _: seen.append((f.index, len(tracked)))]}
    thread = threading.Thread(
        target=run_cameras,
        args=(store, AppConfig(cameras=[camera]), stop),
        kwargs={"on_start": handed.append, "track_observers": observers},
        daemon=True,
    )
    thread.start()
    try:
        (cameras,) = wait_for(lambda: handed, "the cameras to start")
        wait_for(lambda: [n for _, n in seen if n > 0], "people tracked")
        changed = camera.model_copy(
            update={
                "ignore_mask": [[(0, 0), (768, 0), (768, 576), (0, 576)]],
                "rules": [{"type": "search", "query": "a person in a red top", "min_score": 0.5}],
            }
        )
        changed = CameraConfig.model_validate(changed.model_dump())
        assert cameras.apply([changed])
        run = cameras.runs["campus"]
        wait_for(lambda: run.searches is not None, "the standing search in the running camera")
        swapped_at = seen[-1][0]
        wait_for(lambda: seen[-1][0] > swapped_at + 10, "ten more frames")
    finally:
        stop.set()
        thread.join(WAIT_S)
    (only,) = run_rows(store)
    assert only["status"] == "stopped"
    after = [n for i, n in seen if i > swapped_at + 1]  # frames analysed after the change
    assert after and not any(after)
    assert [r.name for r in run.searches.rules] == [changed.rules[0].name]
