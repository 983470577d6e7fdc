"""The flow for one camera: decode -> detect -> filter -> track -> store.

``index_file`` analyses a file as fast as the machine allows; ``run_cameras`` watches the
configured cameras until stopped. Both check everything that can be checked (the source opens,
the model loads) before they write anything, so bad input leaves no rows behind.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.config.source import SourceConfig
from scenewatch.errors import SceneWatchError
from scenewatch.health.watch import HealthWatch
from scenewatch.models import ModelStore
from scenewatch.notify import Dispatcher
from scenewatch.notify.alert import alert_from_event, alert_from_health
from scenewatch.recording.live import LiveRecording
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.posture import posture_for
from scenewatch.rules.standing import StandingSearches, watch_finished_tracks
from scenewatch.rules.store import EventRecorder
from scenewatch.runtime import (
    CameraMetrics,
    DescribeQueue,
    DetectionPlanner,
    DetectorPool,
    MetricsRegistry,
    PoolClient,
)
from scenewatch.runtime import wiring as capacity_wiring
from scenewatch.sources import Gap, open_source, redact
from scenewatch.store import repo
from scenewatch.store.data import DataStore
from scenewatch.store.writer import TrackWriter
from scenewatch.tracking import FinishedTrack, Tracker, finish_track
from scenewatch.types import Detections, Frame
from scenewatch.vision.attributes import build_describer
from scenewatch.vision.centernet import CenterNetDetector  # noqa: F401  (registers the detector)
from scenewatch.vision.detector import DETECTORS, Detector
from scenewatch.vision.filters import DetectionFilter
from scenewatch.vision.nanodet import NanoDetDetector  # noqa: F401  (registers the detector)

Progress = Callable[[str], None] | None
# Later stages hook in here: health sees every decoded frame, rules every tracked one.
FrameObserver = Callable[[Frame], None]
TrackObserver = Callable[[Frame, Detections, list[FinishedTrack]], None]
PROGRESS_INTERVAL_S = 5.0


@dataclass
class RunResult:
    camera: str
    source: str
    run_id: int | None
    status: str
    frames_decoded: int = 0
    frames_detected: int = 0
    tracks: int = 0
    seconds: float = 0.0
    video_seconds: float = 0.0
    note: str | None = None
    gaps: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames_decoded / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "fps": round(self.fps, 2)}

    def describe(self) -> str:
        speed = self.video_seconds / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"camera {self.camera}: {self.status}, {self.frames_decoded} frames "
            f"({self.frames_detected} detected) in {self.seconds:.1f} s = {self.fps:.1f} frames/s "
            f"({speed:.1f}x real time), {self.tracks} tracks, run {self.run_id}"
        )
        return text + (f"; {self.note}" if self.note else "")


def build_detector(settings: AppConfig, models: ModelStore | None = None) -> Detector:
    """The configured detector, its model from the model store (a clear error when missing)."""
    cls = DETECTORS[settings.detector.type]
    path = (models or ModelStore()).path(cls.model_file)
    return cls(path, threads=settings.detector.threads, providers=settings.detector.providers)


def build_filter(settings: AppConfig, camera: CameraConfig | None) -> DetectionFilter:
    det = settings.detector
    return DetectionFilter(
        classes=(camera.classes if camera and camera.classes else det.classes),
        score_threshold=(
            camera.score_threshold if camera and camera.score_threshold is not None else det.score_threshold
        ),
        class_thresholds=det.class_thresholds,
        min_size=det.min_size,
        ignore_polygons=camera.ignore_mask if camera else (),
    )


class CameraAnalyzer:
    """Stateful per-camera stage with one verb: ``process(frame)`` detects, tracks and stores."""

    def __init__(
        self,
        detector: Detector,
        detection_filter: DetectionFilter,
        tracker: Tracker,
        writer: TrackWriter,
        detect_fps: float | None = None,
        detector_lock: threading.Lock | None = None,
        frame_observers: Sequence[FrameObserver] = (),
        track_observers: Sequence[TrackObserver] = (),
        planner: DetectionPlanner | None = None,
        pool: PoolClient | None = None,
        metrics: CameraMetrics | None = None,
    ):
        self.detector = detector
        self.filter = detection_filter
        self.tracker = tracker
        self.writer = writer
        self.detect_interval = 1.0 / detect_fps if detect_fps else 0.0
        self.detector_lock = detector_lock
        self.frame_observers = list(frame_observers)
        self.track_observers = list(track_observers)
        self.last_slot: int | None = None
        self.frames_decoded = 0
        self.frames_detected = 0
        # capacity path (issue 8): the planner gates and paces the detector, the pool runs it
        self.planner, self.pool, self.metrics = planner, pool, metrics

    def due(self, frame: Frame) -> bool:
        """Sampling: detect on the first frame of each ``1 / detect_fps`` slot of source time."""
        if self.detect_interval == 0:
            return True
        slot = math.floor(frame.pts / self.detect_interval + 1e-6)
        if self.last_slot is not None and slot <= self.last_slot and slot >= self.last_slot - 1:
            return False
        self.last_slot = slot
        return True

    def process(self, frame: Frame) -> Detections | None:
        """Analyse one frame; None when sampling skips it."""
        self.frames_decoded += 1
        for observe in self.frame_observers:
            observe(frame)
        if self.planner is not None:
            return self._process_planned(frame)
        if not self.due(frame):
            return None
        raw = self._detect(frame)
        self.frames_detected += 1
        tracked = self._track(frame, raw)
        if self.metrics is not None:
            self.metrics.analysed(frame.pts, frame.timestamp, True, len(tracked))
        return tracked

    def _track(self, frame: Frame, raw: Detections) -> Detections:
        """Filter, track and store one frame's raw detections; tell the track observers."""
        detections = self.filter.keep(raw, frame.image.shape)
        tracked = self.tracker.update(detections, frame.timestamp, frame.index)
        finished = self.tracker.finished
        self.writer.add(frame, tracked, finished, raw)
        for observe in self.track_observers:
            observe(frame, tracked, finished)
        return tracked

    def _detect(self, frame: Frame) -> Detections:
        if self.detector_lock is None:
            return self.detector.detect_one(frame.image)
        with self.detector_lock:
            return self.detector.detect_one(frame.image)

    # -- capacity path (issue 8): motion gate, adaptive rate, shared detector pool ----------------

    def _process_planned(self, frame: Frame) -> Detections | None:
        """Track what the pool has answered, then skip, reuse or submit ``frame`` as planned."""
        assert self.planner is not None
        self.collect()
        plan = self.planner.plan(frame)
        if plan.kind == "skip":
            return None
        if plan.kind == "reuse":
            return self._track_planned(frame, plan, None)
        if self.pool is None:
            image = plan.image(frame.image)
            if self.detector_lock is None:
                return self._track_planned(frame, plan, self.detector.detect_one(image))
            with self.detector_lock:
                raw = self.detector.detect_one(image)
            return self._track_planned(frame, plan, raw)
        self.pool.submit(plan.image(frame.image), (frame, plan))  # never blocks; answers come later
        return None

    def collect(self, wait: float = 0.0) -> None:
        """Track the frames the detector pool has answered, in order (after ``wait`` s for the rest)."""
        if self.pool is None:
            return
        if wait:
            self.pool.wait_idle(wait)
        for (frame, plan), raw, error in self.pool.results():
            if error is None:
                self._track_planned(frame, plan, raw)
        if self.metrics is not None:
            self.metrics.frames_dropped = self.pool.dropped
            self.metrics.detector_seconds = self.pool.detector_seconds
            self.metrics.detector_cpu_seconds = self.pool.detector_cpu_seconds

    def _track_planned(self, frame: Frame, plan, raw: Detections | None) -> Detections:
        assert self.planner is not None
        self.frames_detected += plan.detects
        tracked = self._track(frame, self.planner.merge(plan, frame, raw))
        self.planner.observe(tracked, frame)
        if self.metrics is not None:
            self.metrics.analysed(frame.pts, frame.timestamp, plan.detects, len(tracked))
        return tracked

    def close(self) -> None:
        """Finish every open track and write what is left."""
        if self.pool is not None:
            self.collect(wait=5.0)
            self.pool.close()
        self.writer.finish(self.tracker.flush())
        self.writer.close()


def prefetch(frames: Iterable[Frame], depth: int = 4) -> Iterator[Frame]:
    """Decode in a thread of its own so decoding and detection overlap (both release the GIL)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put(exc)

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def index_file(
    store: DataStore,
    settings: AppConfig,
    video: Path | str,
    camera: str,
    detect_fps: float | None = None,
    progress: Progress = None,
    models: ModelStore | None = None,
    detector: Detector | None = None,
    capacity: CapacityConfig | None = None,
) -> RunResult:
    """Analyse a whole video file into the store under ``camera``.

    A camera of that name in ``settings`` lends its settings (masks, zones, rules); the file and
    ``detect_fps`` replace its source and sampling.
    """
    source = SourceConfig(url=str(video))
    configured = next((c for c in settings.cameras if c.name == camera), None)
    if configured is None:
        camera_config = CameraConfig(name=camera, source=source, detect_fps=detect_fps)
    else:
        camera_config = configured.model_copy(update={"source": source, "detect_fps": detect_fps})
    return _analyse(store, settings, camera_config, "index", progress, models, detector, capacity=capacity)


def _analyse(
    store: DataStore,
    settings: AppConfig,
    camera: CameraConfig,
    mode: str,
    progress: Progress,
    models: ModelStore | None = None,
    detector: Detector | None = None,
    detector_lock: threading.Lock | None = None,
    stop: threading.Event | None = None,
    health: HealthWatch | None = None,
    capacity: CapacityConfig | None = None,
    pool: DetectorPool | None = None,
    metrics: MetricsRegistry | None = None,
    dispatcher: Dispatcher | None = None,
    observers: Sequence[TrackObserver] = (),
    describe_queue: DescribeQueue | None = None,
    recording: LiveRecording | None = None,
) -> RunResult:
    detector = detector or build_detector(settings, models)  # a missing model fails before any write
    run: dict[str, int] = {}

    def gap_ended(gap: Gap) -> None:
        if gap.end is not None and run:
            repo.record_gap(store.engine, run["camera"], run["id"], gap.start, gap.end, gap.reason)
            if health is not None:
                health.note_gap(camera.name, gap.start, gap.end)

    camera = capacity_wiring.capacity_camera(camera, capacity)  # decode width/threads (issue 8)
    source = open_source(camera.name, camera.source, on_gap=gap_ended)  # so does an unreadable video
    info = source.info
    try:  # zones and lines outside the frame fail here, before any write
        size = (info.width, info.height) if info and info.width else None
        rules = RuleEngine(camera, size, posture_for(camera, models)) if camera.rules else None
    except BaseException:
        source.close()
        raise
    camera_id = repo.ensure_camera(
        store.engine,
        camera.name,
        redact(camera.source.url),
        info.width if info else None,
        info.height if info else None,
        info.fps if info else None,
    )
    repo.mark_interrupted_runs(store.engine, camera_id)
    run_id = repo.start_run(store.engine, camera_id, redact(camera.source.url), mode)
    run.update(camera=camera_id, id=run_id)
    if health is not None:
        health.add_camera(camera.name, camera_id, time.time())
    if stop is not None:
        # A stalled stream blocks iteration; stopping the source ends it from outside.
        threading.Thread(target=lambda: stop.wait() and source.stop(), daemon=True).start()
    tracker_config = camera.tracker_settings(settings.tracker)
    writer = TrackWriter(
        store,
        camera.name,
        camera_id,
        run_id,
        finisher=lambda track: finish_track(track, tracker_config.max_gap, tracker_config.min_track_hits),
        describer=build_describer(settings, camera, models),
        describe_queue=describe_queue,  # live cameras: tracks are described off this thread
    )
    recorder = _event_recorder(store, rules, camera, camera_id, run_id, dispatcher, settings, recording)
    searches = StandingSearches(camera, store.media)
    if searches and recorder is not None:  # saved searches judge each track once it is described
        writer.on_indexed.append(watch_finished_tracks(searches, store.engine, recorder.save))
    camera_metrics = metrics.camera(camera.name, info.fps if info else None) if metrics else None
    analyzer = CameraAnalyzer(
        detector,
        build_filter(settings, camera),
        Tracker(tracker_config),
        writer,
        camera.detect_fps,
        detector_lock,
        frame_observers=[health.observe] if health is not None else (),
        planner=capacity_wiring.build_planner(capacity, camera.name),
        pool=pool.client(camera.name) if pool is not None else None,
        metrics=camera_metrics,
        track_observers=[*([recorder] if recorder else []), *observers],
    )
    result = RunResult(camera.name, redact(camera.source.url), run_id, "done")
    started = time.monotonic()
    last_report = started
    first_pts = None
    last_pts = 0.0
    try:
        for frame in prefetch(capacity_wiring.metered(source, camera_metrics)):
            analyzer.process(frame)
            first_pts = frame.pts if first_pts is None else first_pts
            last_pts = frame.pts
            now = time.monotonic()
            if progress and now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                rate = analyzer.frames_decoded / (now - started)
                progress(
                    f"camera {camera.name}: frame {frame.index}, {rate:.1f} frames/s, "
                    f"{writer.tracks_started} tracks"
                )
            if stop is not None and stop.is_set():
                break
        if stop is not None and stop.is_set():
            result.status = "stopped"
        if source.stopped_at is not None:
            # A damaged file: what was decoded is kept; the run says where it stopped.
            result.status = "truncated"
            result.note = source.stopped_at.message
    except BaseException as exc:
        result.status = "failed"
        result.note = str(exc) if isinstance(exc, SceneWatchError) else f"{type(exc).__name__}: {exc}"
        raise
    finally:
        source.close()
        analyzer.close()
        if recorder:
            recorder.close()
        if source.current_gap is not None:
            gap = source.current_gap
            repo.record_gap(store.engine, camera_id, run_id, gap.start, None, gap.reason)
        result.gaps = [(g.start, g.end) for g in source.gaps]
        result.frames_decoded = analyzer.frames_decoded
        result.frames_detected = analyzer.frames_detected
        result.tracks = writer.tracks_started
        result.seconds = time.monotonic() - started
        result.video_seconds = last_pts - (first_pts or 0.0)
        repo.end_run(
            store.engine, run_id, result.status, result.frames_decoded, result.frames_detected, result.note
        )
    return result


def _event_recorder(
    store: DataStore,
    rules: RuleEngine | None,
    camera: CameraConfig,
    camera_id: int,
    run_id: int,
    dispatcher: Dispatcher | None = None,
    settings: AppConfig | None = None,
    recording: LiveRecording | None = None,
) -> EventRecorder | None:
    """The rules as a track observer that stores their events and hands each new one to delivery;
    clips refer to a file source, or are cut from a live camera's recordings (when recorded)."""
    if rules is None:
        return None
    clip_file = None if camera.source.is_live else camera.source.url
    recorded = recording.for_camera(camera.name) if recording is not None and clip_file is None else None
    clips = (settings or AppConfig()).recording

    def deliver(event: Event, clip: dict | None, frame_time: float) -> None:
        dispatcher.submit(alert_from_event(event, clip, frame_time))  # when it starts, with its snapshot

    return EventRecorder(
        store,
        rules,
        camera_id,
        run_id,
        clip_file,
        deliver if dispatcher else None,
        live_clips=recorded.request if recorded is not None else None,
        before_s=clips.pre_s,
        after_s=clips.post_s,
        max_s=clips.max_clip_s,
    )


def default_config() -> AppConfig:
    """The embedded default: the sample footage played as a live camera at its own frame rate."""
    from scenewatch.samples import sample_video

    video = sample_video()
    return AppConfig(
        cameras=[CameraConfig(name="sample", source=SourceConfig(url=str(video), realtime=True))]
    )


def run_cameras(
    store: DataStore,
    settings: AppConfig,
    stop: threading.Event,
    duration: float | None = None,
    progress: Progress = None,
    models: ModelStore | None = None,
    capacity: CapacityConfig | None = None,
    metrics: MetricsRegistry | None = None,
    track_observers: dict[str, list[TrackObserver]] | None = None,
) -> list[RunResult]:
    """Watch every configured camera, each in a thread of its own, until ``stop`` or ``duration``.

    ``track_observers`` adds per-camera observers of every tracked frame (the server's live view).
    """
    if not settings.cameras:
        raise SceneWatchError("no cameras configured", "add a `cameras:` section to the config file")
    detector = build_detector(settings, models)
    health = HealthWatch(store, settings.health)
    health.start()
    dispatcher = Dispatcher(store, settings.delivery).start()  # resumes alerts an earlier run left
    health.listeners.append(
        lambda event: event.state != "info" and dispatcher.submit(alert_from_health(event))
    )
    lock = threading.Lock()  # one detector serves all cameras; ONNX Runtime already uses the cores
    # capacity path (issue 8): a fair detector pool replaces the lock; metrics for every camera
    capacity = capacity or getattr(settings, "capacity", None)
    pool = None
    if capacity_wiring.active(capacity):
        pool = capacity_wiring.build_pool(capacity, settings.detector, models or ModelStore())
        metrics = metrics if metrics is not None else MetricsRegistry()
    if metrics is not None and progress:
        interval = capacity.report_s if capacity is not None else PROGRESS_INTERVAL_S
        capacity_wiring.report_every(metrics, progress, interval, stop)
    run_lock = None if pool else lock
    # one low-priority worker describes the finished tracks of every camera (writer.py)
    describe_queue = DescribeQueue()
    if metrics is not None:
        metrics.describer = describe_queue
    extra = {"capacity": capacity, "pool": pool, "metrics": metrics, "dispatcher": dispatcher}
    extra["describe_queue"] = describe_queue
    if duration:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()
    results: list[RunResult] = []
    errors: list[str] = []

    def watch(camera: CameraConfig) -> None:
        # A camera keeps retrying a stream that is not up yet; a file is played at its own rate.
        source = camera.source.model_copy(update={"retry_first_open": True, "realtime": True})
        live_camera = camera.model_copy(update={"source": source})
        try:
            results.append(
                _analyse(
                    store,
                    settings,
                    live_camera,
                    "live",
                    progress,
                    models,
                    detector,
                    run_lock,
                    stop,
                    health,
                    observers=(track_observers or {}).get(camera.name, ()),
                    **extra,
                )
            )
        except SceneWatchError as exc:
            errors.append(f"camera {camera.name}: {exc}")
            if progress:
                progress(f"camera {camera.name}: stopped: {exc}")

    # live cameras are recorded beside analysis (own connections); their events' clips are cut from it
    recording = extra["recording"] = LiveRecording(store, settings.recording, settings.cameras).start()
    threads = [threading.Thread(target=watch, args=(c,), name=f"camera-{c.name}") for c in settings.cameras]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)
    recording.stop()  # closes the segments and cuts the clips still waiting
    if pool is not None:
        pool.close()
    describe_queue.close()  # the writers waited for theirs; nothing is left behind
    health.stop()
    dispatcher.stop()
    if errors and not results:
        raise SceneWatchError("; ".join(errors))
    return results
