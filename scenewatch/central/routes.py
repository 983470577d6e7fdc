"""The central's HTTP routes under ``/api/central``: ingest from edges, edges, search, media.

- ``POST /api/central/ingest``: an edge's shipment, bearer token of that edge (not a user);
- ``GET /api/central/edges``: every edge with last contact, backlog, version (admin);
- ``GET /api/central/search``: the plain-language search over all edges, thumbnails by URL;
- ``GET /api/central/thumbnails/{track_id}``: the track's thumbnail fetched from its edge;
- ``GET /api/central/events/{event_id}/snapshot``: an event's snapshot, likewise.
"""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
# ruff: noqa: B008
import logging

import cv2
import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import literal, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool

from scenewatch.api import audit, privacy
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, not_found
from scenewatch.api.permissions import Principal, admin, viewer
from scenewatch.api.routes.common import Id, jpeg_response
from scenewatch.api.routes.search import visible_names
from scenewatch.central import edges as registry
from scenewatch.central.ingest import IngestError, receive
from scenewatch.central.media import fetch_from_edge
from scenewatch.errors import SceneWatchError
from scenewatch.search.engine import search
from scenewatch.store.db import head_revision
from scenewatch.store.schema import cameras, edges, events, tracks

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/central", tags=["central"])


DB_RETRY_S = 15  # what a 503 asks the edge to wait: a database restart, not a second


def _error(status: int, message: str, retry_after_s: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return JSONResponse({"error": message, "field": None}, status_code=status, headers=headers)


@router.post("/ingest", include_in_schema=True)
async def ingest_shipment(request: Request, ctx: ServerContext = Depends(get_ctx)) -> JSONResponse:
    """File an edge's shipment (idempotent); 400 a row outside the schema (nothing filed), 401 bad
    token, 409 schema or naming conflict, 503 while the central database is away (the edge keeps
    the rows and retries)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return _error(401, "edge token missing (Authorization: Bearer ...)")
    body = await request.body()
    try:
        # checking and filing block on CPU and the database: off the event loop
        filed = await run_in_threadpool(receive, ctx.store.engine, header[7:].strip(), body)
    except registry.EdgeAuthError as exc:
        return _error(401, str(exc))
    except IngestError as exc:
        return _error(exc.status, str(exc))
    except IntegrityError as exc:  # not an outage: retrying the same rows cannot help
        first = str(exc.orig).splitlines()[0]
        return _error(409, f"shipment conflicts with rows already on the central: {first}")
    except DataError as exc:  # a value the database refuses: retrying cannot help either
        log.warning("ingest refused by the database: %s", str(exc.orig).splitlines()[0])
        return _error(400, "shipment holds a value the central database refuses")
    except DBAPIError as exc:
        log.warning("ingest: database unavailable: %s", str(exc.orig).splitlines()[0])
        return _error(503, "central database unavailable; keep the rows and retry", DB_RETRY_S)
    return JSONResponse({"filed": filed, "schema": head_revision()})


@router.get("/edges")
def list_edges(_user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)) -> list[dict]:
    """Every edge: site, last contact, backlog, version, schema, cameras and tracks."""
    return registry.list_edges(ctx.store.engine)


@router.get("/search")
def central_search(
    q: str = Query(..., max_length=500),
    limit: int = Query(20, ge=1, le=200),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
) -> dict:
    """The plain-language search over every edge the user may see; hits name their edge."""
    # recorded before anything is searched: no audit record, no answer (503)
    audit.append(ctx.store.engine, user.name, "search", "central_search", {"text": q})
    allowed = None if user.role == "admin" or user.cameras is None else sorted(user.cameras)
    # names of cameras (and their zones) the user may not see read as unknown words
    visible = visible_names(ctx, user)
    found = search(ctx.store, q, cameras=allowed, limit=limit, visible=visible, shares=ctx.term_shares)
    result = found.to_dict()
    owners = _owners(ctx, [h["track_id"] for h in result["results"]])
    for hit in result["results"]:
        owner = owners.get(hit["track_id"], {})
        hit["edge"], hit["site"] = owner.get("edge"), owner.get("site")
        hit["thumbnail_url"] = (
            f"/api/central/thumbnails/{hit['track_id']}" if owner.get("thumbnail") else None
        )
        hit.pop("thumbnail", None)  # an edge's path means nothing here
    return result


def _owners(ctx: ServerContext, track_ids: list[int]) -> dict[int, dict]:
    if not track_ids:
        return {}
    query = (
        select(tracks.c.id, tracks.c.thumbnail, edges.c.name.label("edge"), edges.c.site)
        .outerjoin(edges, edges.c.id == tracks.c.edge_id)
        .where(tracks.c.id.in_(track_ids))
    )
    with ctx.store.engine.connect() as conn:
        return {row.id: dict(row._mapping) for row in conn.execute(query)}


@router.get("/thumbnails/{track_id}", response_class=Response)
def thumbnail(track_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """The track's thumbnail from the edge that owns it (pixelated for masked users)."""
    query = _media_query(tracks.c.thumbnail, tracks.c.class_name, tracks).where(tracks.c.id == track_id)
    return _proxy(ctx, user, query, "thumbnail")


@router.get("/events/{event_id}/snapshot", response_class=Response)
def event_snapshot(event_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """The event's snapshot from the edge that owns it (pixelated whole for masked users: the
    central has no boxes to pixelate people one by one)."""
    query = _media_query(events.c.snapshot, literal("person"), events).where(events.c.id == event_id)
    return _proxy(ctx, user, query, "snapshot")


def _media_query(path, class_name, table):
    """The media path of a row of ``table``, its camera and the owning edge's registered media URL."""
    return (
        select(
            path.label("path"),
            class_name.label("class_name"),
            cameras.c.name.label("camera"),
            cameras.c.width,
            cameras.c.height,
            edges.c.name.label("edge"),
            edges.c.site,
            edges.c.media_url,
            edges.c.token_nonce,
        )
        .join(cameras, cameras.c.id == table.c.camera_id)
        .join(edges, edges.c.id == table.c.edge_id)
    )


def _proxy(ctx: ServerContext, user: Principal, query, what: str) -> Response:
    with ctx.store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or not row.path or not user.can_see(row.camera) or not _on_camera(row):
        raise not_found(what)
    if not row.media_url:
        raise ApiError(
            502,
            f"no media URL is registered for edge {row.edge!r}; an admin sets it with "
            f"`scenewatch edges set {row.edge} --media-url URL`",
        )
    try:
        key = registry.media_key(ctx.store, row.edge, row.token_nonce)
        fetched = fetch_from_edge(row.media_url, key, row.path)
    except SceneWatchError as exc:  # details are logged; the user learns nothing of the network
        raise ApiError(502, str(exc)) from None
    image = cv2.imdecode(np.frombuffer(fetched.data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ApiError(502, "the edge sent something that is not an image")
    return _masked(ctx, user, row, image, fetched.crop_origin)


def _on_camera(row) -> bool:
    """Whether the media path lies in the folder of the row's own camera on its edge (an edge
    cannot make the central fetch another camera's file under this camera's grants)."""
    local = row.camera.removeprefix(f"{row.site}/")
    parts = row.path.split("/")
    if len(parts) < 2 or parts[1] != local:
        log.warning("edge %s: media path %r is not under camera %s", row.edge, row.path, row.camera)
        return False
    return True


def _masked(ctx: ServerContext, user: Principal, row, image: np.ndarray, origin) -> Response:
    """The image with the central's privacy zones of the camera black (the edge blacked its own
    before sending) and, for masked users, people pixelated."""
    zones = tuple(np.asarray(z, np.float32) for z in privacy.privacy_zones(ctx.store.engine, row.camera))
    mask = privacy.Mask(zones, not user.unmasked and row.class_name == "person", None)
    if not zones:
        return jpeg_response(image, mask)
    if row.path.startswith("thumbnails/"):
        if origin is None:  # cannot place the zones in the crop: black it all
            return jpeg_response(np.zeros_like(image), privacy.Mask((), False, None))
        return jpeg_response(image, mask, (1.0, 1.0), origin)
    if not row.width or not row.height:  # frame size unknown: zones cannot be placed
        return jpeg_response(np.zeros_like(image), privacy.Mask((), False, None))
    return jpeg_response(image, mask, (image.shape[1] / row.width, image.shape[0] / row.height))
