"""One camera: where its video comes from and what to look for in it."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from scenewatch.config.base import Section
from scenewatch.config.source import SourceConfig
from scenewatch.vision.labels import class_id

Point = tuple[float, float]
CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CameraConfig(Section):
    name: str = Field(
        description="Unique camera name: letters, digits, '_', '-', '.'; up to 64 characters."
    )
    source: SourceConfig = Field(description="Where the video comes from.")
    detect_fps: float | None = Field(
        None, gt=0, description="Run the detector at most this often per second; empty means every frame."
    )
    classes: list[str] | None = Field(
        None, description="Object classes to keep on this camera; empty means the detector's list."
    )
    score_threshold: float | None = Field(
        None, ge=0, le=1, description="Minimum detection score on this camera; empty means the detector's."
    )
    ignore_mask: list[list[Point]] = Field(
        default_factory=list,
        description="Polygons (pixel points) where detections are ignored, e.g. a tree or a screen.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not CAMERA_NAME.match(value):
            raise ValueError("use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return value

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            class_id(name)
        return value

    @field_validator("ignore_mask")
    @classmethod
    def _polygons(cls, value: list[list[Point]]) -> list[list[Point]]:
        for number, polygon in enumerate(value):
            if len(polygon) < 3:
                raise ValueError(f"polygon {number} has {len(polygon)} points; a polygon needs at least 3")
        return value
