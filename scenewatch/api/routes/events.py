"""Rule events: list, show, acknowledge, resolve; their snapshots; and a live SSE stream."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, TypeAdapter
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from scenewatch.api import audit
from scenewatch.api.cache import cached_answer
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody, not_found
from scenewatch.api.feed import alert_body
from scenewatch.api.permissions import Principal, check_camera, operator, viewer
from scenewatch.api.routes.common import Id, Limit
from scenewatch.api.routes.media import serve_media
from scenewatch.notify.stream import KEEPALIVE, SSE_SEP, sse_comment, sse_event
from scenewatch.notify.stream import events as subscribe

KEEPALIVE_S = 10.0  # under the idle timeout of common proxies (nginx: 60 s)
router = APIRouter(prefix="/api/events", tags=["events"], responses={404: {"model": ErrorBody}})


class EventOut(BaseModel):
    id: int
    camera: str
    rule: str
    rule_type: str
    start_ts: float
    end_ts: float | None
    state: str
    detail: dict
    track_ids: list
    snapshot_url: str | None
    clip_url: str | None


def _visible(ctx: ServerContext, user: Principal, event_id: Id) -> dict:
    from scenewatch.rules.store import get_event
    from scenewatch.store.repo import NotFound

    try:
        event = get_event(ctx.store.engine, event_id)
    except NotFound:
        raise not_found(f"event {event_id}") from None
    if not user.can_see(event["camera"]):
        raise not_found(f"event {event_id}")
    return event


@router.get("", response_model=list[EventOut])
async def list_events(
    camera: str | None = Query(None, max_length=64),
    rule: str | None = Query(None, max_length=64, description="Rule name or rule type."),
    state: str | None = Query(None, pattern="^(new|acknowledged|resolved)$"),
    since: float | None = Query(None, description="Started at or after (epoch seconds)."),
    limit: Limit = 100,
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Newest first."""
    # A coroutine: a repeated page (cached) takes no worker thread; the database is read in one
    # only when the camera list or a new page is needed.
    if camera is not None:
        await run_in_threadpool(check_camera, user, ctx, camera)
        names: list[str | None] = [camera]
    elif user.cameras is None or user.role == "admin":
        names = [None]
    else:
        names = list(user.visible(await run_in_threadpool(ctx.camera_names)))
    # the same page for the same cameras and filters until events change (``api/cache.py``: how fresh)
    versions = ctx.versions
    key = (tuple(names), rule, state, since, limit)

    def compute() -> bytes:
        from scenewatch.rules.store import list_events as query

        rows: list[dict] = []
        for name in names:
            rows += query(ctx.store.engine, camera=name, rule=rule, state=state, since=since, limit=limit)
        rows.sort(key=lambda r: (r["start_ts"], r["id"]), reverse=True)
        return _EVENTS.dump_json(_EVENTS.validate_python([alert_body(r) for r in rows[:limit]]))

    if versions is None:
        body = await run_in_threadpool(compute)
    else:
        mine = (*key, versions.own("events", "cameras"))  # the server's own writes show at once
        body = await cached_answer(
            ctx.events_cache, mine, compute, lambda: versions.version("events", "cameras")
        )
    return Response(body, media_type="application/json")


_EVENTS = TypeAdapter(list[EventOut])


@router.get(
    "/stream", response_class=EventSourceResponse, responses={200: {"content": {"text/event-stream": {}}}}
)
async def stream(user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """Server-sent events: ``event: alert`` for each new or changed event of your cameras;
    ``event: gap`` when some were dropped (reload the list then)."""

    async def messages():
        yield sse_comment("connected")
        # sse-starlette sends the keepalives and ends this generator when the client goes
        async for item in subscribe(ctx.hub, heartbeat_s=KEEPALIVE_S):
            if item is not None and (item[0] != "alert" or user.can_see(item[1]["camera"])):
                yield sse_event(*item)

    return EventSourceResponse(
        messages(), ping=KEEPALIVE_S, ping_message_factory=lambda: KEEPALIVE, sep=SSE_SEP
    )


@router.get("/{event_id}", response_model=EventOut)
def get_event(event_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    return alert_body(_visible(ctx, user, event_id))


def _change(ctx: ServerContext, user: Principal, event_id: Id, state: str) -> dict:
    from scenewatch.rules.store import set_event_state

    _visible(ctx, user, event_id)
    event = set_event_state(ctx.store.engine, event_id, state)
    audit.append(ctx.store.engine, user.name, "event_state", f"event:{event_id}", {"state": event["state"]})
    return alert_body(event)


@router.post("/{event_id}/ack", response_model=EventOut)
def acknowledge(event_id: Id, user: Principal = Depends(operator), ctx: ServerContext = Depends(get_ctx)):
    """Mark the event acknowledged (operators and admins)."""
    return _change(ctx, user, event_id, "acknowledged")


@router.post("/{event_id}/resolve", response_model=EventOut)
def resolve(event_id: Id, user: Principal = Depends(operator), ctx: ServerContext = Depends(get_ctx)):
    """Mark the event resolved (operators and admins)."""
    return _change(ctx, user, event_id, "resolved")


@router.get(
    "/{event_id}/snapshot.jpg", responses={200: {"content": {"image/jpeg": {}}}}, response_class=Response
)
def snapshot(event_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    event = _visible(ctx, user, event_id)
    if not event.get("snapshot"):
        raise ApiError(404, "this event has no snapshot")
    return serve_media(ctx, user, event["snapshot"])
