"""One camera: where its video comes from and what to look for in it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section
from scenewatch.config.geometry import CalibrationConfig, LineConfig, ZoneConfig, check_point_count
from scenewatch.config.query_hook import check_query
from scenewatch.config.rules import RuleConfig
from scenewatch.config.source import SourceConfig
from scenewatch.config.tracker import TrackerConfig
from scenewatch.vision.labels import class_id

Point = tuple[float, float]
CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CameraConfig(Section):
    name: str = Field(description="Unique camera name: letters, digits, '_', '-', '.'; up to 64 characters.")
    source: SourceConfig = Field(description="Where the video comes from.")
    record: bool | None = Field(
        None,
        description="Record this live camera (for its event clips); empty follows recording.enabled. "
        "Files are never recorded: their clips come from the file.",
    )
    detect_fps: float | None = Field(
        None, gt=0, description="Run the detector at most this often per second; empty means every frame."
    )
    classes: list[str] | None = Field(
        None, description="Object classes to keep on this camera; empty means the detector's list."
    )
    score_threshold: float | None = Field(
        None, ge=0, le=1, description="Minimum detection score on this camera; empty means the detector's."
    )
    tracker: dict[str, Any] = Field(
        default_factory=dict,
        description="Tracker settings that differ on this camera, e.g. {high_score: 0.2, new_track_score: "
        "0.22} for a view whose people the detector scores low (far, hazy, top-down); the rest come from "
        "the tracker section.",
    )
    ignore_mask: list[list[Point]] = Field(
        default_factory=list,
        description="Polygons (pixel points) where detections are ignored, e.g. a tree or a screen.",
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="Named zones (pixel polygons).")
    lines: list[LineConfig] = Field(default_factory=list, description="Named lines with directions.")
    calibration: CalibrationConfig | None = Field(
        None, description="Ground calibration for metres and km/h; without it speeds are in pixels."
    )
    rules: list[RuleConfig] = Field(default_factory=list, description="Behaviour rules raising events.")

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

    @field_validator("tracker")
    @classmethod
    def _known_tracker_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(TrackerConfig.model_fields))
        if unknown:
            known = ", ".join(TrackerConfig.model_fields)
            raise ValueError(f"unknown tracker setting(s) {', '.join(unknown)}; settings: {known}")
        return value

    def tracker_settings(self, node: TrackerConfig) -> TrackerConfig:
        """The node's tracker settings with this camera's differences applied (and checked together)."""
        if not self.tracker:
            return node
        return TrackerConfig.model_validate({**node.model_dump(), **self.tracker})

    @field_validator("ignore_mask")
    @classmethod
    def _polygons(cls, value: list[list[Point]]) -> list[list[Point]]:
        for number, polygon in enumerate(value):
            if len(polygon) < 3:
                raise ValueError(f"polygon {number} has {len(polygon)} points; a polygon needs at least 3")
            check_point_count(polygon, f"polygon {number}")
        return value

    @model_validator(mode="after")
    def _rules_refer_to_known_geometry(self) -> CameraConfig:
        zones = _unique([z.name for z in self.zones], "zone")
        lines = {ln.name: ln for ln in self.lines}
        _unique([ln.name for ln in self.lines], "line")
        _unique([r.name for r in self.rules], "rule")
        for rule in self.rules:
            if rule.zone_name is not None and rule.zone_name not in zones:
                raise ValueError(
                    f"rule {rule.name!r} names unknown zone {rule.zone_name!r}; zones: {', '.join(zones) or 'none'}"
                )
            if rule.line_name is not None:
                line = lines.get(rule.line_name)
                if line is None:
                    known = ", ".join(lines) or "none"
                    raise ValueError(
                        f"rule {rule.name!r} names unknown line {rule.line_name!r}; lines: {known}"
                    )
                wanted = getattr(rule, "allowed", None) or getattr(rule, "direction", "both")
                if wanted not in {"both", line.positive, line.negative}:
                    raise ValueError(
                        f"rule {rule.name!r}: line {line.name!r} has directions {line.positive!r} and "
                        f"{line.negative!r}; got {wanted!r}"
                    )
            if (
                getattr(rule, "max_kmh", None) or getattr(rule, "min_kmh", None)
            ) and self.calibration is None:
                raise ValueError(
                    f"rule {rule.name!r} uses km/h: add a `calibration:` to camera {self.name!r}"
                )
            if rule.type == "search":
                check_query(rule.name, rule.query, self.name, zones)  # type: ignore[attr-defined]
        return self


def _unique(names: list[str], kind: str) -> list[str]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{kind} name {name!r} is used twice on this camera; names must be unique")
        seen.add(name)
    return names
