"""The typed configuration: one YAML file validated by pydantic models.

A wrong value is reported with its place in the file (path and line) and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from scenewatch.config.attributes import AttributesConfig
from scenewatch.config.base import Section
from scenewatch.config.camera import CameraConfig
from scenewatch.config.capacity import CapacityConfig
from scenewatch.config.central import CentralConfig
from scenewatch.config.delivery import DeliveryConfig
from scenewatch.config.detector import DetectorConfig
from scenewatch.config.embeddings import EmbeddingsConfig
from scenewatch.config.health import HealthConfig
from scenewatch.config.recording import RecordingConfig
from scenewatch.config.server import ServerConfig
from scenewatch.config.tracker import TrackerConfig
from scenewatch.errors import ConfigError


class AppConfig(Section):
    data_dir: Path | None = Field(
        None, description="Folder for the database and media; the --data option or SCENEWATCH_DATA wins."
    )
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="Object detector.")
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Multi-object tracker.")
    attributes: AttributesConfig = Field(
        default_factory=AttributesConfig, description="Per-track attributes for search."
    )
    embeddings: EmbeddingsConfig | None = Field(
        None, description="Your own CLIP-style image and text encoders (ONNX) for search; none: attributes."
    )
    health: HealthConfig = Field(default_factory=HealthConfig, description="Camera health checks.")
    capacity: CapacityConfig = Field(
        default_factory=CapacityConfig,
        description="Real-time capacity: motion gate, adaptive detection rates, shared detector pool.",
    )
    delivery: DeliveryConfig = Field(
        default_factory=DeliveryConfig, description="Alert delivery: webhooks, MQTT, outbox retention."
    )
    recording: RecordingConfig = Field(
        default_factory=RecordingConfig, description="Continuous recording of live cameras; event clips."
    )
    central: CentralConfig = Field(
        default_factory=CentralConfig, description="This node's role: standalone, edge or central."
    )
    server: ServerConfig = Field(
        default_factory=ServerConfig, description="The web server: reverse proxies it trusts."
    )
    cameras: list[CameraConfig] = Field(default_factory=list, description="The cameras to watch.")

    @model_validator(mode="after")
    def _unique_camera_names(self) -> AppConfig:
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.name in seen:
                raise ValueError(f"camera name {camera.name!r} is used twice; names must be unique")
            seen.add(camera.name)
        return self

    @model_validator(mode="after")
    def _camera_trackers_valid(self) -> AppConfig:
        for camera in self.cameras:
            try:
                camera.tracker_settings(self.tracker)
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(p) for p in problem["loc"])
                place = f"tracker.{where}" if where else "tracker"
                raise ValueError(
                    f"camera {camera.name!r} {place}: {problem['msg'].removeprefix('Value error, ')}"
                ) from None
        return self

    def camera(self, name: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.name == name:
                return camera
        known = ", ".join(c.name for c in self.cameras) or "none configured"
        raise ConfigError(f"unknown camera {name!r}", f"configured cameras: {known}")


def load_config(path: Path) -> AppConfig:
    """Read and validate a YAML config; every problem names its place in the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", "check the --config path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (detector:, cameras:, ...)")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, path, _line_numbers(node))) from None


def describe_validation_error(exc: ValidationError, path: Path | str, lines: dict | None = None) -> str:
    """One line per problem: ``file:line: a.b[0].c: message``."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = _format_loc(loc)
        line = (lines or {}).get(loc) or _nearest_line(lines or {}, loc)
        place = f"{path}:{line}" if line else str(path)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling; see the documented fields)"
        elif error["type"] == "literal_error":
            message = f"{message}; got {error.get('input')!r}"
        problems.append(f"{place}: {where}: {message}")
    return "; ".join(problems)


def _format_loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _nearest_line(lines: dict, loc: tuple) -> int | None:
    while loc:
        loc = loc[:-1]
        if loc in lines:
            return lines[loc]
    return None


def _line_numbers(node: yaml.Node | None, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path in the YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}
    if node is None:
        return lines
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            lines.update(_line_numbers(value, path))
            lines[path] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_numbers(item, (*prefix, index)))
    return lines


__all__ = ["AppConfig", "CameraConfig", "DetectorConfig", "TrackerConfig", "load_config", "ConfigError"]
