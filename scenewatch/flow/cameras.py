"""Many cameras on one node: start the shared parts, run each camera in a thread, stop them all.

The shared parts live for the whole call (:func:`live_node`): health checks, alert delivery,
the detector (one under a lock, or the capacity pool), the background describer of finished
tracks, live recording and the metrics report; they stop in the order that loses nothing
(recordings cut their last clips, descriptions are stored, then health and delivery end).

:class:`CameraSet` runs the cameras and takes config changes while they run: a camera whose
analysis settings changed takes them at its next frame; one whose source changed is restarted
alone; cameras are added and removed one by one. A file camera goes on after the last frame it
analysed on the same file (``positions``: kept in the store, so the next process does too).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.errors import SceneWatchError
from scenewatch.flow import positions
from scenewatch.flow.camera import (
    PROGRESS_INTERVAL_S,
    CameraRun,
    DetectionObserver,
    TrackObserver,
    needs_restart,
)
from scenewatch.flow.detect import build_detector
from scenewatch.flow.node import Node, Progress
from scenewatch.flow.record import RunResult
from scenewatch.health.watch import HealthWatch
from scenewatch.models import ModelStore
from scenewatch.notify import Dispatcher
from scenewatch.notify.alert import alert_from_health
from scenewatch.recording.recorder import LiveRecording
from scenewatch.runtime import DescribeQueue, MetricsRegistry
from scenewatch.runtime import wiring as capacity_wiring
from scenewatch.store.data import DataStore

log = logging.getLogger(__name__)


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
    on_start: Callable[[CameraSet], None] | None = None,
    detection_observers: dict[str, list[DetectionObserver]] | None = None,
) -> list[RunResult]:
    """Watch every configured camera, each in a thread of its own, until ``stop`` or ``duration``.

    ``track_observers`` adds per-camera observers of every tracked frame, ``detection_observers``
    of every detection kept on an analysed frame (the server's live view masks them all).
    ``on_start`` is handed the running :class:`CameraSet` (to change cameras while they run).
    """
    if not settings.cameras:
        raise SceneWatchError("no cameras configured", "add a `cameras:` section to the config file")
    detector = build_detector(settings, models)
    capacity = capacity or getattr(settings, "capacity", None)
    with live_node(
        Node(store, settings, detector, models, capacity, metrics=metrics, stop=stop, progress=progress)
    ) as node:
        if duration:
            timer = threading.Timer(duration, stop.set)
            timer.daemon = True
            timer.start()
        cameras = CameraSet(node, track_observers or {}, detection_observers or {})
        for camera in settings.cameras:
            cameras.start(camera)
        if on_start is not None:
            on_start(cameras)
        cameras.join()
    if cameras.errors and not cameras.results:
        raise SceneWatchError("; ".join(cameras.errors))
    return cameras.results


class CameraSet:
    """The cameras running on one node, a thread each; :meth:`apply` changes them while they run.

    ``resume`` maps a file camera's name to its url and last analysed frame (from the store, kept
    there as the camera goes), so a camera started on the same file goes on from there (a looped
    file keeps playing, one that had ended stays ended).
    """

    def __init__(
        self,
        node: Node,
        observers: dict[str, list[TrackObserver]],
        detection_observers: dict[str, list[DetectionObserver]] | None = None,
    ):
        self.node = node
        self.observers = observers
        self.detection_observers = detection_observers if detection_observers is not None else {}
        self.resume: dict[str, positions.Resume] = positions.load(node.store.engine)
        self.results: list[RunResult] = []
        self.errors: list[str] = []
        self.configs: dict[str, CameraConfig] = {}  # as configured, before the runner's changes
        self.runs: dict[str, CameraRun] = {}
        self.threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._applying = 0  # changes under way: a camera restarting is not a node that ended
        self.ended = False  # every camera ended and the node with them: nothing more starts here

    def start(self, camera: CameraConfig) -> None:
        """Start watching ``camera`` in a thread of its own."""
        with self._lock:
            self.configs[camera.name] = camera
            thread = threading.Thread(target=self._watch, args=(camera,), name=f"camera-{camera.name}")
            self.threads[camera.name] = thread
        thread.start()

    def stop(self, name: str, timeout: float = 30.0) -> None:
        """Stop one camera and wait for its run to end (its tracks are finished and stored)."""
        with self._lock:
            self.configs.pop(name, None)
            run, thread = self.runs.get(name), self.threads.get(name)
        if run is not None:
            run.stop()
        if thread is not None:
            thread.join(timeout)

    def apply(self, cameras: Sequence[CameraConfig]) -> bool:
        """Run ``cameras`` from now on: changed analysis settings go to the running camera, a changed
        source restarts that camera alone, new cameras start and removed ones stop. False when
        the set has ended (the node is gone; start a new one)."""
        with self._lock:
            if self.ended:
                return False
            self._applying += 1
        try:
            self._apply(cameras)
        finally:
            with self._lock:
                self._applying -= 1
        return True

    def _apply(self, cameras: Sequence[CameraConfig]) -> None:
        wanted = {c.name: c for c in cameras}
        for name in [n for n in self.configs if n not in wanted]:
            log.info("camera %s: removed from the config; stopping it", name)
            self.stop(name)
        for name, camera in wanted.items():
            old = self.configs.get(name)
            if old is None:
                self.start(camera)
            elif needs_restart(old, camera):
                log.info("camera %s: source settings changed; restarting this camera", name)
                self.stop(name)
                self.start(camera)
            elif old != camera:
                with self._lock:
                    self.configs[name] = camera
                    run = self.runs.get(name)
                if run is not None:
                    run.reconfigure(camera)

    def suppressions_changed(self, name: str) -> None:
        """Hand camera ``name``'s changed suppressions to its run now (it re-reads them anyway
        every few seconds, for changes made by another process)."""
        with self._lock:
            run = self.runs.get(name)
        if run is not None:
            run.suppress.reload()

    def join(self) -> None:
        """Wait until every camera has ended, those started meanwhile included."""
        while True:
            with self._lock:
                alive = [t for t in self.threads.values() if t.is_alive()]
                applying = self._applying
                self.ended = not alive and not applying
            if self.ended:
                return
            if not alive:
                time.sleep(0.1)
            for thread in alive:
                while thread.is_alive():  # short joins: the main thread still takes signals
                    thread.join(timeout=0.5)

    def _watch(self, camera: CameraConfig) -> None:
        """One camera's thread. A camera keeps retrying a stream that is not up yet; a file is
        played at its own rate, from where it was left."""
        node = self.node
        source = camera.source.model_copy(update={"retry_first_open": True, "realtime": True})
        live_camera = camera.model_copy(update={"source": source})
        url = camera.source.url
        kept_url, resume = self.resume.get(camera.name, (None, None))
        try:
            run = CameraRun(
                node,
                live_camera,
                "live",
                self.observers.get(camera.name, ()),
                resume=resume if kept_url == url else None,
                detection_observers=self.detection_observers.get(camera.name, ()),
            )
        except SceneWatchError as exc:
            self._failed(camera.name, exc)
            return
        run.on_position = lambda point: self._keep(camera.name, (url, point))
        with self._lock:
            self.runs[camera.name] = run
            latest = self.configs.get(camera.name)
            if latest is not None and latest != camera:  # changed while the run was being built
                run.reconfigure(latest)
            if latest is None:  # removed meanwhile
                run.stop()
        try:
            self.results.append(run.run())
        except SceneWatchError as exc:
            self._failed(camera.name, exc)
        finally:
            if (point := run.resume_point()) is not None:
                self._keep(camera.name, (url, point))
            with self._lock:
                if self.runs.get(camera.name) is run:
                    del self.runs[camera.name]

    def _failed(self, name: str, exc: SceneWatchError) -> None:
        self.errors.append(f"camera {name}: {exc}")
        if self.node.progress:
            self.node.progress(f"camera {name}: stopped: {exc}")

    def _keep(self, name: str, resume: positions.Resume) -> None:
        self.resume[name] = resume
        try:
            positions.save(self.node.store.engine, name, resume)
        except Exception:  # the position is a convenience: analysis goes on without it
            log.exception("camera %s: cannot store its position in the file", name)


@contextmanager
def live_node(node: Node) -> Iterator[Node]:
    """``node`` with its shared parts started (from its store, settings and capacity), stopped on leaving."""
    store, settings, capacity = node.store, node.settings, node.capacity
    health = node.health = HealthWatch(store, settings.health)
    health.start()
    dispatcher = node.dispatcher = Dispatcher(store, settings.delivery).start()  # resumes earlier alerts
    health.listeners.append(
        lambda event: event.state != "info" and dispatcher.submit(alert_from_health(event))
    )
    if capacity_wiring.active(capacity):
        assert capacity is not None
        # a fair pool of detectors serves every camera; metrics for every camera
        node.pool = capacity_wiring.build_pool(capacity, settings.detector, node.models or ModelStore())
        node.metrics = node.metrics if node.metrics is not None else MetricsRegistry()
    else:
        node.detector_lock = threading.Lock()  # one detector; ONNX Runtime already uses the cores
    health.metrics = node.metrics  # the pool's 'capped' flags appear in each camera's health
    if node.metrics is not None and node.progress and node.stop is not None:
        interval = capacity.report_s if capacity is not None else PROGRESS_INTERVAL_S
        capacity_wiring.report_every(node.metrics, node.progress, interval, node.stop)
    node.describe_queue = DescribeQueue()  # one low-priority worker describes every camera's tracks
    if node.metrics is not None:
        node.metrics.describer = node.describe_queue
    # live cameras are recorded beside analysis (own connections); their events' clips are cut from it
    node.recording = LiveRecording(store, settings.recording, settings.cameras).start()
    try:
        yield node
    finally:
        node.recording.stop()  # closes the segments and cuts the clips still waiting
        if node.pool is not None:
            node.pool.close()
        node.describe_queue.close()  # the cameras waited for theirs; nothing is left behind
        health.stop()
        dispatcher.stop()
