"""The one interface every object detector implements; ``detector_types`` lists the detectors.

A detector takes BGR frames and returns raw ``Detections`` in frame pixels, all 80 COCO classes,
above the model's own low floor; ``DetectionFilter`` then applies the configured classes,
thresholds, sizes and ignore masks, the same for every detector.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from scenewatch.errors import ModelError
from scenewatch.types import Detections

if TYPE_CHECKING:
    import onnxruntime as ort


class Detector(ABC):
    """Base class: subclasses set ``name``, ``model_file`` and ``summary`` and implement ``detect_one``."""

    name: ClassVar[str]  # what a config's ``detector.type`` calls it
    model_file: ClassVar[str]
    summary: ClassVar[str]  # a few words for the config's description, e.g. "faster"
    # A model that takes any input whose sides are multiples of this (None: its square input only);
    # a region mosaic is then detected on a canvas no larger than its tiles need.
    canvas_step: ClassVar[int | None] = None

    def __init__(self, model_path: Path, threads: int = 2, providers: list[str] | None = None):
        self.model_path = Path(model_path)
        self.session = open_session(self.model_path, threads, providers, self._graph)

    def _graph(self) -> bytes | None:
        """The model as the session should run it, when it differs from the file (None: the file)."""
        return None

    @classmethod
    def input_size(cls) -> int | None:
        """The side of the model's square input (its module's ``INPUT_SIZE``), or None if unknown."""
        return getattr(importlib.import_module(cls.__module__), "INPUT_SIZE", None)

    @abstractmethod
    def detect_one(self, image: np.ndarray) -> Detections:
        """Detect objects in one BGR image."""

    def detect_canvas(self, image: np.ndarray) -> Detections:
        """Detect a region mosaic's canvas (drawn at the model's scale; boxes in its pixels)."""
        return self.detect_one(image)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect objects in several images (the models here take a batch of one)."""
        return [self.detect_one(image) for image in images]


def available_providers() -> list[str]:
    """The execution providers the installed ONNX Runtime offers (CUDA and TensorRT need its GPU build)."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def open_session(
    path: Path,
    threads: int = 2,
    providers: list[str] | None = None,
    graph: Callable[[], bytes | None] | None = None,
) -> ort.InferenceSession:
    """An ONNX Runtime session; a missing or corrupt file gets a one-line error. ``graph`` gives the
    model rewritten from the file (read only once the file is known to be there)."""
    # Imported here: the config lists the detectors without loading the runtime.
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(f"model file {path} is missing", "run `scenewatch models fetch`")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle workers sleep instead of spinning for the next run: between a camera's frames the spin
    # burnt a core that the API and the other cameras needed (same outputs, about half the CPU).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        model = graph() if graph is not None else None
        return ort.InferenceSession(
            model or str(path), sess_options=options, providers=providers or ["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises several private exception types
        raise ModelError(
            f"model file {path} cannot be loaded: {str(exc).splitlines()[0]}",
            "run `scenewatch models fetch --force` to replace it",
        ) from exc
