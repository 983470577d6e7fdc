"""Editing zones, lines and rules (validated by the config models and written back to the YAML
file atomically, then applied by restarting the cameras), privacy zones and retention."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import os
import tempfile
import threading

import yaml
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, ValidationError

from scenewatch.api import audit, privacy, queries, retention
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, admin, check_camera, operator, viewer
from scenewatch.config import AppConfig, CameraConfig
from scenewatch.config.geometry import LineConfig, ZoneConfig
from scenewatch.config.rules import RuleConfig

router = APIRouter(
    prefix="/api/config", tags=["config"], responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
)
Polygon = list[tuple[float, float]]


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


def _check_inside(points: list, width: int | None, height: int | None, what: str) -> None:
    if not width or not height:
        return
    for x, y in points:
        if not (0 <= x <= width and 0 <= y <= height):
            raise ApiError(422, f"{what}: point ({x:g}, {y:g}) is outside the {width}x{height} frame", what)


@router.put("/cameras/{name}", response_model=CameraGeometryOut)
def put_geometry(
    name: str,
    body: CameraGeometry,
    user: Principal = Depends(operator),
    ctx: ServerContext = Depends(get_ctx),
):
    """Replace the camera's zones, lines and rules; the config file is rewritten atomically and
    the cameras restart with it (a few seconds without analysis)."""
    if ctx.config_path is None:
        raise ApiError(409, "the server runs without a writable config file; start it with --config FILE")
    camera = _configured(ctx, user, name)
    width, height = _size(ctx, name)
    for zone in body.zones:
        _check_inside(zone.polygon, width, height, f"zones.{zone.name}")
    for line in body.lines:
        _check_inside([line.a, line.b], width, height, f"lines.{line.name}")
    data = camera.model_dump(mode="json", exclude_defaults=True)
    data.update(body.model_dump(mode="json", exclude_defaults=True))
    for key in ("zones", "lines", "rules"):
        data.setdefault(key, [])
    with ctx.config_lock:
        try:
            updated = CameraConfig.model_validate(data)
            settings = ctx.settings.model_copy(
                update={"cameras": [updated if c.name == name else c for c in ctx.settings.cameras]}
            )
            settings = AppConfig.model_validate(settings.model_dump(mode="json", exclude_defaults=True))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ApiError(422, first["msg"], ".".join(str(p) for p in first["loc"]) or None) from None
        write_config(ctx.config_path, settings)
        ctx.settings = settings
    audit.append(
        ctx.store.engine,
        user.name,
        "config_change",
        f"camera:{name}",
        {"zones": len(body.zones), "lines": len(body.lines), "rules": len(body.rules)},
    )
    if ctx.runner is not None:  # zones and rules are read when a camera starts
        threading.Thread(target=ctx.runner.restart, args=(settings,), daemon=True).start()
    return get_geometry(name, user, ctx)


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
    check_camera(user, ctx, name)
    return PrivacyZones(polygons=privacy.privacy_zones(ctx.store.engine, name))


@router.put("/cameras/{name}/privacy", response_model=PrivacyZones)
def put_privacy(
    name: str, body: PrivacyZones, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)
):
    """Static privacy zones (admins): blacked out in every image and clip the server hands out."""
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
        zones = dict(queries.get_setting(ctx.store.engine, privacy.PRIVACY_KEY, {}))
        zones[name] = [[list(p) for p in polygon] for polygon in body.polygons]
        queries.set_setting(ctx.store.engine, privacy.PRIVACY_KEY, zones, user.name)
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
    queries.set_setting(ctx.store.engine, retention.RETENTION_KEY, body.model_dump(), user.name)
    audit.append(ctx.store.engine, user.name, "config_change", "retention", body.model_dump())
    retention.enforce(ctx.store, body)
    return body
