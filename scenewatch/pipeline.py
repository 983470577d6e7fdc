"""The flow's two entry points: ``index_file`` analyses a file as fast as the machine allows;
``run_cameras`` watches the configured cameras until stopped.

Both check everything that can be checked (the source opens, the model loads) before they write
anything, so bad input leaves no rows behind. The stages themselves live in ``scenewatch.flow``:
one camera's run (``camera``), the finishing stage of ended tracks (``finish``), the run's
bookkeeping (``record``) and the runner of many cameras (``cameras``).
"""

from __future__ import annotations

from pathlib import Path

from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.config.default import default_config
from scenewatch.config.source import SourceConfig
from scenewatch.flow.camera import CameraRun, FrameObserver, TrackObserver
from scenewatch.flow.cameras import run_cameras
from scenewatch.flow.detect import build_detector, build_filter
from scenewatch.flow.node import Node, Progress
from scenewatch.flow.record import RunResult
from scenewatch.models import ModelStore
from scenewatch.store.data import DataStore
from scenewatch.vision.detector import Detector

__all__ = [
    "FrameObserver",
    "Progress",
    "RunResult",
    "TrackObserver",
    "build_detector",
    "build_filter",
    "default_config",
    "index_file",
    "run_cameras",
]


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
    detector = detector or build_detector(settings, models)  # a missing model fails before any write
    node = Node(store, settings, detector, models, capacity, progress=progress)
    return CameraRun(node, camera_config, "index").run()
