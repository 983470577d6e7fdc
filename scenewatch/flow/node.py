"""What the cameras of one node share: the store, the settings, the detector (one, under a lock, or
the capacity pool), health, alert delivery, the background describer, live recording, the stop
signal and progress lines. ``index_file`` fills in the few it needs; ``run_cameras`` all."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from scenewatch.config import AppConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.health.watch import HealthWatch
from scenewatch.models import ModelStore
from scenewatch.notify import Dispatcher
from scenewatch.recording.recorder import LiveRecording
from scenewatch.runtime import DescribeQueue, DetectorPool, MetricsRegistry
from scenewatch.store.data import DataStore
from scenewatch.vision.detector import Detector

Progress = Callable[[str], None] | None


@dataclass
class Node:
    store: DataStore
    settings: AppConfig
    detector: Detector
    models: ModelStore | None = None
    capacity: CapacityConfig | None = None
    detector_lock: threading.Lock | None = None  # one detector shared by cameras without a pool
    pool: DetectorPool | None = None
    health: HealthWatch | None = None
    metrics: MetricsRegistry | None = None
    dispatcher: Dispatcher | None = None
    describe_queue: DescribeQueue | None = None  # live cameras: tracks are described off their threads
    recording: LiveRecording | None = None
    stop: threading.Event | None = None
    progress: Progress = None

    def __post_init__(self) -> None:
        if self.settings.embeddings is not None:  # a bad encoder file fails before any write
            from scenewatch.vision.clip_encoder import open_encoders

            open_encoders(self.settings.embeddings)
