"""Many cameras on one node: start the shared parts, run each camera in a thread, stop them all.

The shared parts live for the whole call (:func:`live_node`): health checks, alert delivery,
the detector (one under a lock, or the capacity pool), the background describer of finished
tracks, live recording and the metrics report; they stop in the order that loses nothing
(recordings cut their last clips, descriptions are stored, then health and delivery end).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.errors import SceneWatchError
from scenewatch.flow.camera import PROGRESS_INTERVAL_S, CameraRun, TrackObserver
from scenewatch.flow.detect import build_detector
from scenewatch.flow.node import Node, Progress
from scenewatch.flow.record import RunResult
from scenewatch.health.watch import HealthWatch
from scenewatch.models import ModelStore
from scenewatch.notify import Dispatcher
from scenewatch.notify.alert import alert_from_health
from scenewatch.recording.live import LiveRecording
from scenewatch.runtime import DescribeQueue, MetricsRegistry
from scenewatch.runtime import wiring as capacity_wiring
from scenewatch.store.data import DataStore


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
    capacity = capacity or getattr(settings, "capacity", None)
    results: list[RunResult] = []
    errors: list[str] = []
    with live_node(
        Node(store, settings, detector, models, capacity, metrics=metrics, stop=stop, progress=progress)
    ) as node:
        if duration:
            timer = threading.Timer(duration, stop.set)
            timer.daemon = True
            timer.start()
        threads = [
            threading.Thread(
                target=_watch,
                args=(node, camera, (track_observers or {}).get(camera.name, ()), results, errors),
                name=f"camera-{camera.name}",
            )
            for camera in settings.cameras
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():  # short joins: the main thread still takes signals
                thread.join(timeout=0.5)
    if errors and not results:
        raise SceneWatchError("; ".join(errors))
    return results


def _watch(
    node: Node, camera: CameraConfig, observers: Sequence[TrackObserver], results: list, errors: list
) -> None:
    """One camera's thread. A camera keeps retrying a stream that is not up yet; a file is played
    at its own rate."""
    source = camera.source.model_copy(update={"retry_first_open": True, "realtime": True})
    live_camera = camera.model_copy(update={"source": source})
    try:
        results.append(CameraRun(node, live_camera, "live", observers).run())
    except SceneWatchError as exc:
        errors.append(f"camera {camera.name}: {exc}")
        if node.progress:
            node.progress(f"camera {camera.name}: stopped: {exc}")


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
