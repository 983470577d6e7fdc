"""Editing zones, lines and rules (validated by the config models and written back to the YAML
file atomically, then handed to the running camera, which keeps its source), privacy zones and
retention."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import os
import tempfile
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, Field, SkipValidation, ValidationError

from scenewatch.api import audit, privacy, queries, retention
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, admin, check_camera, operator, viewer
from scenewatch.api.routes.common import camera_named
from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.geometry import MAX_POINTS, LineConfig, ZoneConfig, check_point_count
from scenewatch.config.rules import RuleConfig
from scenewatch.store import repo

router = APIRouter(
    prefix="/api/config", tags=["config"], responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
)
EDIT_WAIT_S = 1.0  # how long a zone edit waits for another config change to finish
Polygon = Annotated[
    list[tuple[float, float]],
    AfterValidator(check_point_count),
    Field(json_schema_extra={"maxItems": MAX_POINTS}),
]


class CameraGeometry(BaseModel):
    """What the zone editor edits on one camera."""

    zones: list[ZoneConfig] = Field(default_factory=list, max_length=100)
    lines: list[LineConfig] = Field(default_factory=list, max_length=100)
    rules: list[RuleConfig] = Field(default_factory=list, max_length=200)


class CameraGeometryOut(CameraGeometry):
    width: int | None = None
    height: int | None = None
    editable: bool
    privacy_zones: list[Polygon] = []


class PrivacyZones(BaseModel):
    polygons: list[Polygon] = Field(
        max_length=50, description="Polygons in camera pixels, blacked out everywhere."
    )


def _configured(ctx: ServerContext, user: Principal, name: str) -> CameraConfig:
    check_camera(user, ctx, name)
    camera = next((c for c in ctx.settings.cameras if c.name == name), None)
    if camera is None:
        raise ApiError(404, f"camera {name!r} has recorded data only; it is not in the config")
    return camera


def _size(ctx: ServerContext, name: str) -> tuple[int | None, int | None]:
    row = queries.camera_row(ctx.store.engine, name) or {}
    return row.get("width"), row.get("height")


@router.get("/cameras/{name}", response_model=CameraGeometryOut)
def get_geometry(name: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """Zones, lines and rules of a camera, with its frame size (pixels) and privacy zones."""
    camera = _configured(ctx, user, name)
    width, height = _size(ctx, name)
    return CameraGeometryOut(
        zones=camera.zones,
        lines=camera.lines,
        rules=camera.rules,
        width=width,
        height=height,
        editable=ctx.config_path is not None and user.at_least("operator"),
        privacy_zones=privacy.privacy_zones(ctx.store.engine, name),
    )


def _validated(raw: Any) -> CameraGeometry:
    """The edit, validated here in the worker thread: FastAPI validates declared bodies on the event
    loop, where even bounded geometry checks would hold up every other request."""
    try:
        return CameraGeometry.model_validate(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def _check_inside(points: list, width: int | None, height: int | None, what: str) -> None:
    if not width or not height:
        return
    for x, y in points:
        if not (0 <= x <= width and 0 <= y <= height):
            raise ApiError(422, f"{what}: point ({x:g}, {y:g}) is outside the {width}x{height} frame", what)


@router.put("/cameras/{name}", response_model=CameraGeometryOut)
def put_geometry(
    name: str,
    geometry: Annotated[CameraGeometry, SkipValidation],  # documented as CameraGeometry, checked below
    user: Principal = Depends(operator),
    ctx: ServerContext = Depends(get_ctx),
):
    """Replace the camera's zones, lines and rules; the config file is rewritten atomically and
    the running camera takes them at its next frame (its source and tracks go on)."""
    if ctx.config_path is None:
        raise ApiError(409, "the server runs without a writable config file; start it with --config FILE")
    camera = _configured(ctx, user, name)
    # one edit at a time, and a second one is turned away rather than left holding a worker thread
    if not ctx.config_lock.acquire(timeout=EDIT_WAIT_S):
        raise ApiError(
            429, "another configuration change is being applied; try again", headers={"retry-after": "1"}
        )
    try:
        body, settings = _apply(ctx, camera, geometry)
        if ctx.runner is not None:  # swapped into the running camera, in the order of the edits
            ctx.runner.restart(settings)
    finally:
        ctx.config_lock.release()
    audit.append(
        ctx.store.engine,
        user.name,
        "config_change",
        f"camera:{name}",
        {"zones": len(body.zones), "lines": len(body.lines), "rules": len(body.rules)},
    )
    return get_geometry(name, user, ctx)


def _apply(ctx: ServerContext, camera: CameraConfig, raw: Any) -> tuple[CameraGeometry, AppConfig]:
    """Validate the edit against the whole config and write it; the caller holds the config lock."""
    body = _validated(raw)
    width, height = _size(ctx, camera.name)
    for zone in body.zones:
        _check_inside(zone.polygon, width, height, f"zones.{zone.name}")
    for line in body.lines:
        _check_inside([line.a, line.b], width, height, f"lines.{line.name}")
    data = camera.model_dump(mode="json", exclude_defaults=True)
    data.update(body.model_dump(mode="json", exclude_defaults=True))
    for key in ("zones", "lines", "rules"):
        data.setdefault(key, [])
    try:
        updated = CameraConfig.model_validate(data)
        settings = ctx.settings.model_copy(
            update={"cameras": [updated if c.name == camera.name else c for c in ctx.settings.cameras]}
        )
        settings = AppConfig.model_validate(settings.model_dump(mode="json", exclude_defaults=True))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApiError(422, first["msg"], ".".join(str(p) for p in first["loc"]) or None) from None
    write_config(ctx.config_path, settings)
    ctx.settings = settings
    return body, settings


def write_config(path, settings: AppConfig) -> None:
    """Write the YAML config atomically: a reader sees the old file or the new one, never half."""
    text = yaml.safe_dump(
        settings.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# written by the SceneWatch server (zone editor); comments are not kept\n")
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@router.get("/cameras/{name}/privacy", response_model=PrivacyZones)
def get_privacy(name: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """A camera's privacy zones; ``name`` may be the camera's id (central names hold a '/')."""
    name = camera_named(ctx, user, name)
    check_camera(user, ctx, name)
    return PrivacyZones(polygons=privacy.privacy_zones(ctx.store.engine, name))


@router.put("/cameras/{name}/privacy", response_model=PrivacyZones)
def put_privacy(
    name: str, body: PrivacyZones, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)
):
    """Static privacy zones (admins): blacked out in every image and clip the server hands out.
    ``name`` may be the camera's id (central names such as 'north/gate' hold a '/')."""
    name = camera_named(ctx, user, name)
    check_camera(user, ctx, name)
    width, height = _size(ctx, name)
    for number, polygon in enumerate(body.polygons):
        if len(polygon) < 3:
            raise ApiError(
                422,
                f"polygon {number} has {len(polygon)} points; a polygon needs at least 3",
                f"polygons.{number}",
            )
        _check_inside(polygon, width, height, f"polygons.{number}")
    with ctx.config_lock:
        zones = dict(repo.get_setting(ctx.store.engine, privacy.PRIVACY_KEY, {}))
        zones[name] = [[list(p) for p in polygon] for polygon in body.polygons]
        repo.set_setting(ctx.store.engine, privacy.PRIVACY_KEY, zones, user.name)
    audit.append(
        ctx.store.engine, user.name, "config_change", f"privacy:{name}", {"polygons": len(body.polygons)}
    )
    return PrivacyZones(polygons=zones[name])


@router.get("/retention", response_model=retention.RetentionSettings)
def get_retention(_user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)):
    return retention.current(ctx.store)


@router.put("/retention", response_model=retention.RetentionSettings)
def put_retention(
    body: retention.RetentionSettings, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)
):
    """Retention ages (admins); applied within minutes by the server, and once right now."""
    repo.set_setting(ctx.store.engine, retention.RETENTION_KEY, body.model_dump(), user.name)
    audit.append(ctx.store.engine, user.name, "config_change", "retention", body.model_dump())
    retention.enforce(ctx.store, body)
    return body
