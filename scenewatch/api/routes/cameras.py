"""Cameras the user may see, with their status badge (from the health checks)."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from scenewatch.api import queries
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ErrorBody
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.common import camera_named
from scenewatch.store.schema import runs

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
    streaming: bool = False  # a live frame came lately: without one the Live view has no picture
    # the camera's latest run: running, ended (a file camera played to its end), stopped, failed,
    # interrupted (the process died), indexed; None before its first run
    run_state: str | None = None
    run_ended_at: float | None = None  # epoch seconds, once the run is over
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
                streaming=ctx.live.streaming(name),  # analysed lately, watched or not
                **_run_state(ctx, row.get("id")),
                snapshot_url=f"/api/cameras/{name}/snapshot.jpg",
                live_url=f"/api/cameras/{name}/live.mjpeg",
            )
        )
    return out


def _run_state(ctx: ServerContext, camera_id: int | None) -> dict:
    """The state of the camera's latest run, in the words the Live card shows."""
    if camera_id is None:
        return {}
    with ctx.store.engine.connect() as conn:
        run = conn.execute(
            select(runs.c.mode, runs.c.status, runs.c.ended_at)
            .where(runs.c.camera_id == camera_id)
            .order_by(runs.c.id.desc())
            .limit(1)
        ).first()
    if run is None:
        return {}
    state = run.status
    if run.mode == "index":
        state = "indexed" if run.status in ("done", "truncated") else run.status
    elif run.status in ("done", "truncated"):  # only a file ends by itself
        state = "ended"
    return {"run_state": state, "run_ended_at": run.ended_at}


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
