"""Which detector runs and what it keeps."""

from typing import Literal

from pydantic import Field, field_validator

from scenewatch.config.base import Section
from scenewatch.vision import detector_types
from scenewatch.vision.labels import class_id

DEFAULT_CLASSES = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
# Short names a config may use for ONNX Runtime's execution providers.
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
# The choices come from the detector list, so a new detector needs no edit here.
DetectorType = Literal[tuple(detector_types.DETECTORS)]  # type: ignore[valid-type]


class DetectorConfig(Section):
    type: DetectorType = Field(  # type: ignore[valid-type]
        detector_types.DEFAULT, description=f"Detector model: {detector_types.describe()}."
    )
    classes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CLASSES),
        description="COCO class names to keep; everything else the model sees is dropped.",
    )
    score_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="Minimum detection score kept, for classes without their own."
    )
    class_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-class minimum score, e.g. {car: 0.4}."
    )
    min_size: int = Field(8, ge=0, description="Minimum box width and height in pixels.")
    tiles: bool = Field(
        False,
        description="Detect a wide frame (long side at least 1.5 times the short, e.g. 16:9) in square "
        "crops as tall as the frame instead of squeezed whole into the model's square input: small "
        "and far people are found far more often, at one inference per crop (two for 16:9) instead of one. "
        "Used where the node's own detector sees whole frames (`scenewatch index`, cameras without the "
        "capacity pool); the pool's region mosaics are square already.",
    )
    threads: int = Field(2, ge=1, le=64, description="CPU threads for inference.")
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        description="ONNX Runtime execution providers in order of preference: CPUExecutionProvider, "
        "CUDAExecutionProvider, TensorrtExecutionProvider (or cpu, cuda, tensorrt); CUDA and TensorRT "
        "need the onnxruntime-gpu package.",
    )

    @field_validator("providers")
    @classmethod
    def _available_providers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one provider is needed, e.g. [CPUExecutionProvider]")
        names = [PROVIDER_ALIASES.get(name.lower(), name) for name in value]
        if names == ["CPUExecutionProvider"]:
            return names  # always there; the runtime is not loaded just to check it
        from scenewatch.vision.detector import available_providers

        available = available_providers()
        missing = [name for name in names if name not in available]
        if missing:
            raise ValueError(
                f"{', '.join(missing)} not available in the installed onnxruntime (available: "
                f"{', '.join(available)}); for CUDA or TensorRT install onnxruntime-gpu in place of onnxruntime"
            )
        return names

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one class is needed")
        for name in value:
            class_id(name)
        return value

    @field_validator("class_thresholds")
    @classmethod
    def _known_threshold_classes(cls, value: dict[str, float]) -> dict[str, float]:
        for name, threshold in value.items():
            class_id(name)
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold for {name} must be between 0 and 1")
        return value
