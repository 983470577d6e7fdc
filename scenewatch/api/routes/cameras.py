"""Cameras the user may see, with their status badge (from the health checks)."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from scenewatch.api import queries
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ErrorBody
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.common import camera_named

router = APIRouter(prefix="/api/cameras", tags=["cameras"], responses={404: {"model": ErrorBody}})


class CameraOut(BaseModel):
    id: int | None = None  # addresses the camera in paths too (central names hold a '/')
    name: str
    configured: bool
    live: bool  # a live stream (RTSP/HTTP) rather than a file
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    status: str  # ok, degraded, offline, unknown ...
    online: bool | None = None
    online_rate: float | None = None
    faults: list[dict] = []
    snapshot_url: str
    live_url: str


def _cameras(ctx: ServerContext, user: Principal) -> list[CameraOut]:
    from scenewatch.health.store import fleet_report

    health = {c["camera"]: c for c in fleet_report(ctx.store.engine)["cameras"]}
    configured = {c.name: c for c in ctx.settings.cameras}
    out = []
    for name in user.visible(ctx.camera_names()):
        row = queries.camera_row(ctx.store.engine, name) or {}
        state = health.get(name, {})
        cam = configured.get(name)
        out.append(
            CameraOut(
                id=row.get("id"),
                name=name,
                configured=cam is not None,
                live=bool(cam and cam.source.is_live),
                width=row.get("width"),
                height=row.get("height"),
                fps=row.get("fps"),
                status=state.get("status") or ("unknown" if cam else "recorded"),
                online=state.get("online"),
                online_rate=state.get("online_rate"),
                faults=state.get("faults") or [],
                snapshot_url=f"/api/cameras/{name}/snapshot.jpg",
                live_url=f"/api/cameras/{name}/live.mjpeg",
            )
        )
    return out


@router.get("", response_model=list[CameraOut])
def list_cameras(user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """Cameras you may see: configured ones and those with recorded data only."""
    return _cameras(ctx, user)


@router.get("/{name}", response_model=CameraOut)
def get_camera(name: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """One camera, by name or by id (central names such as 'north/gate' hold a '/')."""
    name = camera_named(ctx, user, name)
    check_camera(user, ctx, name)
    return next(c for c in _cameras(ctx, user) if c.name == name)
