"""One health truth through the real pipeline: faults open and close in one place and every view
(CLI, API, history) shows the same; a camera analysed late is 'lagging', not 'offline'; a source
that stops is 'offline' within the configured time; an all-motion camera is held to its share of
the detector pool and says so."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from conftest import VTEST, needs_models, needs_samples
from fastapi.testclient import TestClient
from sqlalchemy import select

from scenewatch.config import AppConfig
from scenewatch.health import FAULTS
from scenewatch.store.data import DataStore
from scenewatch.store.schema import health_events

pytestmark = [needs_samples, needs_models]
PASSWORD = "correct-horse-battery"


def wait_for(condition: Callable[[], object], timeout: float = 60.0, step: float = 0.5) -> object:
    """Poll ``condition`` until it returns something true; that value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def camera(report: dict, name: str) -> dict | None:
    return next((c for c in report["cameras"] if c["camera"] == name), None)


def rows(store: DataStore, fault: str | None = None) -> list[dict]:
    query = select(health_events)
    if fault is not None:
        query = query.where(health_events.c.fault == fault)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def settings(url: str, detect_fps: float | None = None, **health) -> AppConfig:
    source = {"url": url, "reconnect_initial_s": 0.5, "reconnect_max_s": 1}
    return AppConfig.model_validate(
        {
            "health": {"offline_timeout_s": 1.5, **health},
            "cameras": [{"name": "gate", "source": source, "detect_fps": detect_fps}],
        }
    )


def test_offline_before_a_restart_is_closed_and_every_view_agrees(run_cli):
    """The camera is offline (its stream is down) when the pipeline restarts with a working
    source: the old episode ends with the old run, and CLI, API and history say the same."""
    from support.streams import free_port

    from scenewatch.api import auth, create_app
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.runner import PipelineRunner
    from scenewatch.health.store import fleet_report

    store = DataStore.open(run_cli.data)
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    runner = PipelineRunner(store, settings(f"rtsp://127.0.0.1:{free_port()}/down"), LiveFrames())
    runner.start()
    try:
        down = wait_for(lambda: (c := camera(fleet_report(store.engine), "gate")) and c["faults"] and c)
        assert [f["fault"] for f in down["faults"]] == ["offline"] and down["online"] is False
        assert down["status"] == "critical"
        runner.restart(settings(str(VTEST), detect_fps=2))
        wait_for(lambda: (c := camera(fleet_report(store.engine), "gate")) and c["online"])
        time.sleep(6)  # a few more status writes and health ticks on the new run
        # nothing stays open but what the running camera has now (a loaded machine may lag)
        assert {r["fault"] for r in rows(store) if r["end_ts"] is None} <= {"lagging"}
        offline = rows(store, "offline")
        assert all(r["state"] == "cleared" and r["end_ts"] is not None for r in offline), offline
        assert offline[0]["detail"]["closed"] == "not watched"

        cli = json.loads(run_cli("health", "--json").stdout)
        app = create_app(store, settings(str(VTEST), detect_fps=2), runner=runner)
        with TestClient(app) as client:
            answer = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
            assert answer.status_code == 200
            api = client.get("/api/health").json()
            history = client.get("/api/health/events").json()
            cameras = client.get("/api/cameras").json()
        text = run_cli("health").stdout
        for view in (camera(cli, "gate"), camera(api, "gate"), cameras[0]):
            faults = {f["fault"] for f in view["faults"]}
            assert faults <= {"lagging"}, view
            assert view["status"] == ("warning" if faults else "ok") and view["online"] is True, view
            # the offline time counts, and only while watched: neither 0 % nor 100 %
            assert 0.0 < view["online_rate"] < 1.0, view
        assert camera(cli, "gate")["watched"] and camera(api, "gate")["watched"]
        assert not [h for h in history if h["fault"] == "offline" and h["end_ts"] is None]
        assert all(h["state"] == "info" for h in history if h["fault"] not in FAULTS)
        line = next(line for line in text.splitlines() if line.startswith("gate"))
        assert "offline" not in line and line.split()[1] in ("ok", "warning"), text
    finally:
        runner.stop()
    after = camera(fleet_report(store.engine), "gate")
    assert after["status"] == "not watched" and after["faults"] == [] and after["online"] is None
    assert [r for r in rows(store) if r["state"] == "raised" and r["end_ts"] is None] == []


def run_in_thread(store: DataStore, config: AppConfig, **kwargs) -> tuple[threading.Event, threading.Thread]:
    from scenewatch.pipeline import run_cameras

    stop = threading.Event()
    thread = threading.Thread(target=run_cameras, args=(store, config, stop), kwargs=kwargs, daemon=True)
    thread.start()
    return stop, thread


def test_a_camera_analysed_late_is_lagging_not_offline(tmp_path):
    """The source delivers real frames on time; analysis stalls longer than the offline timeout
    again and again (a slow machine). That is 'lagging', with the lag, never 'offline'."""
    from scenewatch.health.store import fleet_report

    store = DataStore.open(tmp_path / "data")
    config = settings(str(VTEST), lagging_after_s=1.0, lagging_clear_s=0.5)

    def slow(frame, tracked, finished) -> None:
        time.sleep(2.0)  # longer than offline_timeout_s: the camera thread takes no frame meanwhile

    stop, thread = run_in_thread(store, config, track_observers={"gate": [slow]})
    try:
        lagging = wait_for(lambda: rows(store, "lagging"))
        report = wait_for(
            lambda: (
                (c := camera(fleet_report(store.engine), "gate")) and c["lag_s"] and c["lag_s"] > 1.0 and c
            )
        )
        time.sleep(4)  # more stalls: still no offline
        assert rows(store, "offline") == []
        assert lagging[0]["severity"] == "warning"
        report = camera(fleet_report(store.engine), "gate")
        assert [f["fault"] for f in report["faults"]] == ["lagging"], report
        assert report["status"] == "warning" and report["online"] is True
        assert report["faults"][0]["lag_s"] > 1.0
    finally:
        stop.set()
        thread.join(60)
    assert rows(store, "offline") == []
    assert all(r["end_ts"] is not None for r in rows(store, "lagging"))  # closed with the run


def test_a_source_that_stops_is_offline_within_the_configured_time(tmp_path):
    from support.streams import RtspServer, gst_rtsp_missing

    from scenewatch.health.store import fleet_report

    reason = gst_rtsp_missing()
    if reason:
        pytest.skip(reason)
    store = DataStore.open(tmp_path / "data")
    with RtspServer(VTEST) as server:
        stop, thread = run_in_thread(store, settings(server.url, detect_fps=2))
        try:
            wait_for(lambda: (c := camera(fleet_report(store.engine), "gate")) and c["online"])
            server.kill()
            killed = time.time()
            (offline,) = wait_for(lambda: [r for r in rows(store, "offline") if r["state"] == "raised"])
            # backdated to the source's last frame and raised within the timeout of it (+ one
            # tick); frames the stream had buffered before the kill may arrive after it
            assert offline["detail"]["detected_at"] - offline["start_ts"] <= 1.5 + 1.0
            assert killed - 1.0 <= offline["start_ts"] <= offline["detail"]["detected_at"]
            server.start()
            wait_for(lambda: [r for r in rows(store, "offline") if r["state"] == "cleared"])
        finally:
            stop.set()
            thread.join(60)


def noisy_frames(count: int, noise: int = 90) -> list:
    """vtest.avi frames under heavy temporal noise: every pixel changes in every frame (rain)."""
    import av
    import numpy as np

    rng = np.random.default_rng(7)
    frames = []
    with av.open(str(VTEST)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="bgr24").astype(np.int16)
            grain = rng.integers(-noise, noise + 1, image.shape, dtype=np.int16)
            frames.append(np.clip(image + grain, 0, 255).astype(np.uint8))
            if len(frames) == count:
                return frames
    return frames


def test_an_all_motion_camera_is_capped_and_the_quiet_one_keeps_its_detections(tmp_path):
    """The real detector pool, real frames: a rainy camera asks for a detection on every frame it
    decodes, a quiet one for far less than its half of the pool. The quiet one gets every detection it asks for; the
    rainy one is held to the rest and says so in /metrics and in the health report."""
    from scenewatch.config.capacity import CapacityConfig
    from scenewatch.config.detector import DetectorConfig
    from scenewatch.config.health import HealthConfig
    from scenewatch.health.store import fleet_report
    from scenewatch.health.watch import HealthWatch
    from scenewatch.models import ModelStore
    from scenewatch.runtime import MetricsRegistry
    from scenewatch.runtime.wiring import build_pool
    from scenewatch.store import repo

    rain_frames = noisy_frames(40)
    quiet_frames = noisy_frames(40, noise=0)
    pool = build_pool(CapacityConfig(enabled=True, pool_workers=1), DetectorConfig(), ModelStore())
    metrics = MetricsRegistry()
    warm = pool.client("warm")  # one detection's time on this machine now: the quiet one's pace
    for image in rain_frames[:2]:
        warm.submit(image)
        assert warm.wait_idle(120)
    latency = warm.detector_seconds / 2
    warm.close()
    rain, quiet = pool.client("rain"), pool.client("quiet")
    stop = threading.Event()

    def camera_loop(client, frames, interval: float) -> None:
        figures = metrics.camera(client.camera)
        i = 0
        while not stop.is_set():
            client.submit(frames[i % len(frames)], token=i)
            i += 1
            for _token, _raw, error in client.results():
                assert error is None
                figures.analysed(float(i), time.time(), True, 1)
            figures.frames_dropped = client.dropped
            stop.wait(interval)

    threads = [
        threading.Thread(target=camera_loop, args=(rain, rain_frames, 0.0), daemon=True),
        # well below its half of the pool: one frame per four detections' time
        threading.Thread(target=camera_loop, args=(quiet, quiet_frames, max(0.5, 4 * latency)), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: quiet.detected >= 10 and rain.detected >= 10, timeout=240)
        snaps, prometheus = metrics.snapshot(), metrics.render_prometheus()
        store = DataStore.open(tmp_path / "data")
        watch = HealthWatch(store, HealthConfig())
        watch.metrics = metrics
        for name in ("rain", "quiet"):
            watch.add_camera(name, repo.ensure_camera(store.engine, name, name, 768, 576, 10.0), time.time())
        watch._write_status()
        report = fleet_report(store.engine)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        pool.close()
    # the quiet camera: every frame it sent was detected, none waited long enough to be replaced
    assert quiet.dropped <= 0.1 * quiet.submitted, (quiet.submitted, quiet.detected, latency)
    assert rain.dropped > rain.detected and rain.detected > 0
    assert snaps["rain"]["capped"] == 1 and snaps["quiet"]["capped"] == 0
    assert 'scenewatch_camera_capped{camera="rain"} 1.0' in prometheus
    assert 'scenewatch_camera_capped{camera="quiet"} 0.0' in prometheus
    assert camera(report, "rain")["capped"] is True and camera(report, "quiet")["capped"] is False
