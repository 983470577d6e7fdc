"""Per-camera geometry: zones, lines and the ground calibration, all in pixels of the analysed frame.

Pixel coordinates are those of the frames as analysed (after any ``source.width`` scaling); whether
they fit inside the frame can only be checked once its size is known, when the camera starts.
Membership and crossings test the bottom-centre of each box, where an object touches the ground.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from scenewatch.config.base import Section
from scenewatch.geometry import ground_homography, polygon_area, self_intersects
from scenewatch.vision.labels import class_id

Point = tuple[float, float]
GEOMETRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Points per polygon: plenty for any outline drawn on a frame, and it bounds the all-pairs
# self-crossing check (about 20,000 edge pairs, well under a millisecond).
MAX_POINTS = 200


def check_name(value: str) -> str:
    if not GEOMETRY_NAME.match(value):
        raise ValueError("use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return value


def check_point_count(points: list[Point], what: str = "a polygon") -> list[Point]:
    """Refuse outlines over :data:`MAX_POINTS` before any work that grows with their size."""
    if len(points) > MAX_POINTS:
        raise ValueError(
            f"{what} has {len(points)} points; at most {MAX_POINTS} are allowed (simplify the outline)"
        )
    return points


def check_classes(value: list[str] | None) -> list[str] | None:
    for name in value or []:
        class_id(name)  # a clear error listing the COCO classes
    return value


class ZoneConfig(Section):
    """A polygon on the ground; an object is in it when its box's bottom-centre is."""

    name: str = Field(description="Zone name, unique on the camera; rules refer to it.")
    polygon: list[Point] = Field(
        description=f"3 to {MAX_POINTS} pixel points [x, y], in order around the zone.",
        json_schema_extra={"minItems": 3, "maxItems": MAX_POINTS},
    )
    inertia: int = Field(
        3,
        ge=1,
        le=100,
        description="Consecutive detected frames an object must be in (or out of) the zone before it "
        "counts as entered (or left); stops boxes flickering on the border from raising events.",
    )
    classes: list[str] | None = Field(
        None, description="Only these object classes count in this zone; empty means every class."
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str] | None) -> list[str] | None:
        return check_classes(value)

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, value: list[Point]) -> list[Point]:
        check_point_count(value, "the zone polygon")
        if len(value) < 3:
            raise ValueError(f"a zone polygon needs at least 3 points; got {len(value)}")
        if self_intersects(np.array(value)):
            raise ValueError("the zone polygon crosses itself; list the points in order around the zone")
        if polygon_area(np.array(value)) < 1.0:
            raise ValueError("the zone polygon has no area (its points are on one line)")
        return value


class LineConfig(Section):
    """A tripwire from ``a`` to ``b``; crossings are counted per direction."""

    name: str = Field(description="Line name, unique on the camera; rules refer to it.")
    a: Point = Field(description="First end, pixel [x, y].")
    b: Point = Field(description="Second end, pixel [x, y].")
    positive: str = Field(
        "in", description="Name of the positive crossing direction, e.g. 'northbound' or 'in'."
    )
    negative: str = Field("out", description="Name of the opposite direction, e.g. 'southbound'.")
    positive_side: Literal["left", "right"] = Field(
        "left",
        description="The side an object crosses *to* in the positive direction, as seen on the screen "
        "looking from a towards b.",
    )
    inertia: int = Field(
        2,
        ge=1,
        le=100,
        description="Consecutive detected frames on the new side before a crossing counts.",
    )
    classes: list[str] | None = Field(None, description="Only these classes cross; empty means every class.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str] | None) -> list[str] | None:
        return check_classes(value)

    @model_validator(mode="after")
    def _valid_line(self) -> LineConfig:
        if np.hypot(self.b[0] - self.a[0], self.b[1] - self.a[1]) < 1.0:
            raise ValueError(f"line {self.name!r} has zero length: a and b must be different points")
        if self.positive == self.negative:
            raise ValueError(f"line {self.name!r}: positive and negative directions need different names")
        return self


class CalibrationConfig(Section):
    """Four image points marking a rectangle on the ground, with its real size, for metres and km/h."""

    points: list[Point] = Field(
        description="Four pixel points in order around a ground rectangle (e.g. lane markings): origin, "
        "then along the width, the opposite corner, then back along the length."
    )
    width_m: float = Field(gt=0, description="Real distance in metres from the 1st to the 2nd point.")
    length_m: float = Field(gt=0, description="Real distance in metres from the 2nd to the 3rd point.")

    @field_validator("points")
    @classmethod
    def _four_points(cls, value: list[Point]) -> list[Point]:
        if len(value) != 4:
            raise ValueError(f"calibration needs exactly 4 points; got {len(value)}")
        if self_intersects(np.array(value)) or polygon_area(np.array(value)) < 1.0:
            raise ValueError("calibration points must go around the rectangle in order, without crossing")
        return value

    def homography(self) -> np.ndarray:
        return ground_homography(np.array(self.points), self.width_m, self.length_m)


def check_in_frame(
    camera: str, zones: list[ZoneConfig], lines: list[LineConfig], size: tuple[int, int]
) -> None:
    """Raise a ConfigError naming the camera and zone/line whose points lie outside a ``size`` frame."""
    from scenewatch.errors import ConfigError

    width, height = size
    shapes = [(f"zone {z.name!r}", z.polygon) for z in zones] + [
        (f"line {ln.name!r}", [ln.a, ln.b]) for ln in lines
    ]
    for label, points in shapes:
        pts = np.asarray(points, dtype=float)
        outside = (pts[:, 0] < 0) | (pts[:, 0] > width) | (pts[:, 1] < 0) | (pts[:, 1] > height)
        if outside.any():
            bad = tuple(float(v) for v in pts[np.argmax(outside)])
            raise ConfigError(
                f"camera {camera!r}: {label} has point {bad} outside the {width}x{height} frame",
                "geometry is in pixels of the analysed frame (after source.width scaling)",
            )
