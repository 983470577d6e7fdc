"""Camera health: online rates, current faults and the history of fault episodes."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from scenewatch.api import queries
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ErrorBody, not_found
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.common import Id, Limit
from scenewatch.api.routes.media import serve_media

router = APIRouter(prefix="/api/health", tags=["health"], responses={404: {"model": ErrorBody}})


class HealthOut(BaseModel):
    window_s: float
    site_online_rate: float | None
    cameras: list[dict]
    pipeline: dict


class HealthEventOut(BaseModel):
    id: int
    camera: str
    fault: str
    state: str
    severity: str
    start_ts: float
    end_ts: float | None
    detail: dict
    snapshot_url: str | None


@router.get("", response_model=HealthOut)
def fleet(
    window_h: float = Query(24.0, gt=0, le=24 * 366, description="Online-rate window in hours."),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Per camera: status (the worst of its open faults; 'not watched' when no run watches it),
    online now, lag, whether the detector pool holds it to its share ('capped'), online rate over
    the window (watched time only), current faults. The same report as `scenewatch health`."""
    from scenewatch.health.store import fleet_report, site_rate

    report = fleet_report(ctx.store.engine, window_s=window_h * 3600)
    cameras = [c for c in report["cameras"] if user.can_see(c["camera"])]
    runner = ctx.runner
    pipeline = {
        "running": bool(runner and runner.running),
        "error": getattr(runner, "error", None) if user.role == "admin" else None,
    }
    return HealthOut(
        window_s=report.get("window_s", window_h * 3600),
        site_online_rate=site_rate(cameras),
        cameras=cameras,
        pipeline=pipeline,
    )


@router.get("/events", response_model=list[HealthEventOut])
def history(
    camera: str | None = Query(None, max_length=64),
    limit: Limit = 100,
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Fault episodes and records, newest first."""
    if camera is not None:
        check_camera(user, ctx, camera)
    rows = queries.health_history(ctx.store.engine, user.visible(ctx.camera_names()), limit, camera)
    return [
        HealthEventOut(
            **{k: r[k] for k in HealthEventOut.model_fields if k in r and k != "snapshot_url"},
            snapshot_url=f"/api/health/events/{r['id']}/snapshot.jpg" if r.get("snapshot") else None,
        )
        for r in rows
    ]


@router.get(
    "/events/{event_id}/snapshot.jpg",
    responses={200: {"content": {"image/jpeg": {}}}},
    response_class=Response,
)
def snapshot(event_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    row = queries.health_event(ctx.store.engine, event_id)
    if row is None or not user.can_see(row["camera"]) or not row.get("snapshot"):
        raise not_found(f"health event {event_id}")
    return serve_media(ctx, user, row["snapshot"])
