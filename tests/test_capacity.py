"""Real-time capacity: motion gate, adaptive sampler, detector pool, metrics, and the live path."""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import VTEST, needs_samples

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.config.source import SourceConfig
from scenewatch.runtime import AdaptiveSampler, DetectionPlanner, DetectorPool, MetricsRegistry, MotionGate
from scenewatch.runtime.exporter import serve_metrics
from scenewatch.types import Detections, Frame


@pytest.fixture(scope="module")
def vtest_frames() -> list[np.ndarray]:
    """The first 60 frames of vtest.avi (10 fps): people walking over a junction."""
    with av.open(str(VTEST)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
            if len(frames) == 60:
                break
    return frames


# -- motion gate ------------------------------------------------------------------------------------


@needs_samples
def test_motion_gate_boxes_the_walkers(vtest_frames):
    from scenewatch.pipeline import build_detector

    gate = MotionGate()
    for i, image in enumerate(vtest_frames[:51]):
        motion = gate.update(image, i / 10)
    assert motion.moving and len(motion.boxes) >= 2
    people = build_detector(AppConfig()).detect_one(vtest_frames[50])
    people = people[(people.class_ids == 0) & (people.scores >= 0.5)]
    assert len(people) >= 4
    centres = people.bottom_centre - np.array([0, 0.5]) * (people.xyxy[:, 3:4] - people.xyxy[:, 1:2])
    b = motion.boxes
    covered = (
        (centres[:, None, 0] >= b[None, :, 0])
        & (centres[:, None, 0] <= b[None, :, 2])
        & (centres[:, None, 1] >= b[None, :, 1])
        & (centres[:, None, 1] <= b[None, :, 3])
    ).any(axis=1)
    assert covered.mean() >= 0.6, (covered, motion.boxes)
    area = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).sum()
    assert area < 0.5 * vtest_frames[0].shape[0] * vtest_frames[0].shape[1]  # local, not everything


@needs_samples
def test_motion_gate_ignores_a_still_scene_with_sensor_noise(vtest_frames):
    gate = MotionGate()
    rng = np.random.default_rng(1)
    still = vtest_frames[0].astype(np.int16)
    boxes = []
    for i in range(40):
        noisy = still + rng.normal(0, 3, still.shape) + i // 10  # sensor noise, slow brightening
        boxes.append(len(gate.update(np.clip(noisy, 0, 255).astype(np.uint8), i / 10).boxes))
    assert sum(boxes) == 0


class CountingDetector:
    """Stands in for the model: counts calls and what sizes it was shown."""

    def __init__(self, result: Detections | None = None, delay: float = 0.0):
        self.calls: list[tuple[int, ...]] = []
        self.result = result if result is not None else Detections.empty()
        self.delay = delay

    def detect_one(self, image: np.ndarray) -> Detections:
        self.calls.append(image.shape)
        if self.delay:
            time.sleep(self.delay)
        return self.result


@needs_samples
def test_planner_skips_the_detector_while_nothing_moves(vtest_frames):
    planner = DetectionPlanner(AdaptiveSampler(1, 5, 8, hold_s=0), MotionGate(), idle_refresh_s=10)
    still = vtest_frames[0]
    kinds = []
    for i in range(50):  # 5 s of a still scene at 10 fps
        frame = Frame(still, "c", i, 1000 + i / 10, i / 10)
        plan = planner.plan(frame)
        kinds.append(plan.kind)
        if plan.kind != "skip":
            planner.observe(planner.merge(plan, frame, Detections.empty() if plan.detects else None), frame)
    assert kinds[0] == "full" and kinds.count("full") == 1 and "crop" not in kinds
    assert kinds.count("reuse") == 4  # the idle rate: 1 a second, on cached detections

    # a resolution change: the cache no longer fits, the whole new frame is detected
    small = np.ascontiguousarray(vtest_frames[1][::2, ::2])
    frame = Frame(small, "c", 50, 1005.0, 5.0 + 1.0)
    assert planner.plan(frame).kind == "full"


def test_planner_crops_small_motion_and_keeps_detections_elsewhere():
    planner = DetectionPlanner(
        AdaptiveSampler(1, 5, 8, hold_s=0), MotionGate(), refresh_s=100, crop_max_fraction=0.5
    )
    image = np.full((480, 640, 3), 80, np.uint8)
    parked = Detections([[500, 50, 600, 120]], [0.9], [2])
    first = Frame(image, "c", 0, 0.0, 0.0)
    plan = planner.plan(first)
    assert plan.kind == "full"
    planner.observe(planner.merge(plan, first, parked), first)
    moved = image.copy()
    moved[300:400, 100:140] = 200  # a walker appears bottom left
    frame = Frame(moved, "c", 1, 1.0, 1.0)
    plan = planner.plan(frame)
    assert plan.kind == "crop"
    x0, y0, x1, y1 = plan.region
    assert x0 <= 100 and x1 >= 140 and y0 <= 300 and y1 >= 400 and x1 < 500  # the van stays outside
    walker = Detections([[100 - x0, 300 - y0, 140 - x0, 400 - y0]], [0.8], [0])
    merged = planner.merge(plan, frame, walker)
    assert sorted(merged.class_ids.tolist()) == [0, 2]
    assert np.allclose(merged.xyxy[merged.class_ids == 0], [[100, 300, 140, 400]])


# -- sampler -----------------------------------------------------------------------------------------


def test_sampler_rises_with_objects_and_speed_and_falls_when_empty():
    s = AdaptiveSampler(min_fps=1, present_fps=5, max_fps=10, fast_speed=1.0, hold_s=2.0)
    assert s.rate == 1
    s.observe(0.0, count=3, speed=0.1)
    assert 5 <= s.rate < 6
    s.observe(0.2, count=3, speed=5.0)  # fast objects
    assert s.rate == 10
    s.observe(0.4, count=0)  # empty, but held for hold_s
    assert s.rate == 10
    s.observe(3.0, count=0)
    assert s.rate == 1
    rng = np.random.default_rng(0)
    for t in np.arange(3.0, 60.0, 0.1):  # any sequence stays within bounds
        s.observe(
            float(t), count=int(rng.integers(0, 3)), motion=bool(rng.integers(0, 2)), speed=rng.exponential(2)
        )
        assert 1 <= s.rate <= 10


def test_sampler_paces_detections_by_frame_time():
    s = AdaptiveSampler(min_fps=1, present_fps=5, max_fps=5, hold_s=0)
    due = [t for t in np.arange(0, 10, 0.04) if s.due(float(t))]  # 25 fps empty: 1 a second
    assert 9 <= len(due) <= 11
    s.observe(10.0, count=2)
    due = [t for t in np.arange(10, 20, 0.04) if s.due(float(t))]
    assert 48 <= len(due) <= 51
    assert s.due(0.0)  # time went back (a loop or a reconnect): starts again at once


def test_sampler_speed_from_tracks():
    s = AdaptiveSampler(min_fps=1, present_fps=4, max_fps=20, fast_speed=1.0, hold_s=0)
    box = np.array([[100, 100, 120, 150]], np.float32)  # 50 px tall
    s.observe_tracks(Detections(box, [0.9], [0], [7]), 0.0)
    s.observe_tracks(Detections(box + [100, 0, 100, 0], [0.9], [0], [7]), 0.5)  # 100 px in 0.5 s = 4 h/s
    assert s.rate == pytest.approx(4 * (1 + 4.0))


# -- detector pool -----------------------------------------------------------------------------------


def test_pool_drops_the_oldest_under_back_pressure_and_counts_it():
    gate = threading.Event()

    class Blocking:
        def detect_one(self, image):
            gate.wait(5)
            return int(image[0, 0])

    pool = DetectorPool([Blocking()], depth=1)
    cam = pool.client("a")
    cam.submit(np.full((2, 2), 1), token=1)
    deadline = time.monotonic() + 2
    while not cam.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    for token in range(2, 6):
        cam.submit(np.full((2, 2), token), token=token)
    assert time.monotonic() - started < 0.1  # submit never waits for the detector
    gate.set()
    assert cam.wait_idle(5)
    assert [(tok, res) for tok, res, _ in cam.results()] == [(1, 1), (5, 5)]
    assert cam.dropped == 3 and cam.detected == 2
    pool.close()


def test_pool_is_fair_to_a_slow_camera_next_to_a_flooding_one():
    detector = CountingDetector(delay=0.01)
    pool = DetectorPool([detector], depth=2)
    flood, slow = pool.client("flood", depth=8), pool.client("slow")
    stop = threading.Event()

    def flooding():
        while not stop.is_set():
            flood.submit(np.zeros((2, 2)))
            time.sleep(0.0005)

    thread = threading.Thread(target=flooding)
    started = time.monotonic()
    thread.start()
    for _ in range(20):  # 10 fps
        slow.submit(np.zeros((2, 2)))
        time.sleep(0.1)
    stop.set()
    thread.join()
    elapsed = time.monotonic() - started
    assert slow.wait_idle(2) and flood.wait_idle(2)
    assert slow.dropped == 0 and slow.detected == 20
    assert slow.wait_seconds / slow.detected < 0.03  # waits at most about one of the flood's frames
    # the rest of the time went to the flood: the detector kept busy, the flood's excess dropped
    assert (flood.detected + slow.detected) * 0.01 > 0.6 * elapsed, (flood.detected, elapsed)
    assert flood.dropped > flood.detected
    pool.close()


def test_pool_keeps_serving_when_one_camera_stalls_or_fails():
    class Picky:
        def detect_one(self, image):
            if image[0, 0] == 9:
                raise RuntimeError("corrupt frame")
            return "ok"

    pool = DetectorPool([Picky()])
    stalled, bad, good = pool.client("stalled"), pool.client("bad"), pool.client("good")
    stalled.submit(np.zeros((2, 2)))  # then never again
    bad.submit(np.full((2, 2), 9))
    for _ in range(5):
        good.submit(np.zeros((2, 2)))
        assert good.wait_idle(2)
    assert [r for _, r, _ in good.results()] == ["ok"] * 5
    assert isinstance(bad.results()[0][2], RuntimeError)
    pool.close()


def test_pool_counts_detector_cpu_apart_from_wall_time():
    """Waiting (for a core, here a sleep) is wall time, not CPU: a camera's CPU share counts what
    its detections computed, so a busy machine does not make the detector look twice as costly."""

    class Waits:
        def detect_one(self, image):
            time.sleep(0.05)
            return "ok"

    clients = []
    for pool in (DetectorPool([Waits()]), DetectorPool([Waits()], inline=False)):
        clients.append(client := pool.client("a"))
        for _ in range(3):
            client.submit(np.zeros((2, 2)))
            assert client.wait_idle(2)
        assert client.detector_seconds >= 0.14
        pool.close()
    a, b = clients
    assert a.detector_cpu_seconds < 0.03  # a single-threaded session computes in the worker: exact
    assert b.detector_cpu_seconds == b.detector_seconds  # its own threads unseen: wall time it is
    registry = MetricsRegistry()
    cam = registry.camera("a")
    cam.detector_seconds, cam.detector_cpu_seconds = a.detector_seconds, a.detector_cpu_seconds
    snap = cam.snapshot()
    assert snap["detector_wall_seconds"] >= 0.14 and snap["cpu_seconds"] < 0.1


# -- metrics -----------------------------------------------------------------------------------------

# a sample: per camera, or node-wide without labels (camera "")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{camera="((?:[^"\\\n]|\\["\\n])*)"\})? (\S+)$')


def check_exposition(text: str) -> list[tuple[str, str, float]]:
    """Validate Prometheus text format 0.0.4 strictly enough to catch our mistakes."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples = []
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge"} and name not in types
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, line
            name, camera, value = match.groups()
            camera = camera or ""
            assert name in types, f"{name} has no TYPE line before it"
            samples.append((name, camera, float(value)))  # NaN and numbers parse; garbage does not
            if types[name] == "counter":
                assert name.endswith("_total") and float(value) >= 0
    return samples


def test_metrics_render_valid_prometheus_text():
    registry = MetricsRegistry()
    odd = registry.camera('gate "north"\\1', declared_fps=10)
    for i in range(30):
        odd.decoded(pts=i / 10, timestamp=time.time() - 0.2, now=time.monotonic() + i / 10)
    odd.analysed(2.9, time.time() - 0.3, detected=True, objects=2)
    registry.camera("lobby")
    samples = check_exposition(registry.render_prometheus())
    by = {(n, c): v for n, c, v in samples}
    assert by[("scenewatch_camera_frames_decoded_total", 'gate \\"north\\"\\\\1')] == 30
    assert by[("scenewatch_camera_frames_decoded_total", "lobby")] == 0
    assert 0.2 < by[("scenewatch_camera_lag_seconds", 'gate \\"north\\"\\\\1')] < 1
    snap = registry.snapshot()['gate "north"\\1']
    assert snap["input_fps"] == pytest.approx(10, rel=0.01)


def test_metrics_endpoint_serves_prometheus_text():
    registry = MetricsRegistry()
    registry.camera("a").decoded(0.0, time.time())
    server = serve_metrics(registry, 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5) as reply:
            assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            samples = check_exposition(reply.read().decode())
        assert ("scenewatch_camera_frames_decoded_total", "a", 1.0) in samples
    finally:
        server.shutdown()


# -- the live path -----------------------------------------------------------------------------------


def live_cameras(names: list[str], tmp_path: Path) -> AppConfig:
    return AppConfig(
        cameras=[
            CameraConfig(name=n, source=SourceConfig(url=str(VTEST), realtime=True, loop=True)) for n in names
        ]
    )


def _starved(snap: dict) -> str:
    """What a camera got, for a failure message: is the machine too busy to decode, too?"""
    keys = ("detect_fps_present", "decoded_fps", "input_fps", "frames_dropped", "cpu_share", "lag_p95_s")
    figures = ", ".join(f"{k} {snap[k]}" for k in keys)
    return f"camera {snap['camera']}: {figures}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


@needs_samples
def test_two_realtime_cameras_keep_lag_under_a_second(tmp_path):
    from scenewatch.pipeline import run_cameras
    from scenewatch.store.data import DataStore

    store = DataStore.open(tmp_path / "data")
    metrics = MetricsRegistry()
    lags: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            lags.extend(max(c.lag_s, c.drift_s) for c in metrics.cameras())

    sampler = threading.Thread(target=sample)
    sampler.start()
    results = run_cameras(
        store,
        live_cameras(["a", "b"], tmp_path),
        stop,
        duration=10,
        capacity=CapacityConfig(enabled=True),
        metrics=metrics,
    )
    sampler.join()
    assert sorted(r.camera for r in results) == ["a", "b"]
    snaps = metrics.snapshot()
    workers = CapacityConfig(enabled=True).pool_workers
    slowest = 0.0  # seconds a detection took, the slower camera's
    for name in ("a", "b"):
        snap = snaps[name]
        assert snap["frames_decoded"] >= 80  # 10 s at 10 fps
        assert snap["frames_detected"] >= 5  # the rate is judged below, against what was affordable
        # the spec: 5 detections a second while objects are present, where the detector affords
        # it; on a machine where it cannot (one detection costs more than the pool can give two
        # cameras 5 times a second) each camera still gets its half of what the pool delivers
        latency = snap["detector_wall_seconds"] / snap["frames_detected"]
        affordable = workers / latency / 2
        floor = min(5.0 - 0.1, 0.85 * affordable)  # every 2nd frame of 10 fps is 5.0, less at the edges
        assert snap["detect_fps_present"] >= floor, f"{_starved(snap)}; {latency * 1000:.0f} ms a detection"
        slowest = max(slowest, latency)
    # under a second behind, or, where one detection takes most of a second, a few detections
    assert len(lags) > 20 and max(lags[4:]) < max(1.0, 3 * slowest), (max(lags[4:]), slowest)
    assert all(r.tracks > 0 for r in results)


@needs_samples
def test_a_stalled_camera_does_not_hold_back_the_others(tmp_path, monkeypatch):
    from scenewatch import pipeline
    from scenewatch.flow import camera as camera_run
    from scenewatch.store.data import DataStore

    real_open = camera_run.open_source

    class Stalled:
        """A camera that connects, sends nothing, and only ends when stopped."""

        info = None
        gaps: list = []
        current_gap = None
        stopped_at = None

        def __init__(self):
            self._stop = threading.Event()

        def __iter__(self):
            self._stop.wait()
            return iter(())

        def stop(self):
            self._stop.set()

        close = stop

    def open_source(name, config, **kwargs):
        return Stalled() if name == "stuck" else real_open(name, config, **kwargs)

    monkeypatch.setattr(camera_run, "open_source", open_source)
    metrics = MetricsRegistry()
    stop = threading.Event()
    settings = live_cameras(["stuck", "fine"], tmp_path)
    stopped_at: list[float] = []
    threading.Thread(target=lambda: (stop.wait(), stopped_at.append(time.monotonic())), daemon=True).start()
    results = pipeline.run_cameras(
        DataStore.open(tmp_path / "data"),
        settings,
        stop,
        duration=6,
        capacity=CapacityConfig(enabled=True),
        metrics=metrics,
    )
    assert time.monotonic() - stopped_at[0] < 8  # the stalled one ended with the stop, not after it
    fine = metrics.snapshot()["fine"]
    assert fine["frames_decoded"] >= 45 and fine["frames_detected"] >= 10 and fine["lag_s"] < 1.0
    assert {r.camera for r in results} == {"stuck", "fine"}


# -- describing finished tracks off the camera thread -----------------------------------------------


class SlowJob:
    """A description that takes ``seconds`` (or until ``gate`` opens) and says how it ran."""

    def __init__(self, name: str, seconds: float = 0.0, gate: threading.Event | None = None):
        self.name, self.seconds, self.gate, self.light = name, seconds, gate, False

    def lighten(self, crops: int) -> None:
        self.light = "bare" if crops == 0 else True

    def __call__(self) -> dict:
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.seconds)
        if self.name == "bad":
            raise RuntimeError("broken crop")
        return {"name": self.name, "light": self.light}


def test_describe_queue_never_blocks_keeps_order_and_degrades_on_overflow():
    from scenewatch.runtime import DescribeQueue

    queue = DescribeQueue(light_after_s=0.8, light_at=3, bare_at=5)
    gate = threading.Event()
    out: list[dict] = []
    started = time.monotonic()
    queue.submit("w", "a", SlowJob("first", gate=gate), out.append)  # occupies the worker
    time.sleep(0.1)
    for i in range(6):
        queue.submit("w", "a" if i % 2 else "b", SlowJob(f"j{i}", 0.01), out.append)
    queue.submit("w", "b", SlowJob("bad"), out.append)
    assert time.monotonic() - started < 0.5  # submitting never waited for the slow description
    assert queue.stats()["describe_pending"] == 8 and not queue.drain("w", timeout=0.2)
    time.sleep(1.0)  # every waiting job is now late
    gate.set()
    assert queue.drain("w", timeout=10)
    assert [o["name"] for o in out] == ["first"] + [f"j{i}" for i in range(6)]  # in the order handed over
    # late: described cheaply; 3 waiting: kept one crop; 5 waiting: none
    assert [o["light"] for o in out] == [False] + [True] * 5 + ["bare"]
    node, b = queue.stats(), queue.stats("b")
    assert (node["describe_done"], node["describe_degraded"], node["describe_failed"]) == (7, 7, 1)
    assert node["describe_bare"] == 2  # j5 and "bad"
    assert (b["describe_submitted"], b["describe_failed"], b["describe_pending"]) == (4, 1, 0)
    registry = MetricsRegistry()
    registry.camera("b")
    registry.describer = queue
    by = {(n, c): v for n, c, v in check_exposition(registry.render_prometheus())}
    assert by[("scenewatch_describe_degraded_total", "b")] == 4
    assert registry.snapshot()["b"]["describe_done"] == 3 and by[("scenewatch_describe_queued", "")] == 0
    assert queue.close(timeout=5)
    queue.submit("w", "a", SlowJob("late"), out.append)  # after close: described in the caller
    assert out[-1]["name"] == "late"


def _person_track(writer) -> None:
    """50 frames of one person walking right through a blue patch, then the track ends."""
    from scenewatch.tracking import FinishedTrack

    image = np.full((480, 640, 3), 128, np.uint8)
    image[100:300, 50:510] = (200, 40, 40)
    times, boxes = [], []
    for i in range(50):
        box = np.array([[50 + 8 * i, 100, 110 + 8 * i, 300]], np.float32)
        frame = Frame(image, "cam", i, 1000.0 + i * 0.1, i * 0.1)
        writer.add(frame, Detections(box, [0.9], [0], [7]), [], Detections(box, [0.9], [0]))
        times.append(frame.timestamp)
        boxes.append(box[0])
    track = FinishedTrack(7, 0, np.array(times), np.arange(50), np.array(boxes), np.full(50, 0.9, np.float32))
    writer.finish([track])


def _stored(store) -> tuple[list, list]:
    from sqlalchemy import select

    from scenewatch.store.schema import track_terms, tracks

    with store.engine.connect() as conn:
        rows = conn.execute(select(tracks.c.finished, tracks.c.attributes)).all()
        terms = conn.execute(
            select(track_terms.c.term, track_terms.c.weight).order_by(track_terms.c.term)
        ).all()
    return [tuple(r) for r in rows], [tuple(t) for t in terms]


def _writer(store, name: str, queue=None):
    from scenewatch.flow.finish import FinishStage
    from scenewatch.store import repo
    from scenewatch.store.writer import TrackWriter
    from scenewatch.vision.attributes import AttributeDescriber

    camera_id = repo.ensure_camera(store.engine, name, "file", 640, 480, 10.0)
    run_id = repo.start_run(store.engine, camera_id, "file", "live")
    describer = AttributeDescriber(use_pose=False)
    return FinishStage(TrackWriter(store, name, camera_id, run_id), describer=describer, describe_queue=queue)


def test_background_description_stores_what_inline_does(tmp_path):
    from scenewatch.runtime import DescribeQueue
    from scenewatch.store.data import DataStore

    inline_store, background_store = DataStore.open(tmp_path / "inline"), DataStore.open(tmp_path / "bg")
    inline = _writer(inline_store, "cam")
    _person_track(inline)
    inline.close()
    queue = DescribeQueue()
    background = _writer(background_store, "cam", queue)
    _person_track(background)
    background.close()  # waits for its descriptions
    expected = _stored(inline_store)
    assert expected[0][0][1]["colours"]["upper"] and any(t.startswith("upper:") for t, _ in expected[1])
    assert _stored(background_store) == expected  # same attributes, same search index rows
    assert queue.stats()["describe_done"] == 1 and queue.close()


def test_track_not_yet_described_is_stored_finished_and_found_by_class(tmp_path):
    """What a kill leaves of a track whose description had not run: the finished row, its class index."""
    from scenewatch.runtime import DescribeQueue
    from scenewatch.store.data import DataStore

    store = DataStore.open(tmp_path / "data")
    queue = DescribeQueue()
    gate = threading.Event()
    queue.submit("other", "x", SlowJob("blocker", gate=gate), lambda _: None)  # the worker is busy
    writer = _writer(store, "cam", queue)
    started = time.monotonic()
    _person_track(writer)
    writer.flush()
    assert time.monotonic() - started < 2.0
    rows, terms = _stored(store)
    assert rows == [(True, None)]  # stored, finished, undescribed
    assert [t for t, _ in terms] == ["class:person"]
    gate.set()
    writer.close()
    rows, terms = _stored(store)
    assert rows[0][1]["class"] == "person" and len(terms) > 1  # described and re-indexed once free
    queue.close()
