"""Real-time capacity: how many live cameras this machine analyses, against how many it can decode.

Run: ``.venv/bin/python bench/capacity.py [--video PATH] [--detector centernet|nanodet] [--trial-s S]``
or ``.venv/bin/python bench/capacity.py --device [--providers cuda|tensorrt]`` (cameras per accelerator).

1. Decode-only limit: N copies of the footage played as live cameras (the product's FileSource,
   realtime and looped, PyAV/FFmpeg decoding, the capacity decode settings), frames thrown away.
   The largest N for which every camera keeps up with its own clock (playback drift < 1 s).
2. Capacity: N copies through ``run_cameras`` with the capacity settings (motion gate, adaptive
   rate, shared detector pool, tracking, SQLite store, health checks): the largest N for which
   every camera keeps lag (p95) and drift under 1 s, drops no frame (``--max-dropped``) and
   detects at >= 5 fps while objects are present. Presence comes from the footage's ground truth
   where it has one (a MOTChallenge ``gt.txt`` beside the video: a frame with a box is present);
   footage without one counts every second as present, so the system's own tracks never decide
   what it is judged on. A camera with no present time fails. Prints both limits and their ratio.
3. Stage costs: CPU milliseconds of one detection at batch 1 in one thread (the pool's setting)
   for centernet and nanodet, and of describing one finished track (pose on its crops, colours);
   then the arithmetic of the 50 % target: detections a second needed at half the decode-only
   limit times the cost of one, against the cores of this machine; and the detector-bound limit
   (cores / (5 detections a second x the CPU of one)), with the capacity found as a share of it
   (target >= 0.85).
4. Accuracy: MOTA on TUD-Stadtmitte, full-rate tracking against the capacity settings (both
   through ``index_file`` and ``export mot``'s rows, scored on every ground-truth frame: a frame
   the sampled run wrote no row for is all misses, the protocol of ``bench/tracking.py``).
5. Steady costs (``costs``): CPU ms a camera-second of the footage played once through the capacity
   path as fast as it decodes (``index_file``: detections paced by the footage's clock, answered in
   the camera's thread with one inference thread, nothing dropped), so the figures hardly depend on
   the load: detection (with the detector's input in model inputs a second: a mosaic on a canvas
   cut to its tiles counts its share of the model's square), the camera loop by stage (MoveNet's
   runs also on their own: they are inside the still-person check and describing), the decode
   thread, the rest; loading the models and opening the store at the start, and the close, are
   printed apart (once a run, not a camera-second's cost).

``--device``: cameras per accelerator in one short run (a few minutes). With CUDA or TensorRT in the
installed onnxruntime: detections a second of ``--workers`` sessions on the accelerator over
``--device-s`` seconds (mosaic-size inputs) give the detector-bound limit, the decode cost gives
the CPU's decode-bound one, and one capacity trial runs at the smaller (again at 85 % of it if that
fails). Without one it prints ``no accelerator: <providers available>`` and stops.

Each capacity trial also prints what the detector did per camera-second (inferences, a shared one
counted once, and their CPU ms) and how much of it ran on shared mosaics (several cameras' regions
on one canvas); ``--no-share`` detects each camera's mosaic alone, the baseline to compare with;
``--no-trim`` detects every mosaic on the model's full square input (the baseline of the cut canvas).
It also prints the process's CPU per camera-second by thread (camera, decode, detector, describer,
health, ...); ``--stage-cpu`` splits the camera threads' CPU by stage (a timer on each).

Each trial plays ``--trial-s`` seconds; the first ``--warmup-s`` are not scored. The load average
is printed with every figure: the machine is shared, so capacity figures depend on it.
Benchmarks print; they never fail a test run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402
from tracking import index_and_export, score_sequence  # noqa: E402

from scenewatch.config import AppConfig, CameraConfig  # noqa: E402
from scenewatch.config.capacity import CapacityConfig  # noqa: E402
from scenewatch.config.source import SourceConfig  # noqa: E402
from scenewatch.eval.mot import load_mot  # noqa: E402
from scenewatch.flow import cameras as camera_runner  # noqa: E402
from scenewatch.pipeline import build_detector, run_cameras  # noqa: E402
from scenewatch.runtime import DescribeQueue, MetricsRegistry  # noqa: E402
from scenewatch.runtime.metrics import CameraMetrics  # noqa: E402
from scenewatch.sources import FileSource  # noqa: E402
from scenewatch.store.data import DataStore  # noqa: E402
from scenewatch.vision.detector_types import DETECTORS  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MAX_LAG_S = 1.0
GT_FPS = 25.0  # MOTChallenge TUD sequences: gt frame N is decoded frame N-1 at 25 fps
MIN_PRESENT_FPS = 5.0 - 0.05  # a 10 fps camera sampled every 2nd frame gives exactly 5.0


class InlineDescriber(DescribeQueue):
    """The baseline: each description runs in the submitting camera thread (counted the same)."""

    def submit(self, owner, camera, work, deliver) -> None:
        with self._cond:
            for stats in (self.total, self._camera(camera)):
                stats.submitted += 1
        cpu, started = time.thread_time(), time.monotonic()
        deliver(work())
        with self._cond:
            for stats in (self.total, self._camera(camera)):
                stats.described += 1
                stats.cpu_seconds += time.thread_time() - cpu
                stats.wait_seconds += time.monotonic() - started


class FrameLog(CameraMetrics):
    """A camera's figures plus every frame it decoded and analysed, with when (monotonic)."""

    def __init__(self, camera: str, declared_fps: float | None = None) -> None:
        super().__init__(camera, declared_fps)
        self.decoded_log: list[tuple[float, float]] = []  # (monotonic, pts)
        self.detected_log: list[tuple[float, float]] = []  # (monotonic, pts) of frames detected

    def decoded(self, pts: float, timestamp: float, now: float | None = None) -> None:
        super().decoded(pts, timestamp, now)
        self.decoded_log.append((time.monotonic(), pts))

    def analysed(self, pts: float, timestamp: float, detected: bool, objects: int) -> None:
        super().analysed(pts, timestamp, detected, objects)
        if detected:
            self.detected_log.append((time.monotonic(), pts))


class LoggingRegistry(MetricsRegistry):
    """The node's registry, with a ``FrameLog`` per camera."""

    def camera(self, name: str, declared_fps: float | None = None) -> CameraMetrics:
        with self._lock:
            self._cameras.setdefault(name, FrameLog(name, declared_fps))
        return super().camera(name, declared_fps)


class Presence:
    """Which frames of the footage have objects present: from its ground truth when it has one
    (``gt.txt`` beside it), else every frame (the conservative rule: all time is scored)."""

    def __init__(self, video: Path) -> None:
        gt = video.parent / "gt.txt"
        self.present: np.ndarray | None = None
        self.source = "no ground truth: every second counts as present"
        if gt.is_file():
            rows = load_mot(gt, ground_truth=True)
            frames = rows[:, 0].astype(int) - 1  # gt frame N is decoded frame N-1
            self.present = np.zeros(max(count_frames(video), frames.max() + 1), bool)
            self.present[frames] = True
            self.source = (
                f"{gt.parent.name}/gt.txt ({self.present.sum()} of {len(self.present)} frames present)"
            )

    def mask(self, pts: np.ndarray) -> np.ndarray:
        """Present flags for frames at ``pts`` (a looped file keeps counting pts across passes)."""
        if self.present is None:
            return np.ones(len(pts), bool)
        return self.present[np.round(pts * GT_FPS).astype(int) % len(self.present)]

    def rate(self, cam: FrameLog, start: float, end: float) -> tuple[float, float]:
        """(detections a second while present, present seconds) over frames decoded in [start, end)."""
        decoded = np.array(cam.decoded_log or [(0.0, 0.0)]).reshape(-1, 2)
        detected = np.array(cam.detected_log or [(0.0, 0.0)]).reshape(-1, 2)
        in_window = (decoded[:, 0] >= start) & (decoded[:, 0] < end)
        pts = decoded[in_window, 1]
        if len(pts) < 2:
            return float("nan"), 0.0
        step = float(np.median(np.diff(pts)))  # one frame interval of the footage
        present_s = float(self.mask(pts).sum()) * step
        lo, hi = pts.min(), pts.max()
        det = detected[(detected[:, 1] >= lo) & (detected[:, 1] <= hi), 1]
        hits = int(self.mask(det).sum())
        return (hits / present_s if present_s > 0 else float("nan")), present_s


def count_frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def verdict(row: dict, max_dropped: int) -> str:
    """The word pass, or why the camera failed (a NaN rate fails: nothing was judged)."""
    reasons = []
    if not row["lag_p95"] < MAX_LAG_S:
        reasons.append(f"lag p95 {row['lag_p95']:.2f} s")
    if not row["present_fps"] >= MIN_PRESENT_FPS:  # False for NaN
        reasons.append(f"{row['present_fps']:.2f} detections/s over {row['present_s']:.1f} s present")
    if row["dropped"] > max_dropped:
        reasons.append(f"{row['dropped']} frames dropped")
    return "pass" if not reasons else "; ".join(reasons)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def camera_source(video: Path, capacity: CapacityConfig) -> SourceConfig:
    return SourceConfig(
        url=str(video), realtime=True, loop=True, width=capacity.decode_width, threads=capacity.decode_threads
    )


# -- 1. decode only ------------------------------------------------------------------------------


def decode_trial(video: Path, n: int, seconds: float, capacity: CapacityConfig) -> tuple[bool, float]:
    """N realtime copies decoded and discarded; (all kept up, worst drift in s)."""
    stop = threading.Event()
    drift = [0.0] * n

    def play(i: int) -> None:
        source = FileSource(f"d{i}", camera_source(video, capacity))
        source_stop = threading.Thread(target=lambda: stop.wait() and source.stop(), daemon=True)
        source_stop.start()
        start, first = time.monotonic(), None
        for frame in source:
            first = frame.pts if first is None else first
            drift[i] = max(drift[i], (time.monotonic() - start) - (frame.pts - first))
        source.close()

    threads = [threading.Thread(target=play, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(5)
    worst = max(drift)
    return worst < MAX_LAG_S, worst


# -- where a camera thread's CPU goes ----------------------------------------------------------------


class StageClock:
    """``--stage-cpu``: thread-CPU seconds of each stage of the camera loop, summed over cameras,
    by wrapping the stage's method (a stage called inside another is also counted in it: ``plan``
    holds ``motion`` and ``regions``, ``finish`` holds ``db writes``, ``track rows``, ``describer
    observe`` and, where tracks are described inline, ``describe``). ``describe`` counts whichever
    thread describes: the node's background describer in a live trial."""

    def __init__(self) -> None:
        from scenewatch.flow.camera import CameraRun
        from scenewatch.flow.detect import InlineDetector
        from scenewatch.flow.fallen import FallenPersonWatch
        from scenewatch.flow.finish import FinishStage
        from scenewatch.flow.still import StillPersonCheck
        from scenewatch.flow.suppress import Suppressor
        from scenewatch.health.watch import HealthWatch
        from scenewatch.runtime.inference import PoolClient
        from scenewatch.runtime.motion import MotionGate
        from scenewatch.runtime.planner import DetectionPlanner
        from scenewatch.runtime.regions import Mosaic
        from scenewatch.store.writer import TrackWriter
        from scenewatch.tracking.tracker import Tracker
        from scenewatch.vision.attributes.describer import AttributeDescriber
        from scenewatch.vision.filters import DetectionFilter
        from scenewatch.vision.pose import PoseEstimator

        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        stages = [
            ("camera loop (all)", CameraRun, "process"),
            ("health", HealthWatch, "observe"),
            ("plan", DetectionPlanner, "plan"),
            ("motion", MotionGate, "update"),
            ("regions (render)", Mosaic, "render"),
            ("submit", PoolClient, "submit"),
            ("merge", DetectionPlanner, "merge"),
            ("filter", DetectionFilter, "keep"),
            ("suppress", Suppressor, "keep"),
            ("tracking", Tracker, "update"),
            ("tracking (coast)", Tracker, "coast"),
            ("still check", StillPersonCheck, "check"),
            ("fallen check", FallenPersonWatch, "check"),
            ("finish", FinishStage, "add"),
            ("db writes", TrackWriter, "flush"),
            ("track rows", TrackWriter, "add"),
            ("describer observe", AttributeDescriber, "observe"),
            ("describe", AttributeDescriber, "attributes"),
            ("planner observe", DetectionPlanner, "observe"),
            ("detection (inline)", InlineDetector, "submit"),
            ("pose runs (in still check, describe)", PoseEstimator, "estimate"),
        ]
        for name, cls, method in stages:
            setattr(cls, method, self._wrap(name, getattr(cls, method)))

    def _wrap(self, name: str, method):
        def timed(*args, **kwargs):
            start = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent = time.thread_time() - start
                with self._lock:
                    self.seconds[name] = self.seconds.get(name, 0.0) + spent

        return timed

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.seconds)


STAGE_CLOCK: StageClock | None = None


# -- steady costs: the capacity path on one file, as fast as it decodes ----------------------------


def steady_costs(video: Path, settings: AppConfig, capacity: CapacityConfig) -> None:
    """CPU ms a camera-second of ``video`` played once through the capacity path (``index_file``:
    the planner paces detections by the footage's clock, the detector answers in the camera's
    thread, so nothing is dropped and the figures do not depend on the machine's load the way a
    live trial's do). Split by stage; no health checks or background describer on this path.
    The figures a camera-second are those of the frame loop: the decode thread is timed on its
    own, and the start-up (models loaded, the store opened) and close are printed apart, once."""
    from scenewatch.flow import camera as camera_module
    from scenewatch.flow.camera import CameraRun
    from scenewatch.runtime.regions import Mosaic

    clock = STAGE_CLOCK or StageClock()
    canvases: list[float] = []
    render, watch, prefetch = Mosaic.render, CameraRun._watch, camera_module.prefetch
    decoding = [0.0]  # CPU s of the decode thread drawing frames from the source
    loop_cpu: list[float] = []  # process CPU when the frame loop starts and ends

    def counted(mosaic: Mosaic, image: np.ndarray) -> np.ndarray:
        canvases.append(mosaic.canvas[0] * mosaic.canvas[1] / mosaic.size**2)
        return render(mosaic, image)

    def timed_source(frames):
        frames = iter(frames)
        while True:
            cpu = time.thread_time()
            frame = next(frames, None)
            decoding[0] += time.thread_time() - cpu
            if frame is None:
                return
            yield frame

    def watched(run, result) -> None:
        loop_cpu.append(time.process_time())
        try:
            watch(run, result)
        finally:
            loop_cpu.append(time.process_time())

    Mosaic.render = counted  # type: ignore[method-assign]
    CameraRun._watch = watched  # type: ignore[method-assign]
    camera_module.prefetch = lambda frames, depth=4: prefetch(timed_source(frames), depth)
    # one inference thread, as each pool worker has: all of detection's CPU is the camera thread's
    settings = settings.model_copy(update={"detector": settings.detector.model_copy(update={"threads": 1})})
    detector = build_detector(settings)
    before, cpu = clock.snapshot(), time.process_time()
    try:
        _, result = index_and_export(video, settings, detector, None, capacity)
    finally:
        Mosaic.render = render  # type: ignore[method-assign]
        CameraRun._watch = watch  # type: ignore[method-assign]
        camera_module.prefetch = prefetch
    total = time.process_time() - cpu
    steady = loop_cpu[-1] - loop_cpu[0] if len(loop_cpu) == 2 else total
    seconds = max(result.video_seconds, 1e-9)
    spent = {k: 1000 * (v - before.get(k, 0.0)) / seconds for k, v in clock.snapshot().items()}
    detect = spent.pop("detection (inline)", 0.0)
    loop = spent.pop("camera loop (all)", 0.0)
    decode = 1000 * decoding[0] / seconds
    print(
        f"steady costs ({video.name}, {seconds:.0f} s played once as fast as it decodes; canvas "
        f"{'cut to its tiles' if capacity.trim_canvas else 'full'}): {1000 * steady / seconds:.0f} ms CPU a "
        f"camera-second in all ({1000 * total / seconds:.0f} with the start-up and close, {total - steady:.1f} s "
        f"once); detection {detect:.0f} ({result.frames_detected / seconds:.2f} a second, "
        f"{detect * seconds / max(result.frames_detected, 1):.1f} ms each; {len(canvases)} mosaics, canvas "
        f"{np.mean(canvases) if canvases else float('nan'):.2f} of the model's input on average; detector input "
        f"{(result.frames_detected - len(canvases) + sum(canvases)) / seconds:.2f} model inputs a second); camera "
        f"loop beside detection {loop - detect:.0f}; decoding {decode:.0f}; the rest "
        f"{1000 * steady / seconds - loop - decode:.0f}  [{load()}]"
    )
    print(
        "  camera loop by stage: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.05),
        flush=True,
    )


# -- 2. full capacity ----------------------------------------------------------------------------


def capacity_trial(
    video: Path,
    seconds: float,
    warmup: float,
    settings: AppConfig,
    capacity: CapacityConfig,
    presence: Presence,
    max_dropped: int,
    n: int,
) -> tuple[bool, dict]:
    """N realtime cameras through run_cameras; (passed, worst figures over the cameras)."""
    cameras = [CameraConfig(name=f"cam{i}", source=camera_source(video, capacity)) for i in range(n)]
    trial = settings.model_copy(update={"cameras": cameras})
    metrics = LoggingRegistry()
    stop = threading.Event()
    lags: dict[str, list[float]] = {}
    marks: dict[str, tuple[int, int, int, float]] = {}  # (dropped, decoded, detected, monotonic)
    # per camera when scoring starts and ends: see _costs
    costs: dict[str, tuple[float, ...]] = {}
    costs_end: dict[str, tuple[float, ...]] = {}
    process: list[tuple[float, float]] = []  # (monotonic, process CPU) when scoring starts and ends
    roles: list[dict[str, float]] = []  # CPU seconds by thread role when scoring starts and ends

    def watch() -> None:
        started = time.monotonic()
        while not stop.wait(0.5):
            if time.monotonic() - started < warmup:
                continue
            if not process:
                process.append((time.monotonic(), time.process_time()))
                roles.append(thread_cpu() | _stage_seconds())
            for cam in metrics.cameras():
                costs.setdefault(cam.camera, _costs(cam))
                marks.setdefault(
                    cam.camera,
                    (cam.frames_dropped, cam.frames_decoded, cam.frames_detected, time.monotonic()),
                )
                lags.setdefault(cam.camera, []).append(max(cam.lag_s, cam.drift_s))
        if process:  # the duration is up: the cameras close now (not scored)
            process.append((time.monotonic(), time.process_time()))
            roles.append(thread_cpu() | _stage_seconds())
            costs_end.update((cam.camera, _costs(cam)) for cam in metrics.cameras())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        run_cameras(store, trial, stop, duration=seconds, capacity=capacity, metrics=metrics)
        store.engine.dispose()
        ended = time.monotonic()
    stop.set()
    watcher.join(2)
    rows = []
    detected = det_cpu = det_wall = other = 0.0
    runs = np.zeros(3)  # inferences (a shared one counted once), frames detected on a shared canvas, tiles
    for cam in metrics.cameras():
        if cam.camera in costs and cam.camera in costs_end:
            start, end = costs[cam.camera], costs_end[cam.camera]
            det_cpu, det_wall = det_cpu + end[0] - start[0], det_wall + end[1] - start[1]
            other, detected = other + end[2] - start[2], detected + end[3] - start[3]
            runs += np.subtract(end[4:], start[4:])
        drop0, dec0, det0, at = marks.get(cam.camera, (0, 0, 0, ended - 1e-9))
        present_fps, present_s = presence.rate(cam, at, process[1][0] if len(process) == 2 else ended)
        rows.append(
            {
                "lag_p95": float(np.quantile(lags.get(cam.camera, [99.0]), 0.95)),
                "present_fps": present_fps,
                "present_s": present_s,
                "dropped": cam.frames_dropped - drop0,
                "decoded_fps": (cam.frames_decoded - dec0) / (ended - at),
                "detect_fps": (cam.frames_detected - det0) / (ended - at),
                "cpu": float(cam.snapshot(ended)["cpu_share"]),
            }
        )
    failures = [
        f"{cam.camera}: {why}"
        for cam, r in zip(metrics.cameras(), rows, strict=True)
        if (why := verdict(r, max_dropped)) != "pass"
    ]
    ok = len(rows) == n and not failures
    described = metrics.node_snapshot()  # the node's describer of finished tracks
    worst = {
        "described": described.get("describe_done", 0),
        "degraded": described.get("describe_degraded", 0),
        "describe_max_queued": described.get("describe_max_queued", 0),
        "lag_p95": max(r["lag_p95"] for r in rows) if rows else float("nan"),
        "present_fps": float(np.min([r["present_fps"] for r in rows])) if rows else float("nan"),
        "failures": failures,
        "dropped": sum(r["dropped"] for r in rows),
        "decoded_fps": sum(r["decoded_fps"] for r in rows),
        "detect_fps": sum(r["detect_fps"] for r in rows),
        "cpu": sum(r["cpu"] for r in rows),
    }
    # where the CPU went in the scored window: per detection, and the rest per camera-second
    scored = len(process) == 2
    span = process[1][0] - process[0][0] if scored else float("nan")
    worst["process_cpu"] = (process[1][1] - process[0][1]) / span if scored else float("nan")
    worst["detect_ms"] = 1000 * det_cpu / detected if detected else float("nan")
    worst["detect_wall_ms"] = 1000 * det_wall / detected if detected else float("nan")
    worst["other_ms"] = 1000 * other / (n * span) if scored else float("nan")
    # what the detector did per camera-second: runs (shared ones counted once) and their CPU
    worst["runs_per_cam_s"] = runs[0] / (n * span) if scored else float("nan")
    worst["detect_ms_per_cam_s"] = 1000 * det_cpu / (n * span) if scored else float("nan")
    worst["shared_fraction"] = runs[1] / detected if detected else float("nan")
    worst["tiles_per_run"] = runs[2] / runs[0] if runs[0] else float("nan")
    worst["frames_per_run"] = detected / runs[0] if runs[0] else float("nan")
    worst["roles_ms"] = (
        # a thread that ended meanwhile took its CPU with it: its role shows 0, not less
        {
            role: max(0.0, 1000 * (cpu - roles[0].get(role, 0.0)) / (n * span))
            for role, cpu in roles[1].items()
        }
        if scored and len(roles) == 2
        else {}
    )
    return ok, worst


def _stage_seconds() -> dict[str, float]:
    return {f"stage {k}": v for k, v in STAGE_CLOCK.snapshot().items()} if STAGE_CLOCK else {}


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads so far, summed by role: the thread's name without its
    camera or number (camera, decode, detector, describer, health, ...); threads that Python did
    not start (ONNX Runtime's, FFmpeg's) count as native. Threads that ended are not counted."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        name = names.get(int(task.name), "native")
        role = name.split("-")[0] if name.startswith(("camera-", "detector-", "record-")) else name
        role = "other" if role.startswith("Thread") else role
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return out


def _costs(cam) -> tuple[float, ...]:
    """(detector CPU s, detector wall s, decode + analysis CPU s, detections, detector runs (its
    share of shared ones), detections on a shared canvas, tiles) of one camera so far."""
    return (
        cam.detector_cpu_seconds,
        cam.detector_seconds,
        cam.cpu_seconds - cam.detector_cpu_seconds,
        cam.frames_detected,
        cam.detector_inferences,
        cam.detections_shared,
        cam.tiles_detected,
    )


# -- search ----------------------------------------------------------------------------------------


def largest(trial, start: int, ceiling: int, label: str) -> int:
    """Largest N in [1, ceiling] for which ``trial(N)`` passes: grow by 1.5x from ``start`` while
    it passes (or shrink while it fails), then bisect. Prints every trial."""
    results: dict[int, bool] = {}

    def run(n: int) -> bool:
        if n not in results:
            results[n], detail = trial(n)
            print(f"  {label} N={n:3d}: {'pass' if results[n] else 'FAIL'}  {detail}  [{load()}]", flush=True)
        return results[n]

    n = max(1, min(start, ceiling))
    if run(n):
        good, bad = n, None
        while bad is None and good < ceiling:
            n = min(ceiling, max(good + 1, round(good * 1.5)))
            good, bad = (n, None) if run(n) else (good, n)
    else:
        good, bad = 0, n
        while good == 0 and bad > 1:
            n = max(1, bad * 2 // 3)
            good, bad = (n, bad) if run(n) else (0, n)
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if run(mid) else (good, mid)
    return good


def decode_cost(video: Path, capacity: CapacityConfig) -> tuple[float, float]:
    """(CPU seconds per frame for decoding one camera as fast as possible, the footage's fps)."""
    source = FileSource("probe", camera_source(video, capacity).model_copy(update={"realtime": False}))
    fps = source.info.fps if source.info and source.info.fps else 25.0
    start, count = time.process_time(), 0
    for _ in source:
        count += 1
        if count >= 300:
            break
    source.close()
    return (time.process_time() - start) / max(count, 1), fps


# -- 3. stage costs and the arithmetic of the target ----------------------------------------------


def _median_cpu_ms(call, runs: int) -> tuple[float, float]:
    """(median thread-CPU ms, median wall ms) of ``call()`` over ``runs`` runs after 3 warm-ups."""
    for _ in range(3):
        call()
    cpu, wall = [], []
    for _ in range(runs):
        c, w = time.thread_time(), time.perf_counter()
        call()
        cpu.append(1000 * (time.thread_time() - c))
        wall.append(1000 * (time.perf_counter() - w))
    return float(np.median(cpu)), float(np.median(wall))


def first_frame(video: Path, capacity: CapacityConfig, skip: int = 50):
    source = FileSource("probe", camera_source(video, capacity).model_copy(update={"realtime": False}))
    for frame in source:
        if frame.index >= skip:
            break
    source.close()
    return frame


def stage_costs(video: Path, capacity: CapacityConfig, runs: int) -> dict[str, float]:
    """CPU ms a detection (batch 1, one thread) per detector, and of describing one person track."""
    from scenewatch.models import ModelStore
    from scenewatch.vision.attributes import AttributeDescriber
    from scenewatch.vision.attributes.crops import Crop, crop_around

    frame = first_frame(video, capacity)
    models = ModelStore()
    costs: dict[str, float] = {}
    people = None
    for name in ("centernet", "nanodet"):
        detector = DETECTORS[name](models.path(DETECTORS[name].model_file), threads=1)
        cpu, wall = _median_cpu_ms(lambda d=detector: d.detect_one(frame.image), runs)
        costs[name] = cpu
        found = detector.detect_one(frame.image)
        print(
            f"  stage: {name:9s} detection, batch 1, 1 thread: {cpu:6.1f} ms CPU ({wall:.1f} ms wall), "
            f"{len(found)} objects  [{load()}]",
            flush=True,
        )
        if name == "centernet":
            keep = (found.class_ids == 0) & (found.scores >= 0.3)
            people = found.xyxy[keep][np.argsort(-found.scores[keep])]
    describer = AttributeDescriber(models)  # the configured defaults: 3 crops, pose at 192 px
    crops = []
    for box in (people if people is not None else [])[:3]:
        image, inner = crop_around(frame.image, box, 0.15)
        crops.append(Crop(image, inner, frame.index, frame.timestamp, 1.0, 200.0))
    if crops:
        cpu, wall = _median_cpu_ms(lambda: describer.person(crops), max(3, runs // 4))
        costs["describe"] = cpu
        print(
            f"  stage: describe one person track ({len(crops)} crops, pose + colours): {cpu:.1f} ms CPU "
            f"({wall:.1f} ms wall); cheap when degraded (1 crop, no pose): "
            f"{_median_cpu_ms(lambda: describer.person(crops[:1], False), max(3, runs // 4))[0]:.1f} ms CPU"
        )
    return costs


def target_arithmetic(
    decode_limit: int, limit_kind: str, decode_ms: float, fps: float, costs: dict[str, float], cores: int
) -> None:
    """Print whether half the decode-only limit can detect at the required rate on these cores."""
    n = max(1, -(-decode_limit // 2))  # ceil(50 %)
    need = n * (MIN_PRESENT_FPS + 0.05)  # detections a second with objects present on every camera
    decode_cores = n * fps * decode_ms / 1000
    print(
        f"target arithmetic: 50 % of the decode-only limit ({limit_kind} {decode_limit}) = {n} cameras; "
        f"each needs 5 detections/s while objects are present (vtest: always) = {need:.0f} detections/s; "
        f"decoding them takes {decode_cores:.2f} cores"
    )
    for name in ("centernet", "nanodet"):
        if name in costs:
            det_cores = need * costs[name] / 1000
            print(
                f"  {name}: {need:.0f}/s x {costs[name]:.1f} ms = {det_cores:.2f} cores for detection "
                f"+ {decode_cores:.2f} decode = {det_cores + decode_cores:.2f} of {cores} cores "
                f"({'feasible' if det_cores + decode_cores <= cores else 'INFEASIBLE'}); "
                f"detection alone caps this machine at {cores * 1000 / costs[name] / 5:.0f} cameras"
            )


# -- 4. accuracy -----------------------------------------------------------------------------------


def mota(
    settings: AppConfig, detector, capacity: CapacityConfig | None, name: str = "TUD-Stadtmitte"
) -> tuple[str, int]:
    """MOTA line on every ground-truth frame of ``name`` (the protocol of ``bench/tracking.py``)."""
    rows, result = index_and_export(DATA / "mot" / name / f"{name}.mp4", settings, detector, None, capacity)
    scores, coverage = score_sequence(name, rows)
    return f"{scores.line()}  ({coverage})", result.frames_detected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DATA / "video" / "vtest.avi")
    parser.add_argument("--detector", default="centernet", choices=["centernet", "nanodet"])
    parser.add_argument("--trial-s", type=float, default=20.0, help="seconds per capacity trial")
    parser.add_argument("--decode-trial-s", type=float, default=12.0, help="seconds per decode-only trial")
    parser.add_argument("--warmup-s", type=float, default=6.0, help="seconds not scored at a trial's start")
    parser.add_argument("--workers", type=int, default=2, help="detector pool workers")
    parser.add_argument("--decode-width", type=int, help="decode cameras at most this wide")
    parser.add_argument(
        "--queue-depth",
        type=int,
        help="frames a camera may have waiting for the detector (default: config's)",
    )
    parser.add_argument("--start", type=int, default=8, help="first N of the capacity search")
    parser.add_argument(
        "--cameras",
        type=int,
        nargs="+",
        help="run capacity trials at exactly these N (repeats allowed: 8 8 8 9) instead of searching",
    )
    parser.add_argument(
        "--describe",
        choices=["background", "inline"],
        default="background",
        help="describe finished tracks in the node's background worker (the product) or, as a "
        "baseline, in the camera's thread when its row is stored",
    )
    parser.add_argument(
        "--max-dropped", type=int, default=0, help="frames a camera may drop in the scored window and pass"
    )
    parser.add_argument("--stage-runs", type=int, default=30, help="timed runs per stage cost")
    parser.add_argument(
        "--skip", choices=["decode", "capacity", "stages", "mota", "costs"], action="append", default=[]
    )
    parser.add_argument("--device", action="store_true", help="cameras per accelerator in one short run")
    parser.add_argument(
        "--providers", choices=sorted(ACCELERATORS), nargs="+", help="accelerators --device may use"
    )
    parser.add_argument("--device-s", type=float, default=20.0, help="seconds of the accelerator's rate")
    parser.add_argument("--no-regions", action="store_true", help="one crop around motion, as before")
    parser.add_argument(
        "--no-share", action="store_true", help="each camera's mosaic detected alone (the baseline)"
    )
    parser.add_argument(
        "--no-trim", action="store_true", help="mosaics on the detector's full input (the baseline)"
    )
    parser.add_argument(
        "--stage-cpu", action="store_true", help="split the camera threads' CPU by stage (timers on each)"
    )
    args = parser.parse_args()
    if args.stage_cpu:
        global STAGE_CLOCK
        STAGE_CLOCK = StageClock()
    settings = AppConfig.model_validate({"detector": {"type": args.detector}})
    if args.describe == "inline":
        camera_runner.DescribeQueue = InlineDescriber  # the runner builds the node's describer
    capacity = CapacityConfig(
        enabled=True,
        pool_workers=args.workers,
        decode_width=args.decode_width,
        regions=not args.no_regions,
        share_mosaics=not args.no_share,
        trim_canvas=not args.no_trim,
    )
    if args.queue_depth:
        capacity = capacity.model_copy(update={"queue_depth": args.queue_depth})
    if args.device:
        device_run(args, settings, capacity)
        return
    print(f"machine: {describe_machine()}  [{load()}]")
    print(
        f"footage: {args.video.name}; detector {args.detector}, {args.workers} pool worker(s), "
        f"track description {args.describe}, "
        f"queue depth {capacity.queue_depth}, shared mosaics {'on' if capacity.share_mosaics else 'off'}, "
        f"mosaic canvas {'cut to its tiles' if capacity.trim_canvas else 'full'}; "
        f"decode width {capacity.decode_width or 'full'}, {capacity.decode_threads} decoder thread(s)"
    )
    cores = len(os.sched_getaffinity(0))
    presence = Presence(args.video)
    trial_args = (args.video, args.trial_s, args.warmup_s, settings, capacity, presence, args.max_dropped)
    if "capacity" not in args.skip:
        print(
            f"pass rule: lag p95 < {MAX_LAG_S:.0f} s, <= {args.max_dropped} frames dropped, >= 5 detections/s "
            f"while objects are present; presence from {presence.source}"
        )
    decode_limit = capacity_limit = None
    cost, fps = decode_cost(args.video, capacity)
    estimate = max(1, int(cores / (cost * fps)))
    if "decode" not in args.skip:
        print(
            f"decode-only: {1000 * cost:.1f} ms CPU a frame at {fps:.1f} fps -> estimate {estimate} cameras"
        )
        decode_limit = largest(
            lambda n: _fmt_decode(decode_trial(args.video, n, args.decode_trial_s, capacity)),
            estimate,
            200,
            "decode-only",
        )
        print(f"decode-only limit: {decode_limit} cameras  [{load()}]", flush=True)
    if "capacity" not in args.skip and args.cameras:
        passed = []
        for n in args.cameras:
            ok, detail = _fmt_capacity(capacity_trial(*trial_args, n))
            passed.append(ok)
            print(f"  capacity N={n:3d}: {'pass' if ok else 'FAIL'}  {detail}  [{load()}]", flush=True)
        print(f"capacity trials: {sum(passed)} of {len(passed)} passed  [{load()}]")
    elif "capacity" not in args.skip:
        capacity_limit = largest(
            lambda n: _fmt_capacity(capacity_trial(*trial_args, n)),
            args.start,
            decode_limit or 100,
            "capacity",
        )
        print(f"capacity: {capacity_limit} cameras (the pass rule above)  [{load()}]")
    if decode_limit and capacity_limit is not None:
        print(
            f"RESULT: capacity {capacity_limit} / decode-only {decode_limit} = "
            f"{100 * capacity_limit / decode_limit:.0f} % (target >= 50 %; >= 8 cameras)  [{load()}]"
        )
    if "stages" not in args.skip:
        costs = stage_costs(args.video, capacity, args.stage_runs)
        kind = "measured" if decode_limit else "estimated from decode CPU,"
        target_arithmetic(decode_limit or estimate, kind, 1000 * cost, fps, costs, cores)
        bound = int(cores * 1000 / costs[args.detector] / (MIN_PRESENT_FPS + 0.05))
        print(f"detector-bound limit ({args.detector}): {bound} cameras  [{load()}]")
        if capacity_limit is not None:
            print(
                f"RESULT: capacity {capacity_limit} / detector-bound {bound} = {capacity_limit / bound:.2f} "
                f"(target >= 0.85)  [{load()}]"
            )
    if "costs" not in args.skip:
        steady_costs(args.video, settings, capacity)
    if "mota" not in args.skip:
        detector = build_detector(settings)
        for name, part in (("TUD-Campus", "dev"), ("TUD-Stadtmitte", "test")):
            full, n_full = mota(settings, detector, None, name)
            sampled, n_sampled = mota(settings, detector, capacity, name)
            print(f"{name} ({part}, {args.detector}), full rate      : {full}  ({n_full} detections)")
            print(f"{name} ({part}, {args.detector}), capacity config: {sampled}  ({n_sampled} detections)")


# -- --device: cameras per accelerator --------------------------------------------------------------

ACCELERATORS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider"}


def accelerator_name() -> str:
    """The GPU's name as nvidia-smi gives it, or "unknown accelerator"."""
    import subprocess

    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown accelerator"


def detection_rate(detector_type: str, providers: list[str], workers: int, seconds: float) -> float:
    """Detections a second of ``workers`` sessions on ``providers``, each in its own thread."""
    from scenewatch.models import ModelStore

    cls = DETECTORS[detector_type]
    side = cls.input_size() or 512
    image = np.random.default_rng(0).integers(0, 255, (side, side, 3), np.uint8)
    sessions = [
        cls(ModelStore().path(cls.model_file), threads=1, providers=providers) for _ in range(workers)
    ]
    for session in sessions:  # the first runs build kernels (TensorRT: its engine)
        for _ in range(3):
            session.detect_one(image)
    counts = [0] * workers
    deadline = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < deadline:
            sessions[i].detect_one(image)
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def device_run(args, settings: AppConfig, capacity: CapacityConfig) -> None:
    from scenewatch.vision.detector import available_providers

    available = available_providers()
    wanted = (
        [ACCELERATORS[name] for name in args.providers] if args.providers else list(ACCELERATORS.values())
    )
    accel = [p for p in wanted if p in available]
    if not accel:
        print(f"no accelerator: {', '.join(available)}")
        return
    providers = accel[:1] + ["CPUExecutionProvider"]
    settings = settings.model_copy(
        update={"detector": settings.detector.model_copy(update={"providers": providers})}
    )
    cores = len(os.sched_getaffinity(0))
    print(
        f"device: {accelerator_name()} via {providers[0]}; host {describe_machine()}  [{load()}]", flush=True
    )
    rate = detection_rate(args.detector, providers, args.workers, args.device_s)
    detector_bound = int(rate / (MIN_PRESENT_FPS + 0.05))
    cost, fps = decode_cost(args.video, capacity)
    decode_bound = max(1, int(cores / (cost * fps)))
    print(
        f"  {args.detector} on the accelerator, {args.workers} session(s): {rate:.0f} detections/s -> "
        f"detector-bound {detector_bound} cameras at 5 detections/s; decoding {1000 * cost:.1f} ms CPU a "
        f"frame at {fps:.1f} fps -> decode-bound {decode_bound} cameras on {cores} cores",
        flush=True,
    )
    presence = Presence(args.video)
    n = max(1, min(detector_bound, decode_bound))
    for attempt in (n, max(1, round(0.85 * n))):
        ok, detail = _fmt_capacity(
            capacity_trial(
                args.video,
                args.trial_s,
                args.warmup_s,
                settings,
                capacity,
                presence,
                args.max_dropped,
                attempt,
            )
        )
        print(f"  capacity N={attempt:3d}: {'pass' if ok else 'FAIL'}  {detail}  [{load()}]", flush=True)
        if ok:
            print(
                f"RESULT: {accelerator_name()}: {attempt} cameras per accelerator "
                f"({attempt / max(1, min(detector_bound, decode_bound)):.2f} of the smaller bound)"
            )
            return
    print(f"RESULT: {accelerator_name()}: fewer than {round(0.85 * n)} cameras passed")


def _fmt_decode(result: tuple[bool, float]) -> tuple[bool, str]:
    ok, worst = result
    return ok, f"worst drift {worst:.2f} s"


def _fmt_capacity(result: tuple[bool, dict]) -> tuple[bool, str]:
    ok, w = result
    threads = {k: v for k, v in w["roles_ms"].items() if not k.startswith("stage ")}
    stages = {k: v for k, v in w["roles_ms"].items() if k.startswith("stage ")}
    return ok, (
        f"lag p95 {w['lag_p95']:.2f} s, min detect fps with objects {w['present_fps']:.2f}, "
        f"dropped {w['dropped']}, total decoded {w['decoded_fps']:.0f} fps, detected {w['detect_fps']:.0f} fps, "
        f"CPU {w['cpu']:.2f} cores (process {w['process_cpu']:.2f}); detector {w['detect_ms']:.0f} ms CPU "
        f"({w['detect_wall_ms']:.0f} ms wall) a detection, the rest {w['other_ms']:.0f} ms CPU a camera-second; "
        f"tracks described {w['described']} (degraded {w['degraded']}, most queued {w['describe_max_queued']})"
        + (f"; failed: {', '.join(w['failures'])}" if w["failures"] else "")
        + f"\n    detector per camera-second: {w['runs_per_cam_s']:.2f} inferences, {w['detect_ms_per_cam_s']:.0f} ms "
        f"CPU; shared mosaics: {100 * w['shared_fraction']:.0f} % of detections on a shared canvas, "
        f"{w['frames_per_run']:.2f} frames and {w['tiles_per_run']:.2f} tiles an inference"
        + "\n    CPU ms a camera-second by thread: "
        + ", ".join(f"{role} {ms:.0f}" for role, ms in sorted(threads.items(), key=lambda r: -r[1]))
        + f" (all {sum(threads.values()):.0f})"
        + (
            "\n    by stage (describe: in the describer's thread), CPU ms a camera-second: "
            + ", ".join(f"{role[6:]} {ms:.1f}" for role, ms in sorted(stages.items(), key=lambda r: -r[1]))
            if stages
            else ""
        )
    )


if __name__ == "__main__":
    main()
