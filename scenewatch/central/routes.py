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
import json
import logging

import cv2
import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import literal, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from scenewatch.api import privacy
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, not_found
from scenewatch.api.permissions import Principal, admin, viewer
from scenewatch.api.routes.common import jpeg_response
from scenewatch.central import edges as registry
from scenewatch.central.ingest import IngestError, ingest
from scenewatch.central.media import EdgeUnavailable, fetch_from_edge
from scenewatch.search.engine import search
from scenewatch.store.db import head_revision
from scenewatch.store.schema import cameras, edges, events, tracks

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/central", tags=["central"])


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": None}, status_code=status)


@router.post("/ingest", include_in_schema=True)
async def ingest_shipment(request: Request, ctx: ServerContext = Depends(get_ctx)) -> JSONResponse:
    """File an edge's shipment (idempotent); 401 bad token, 409 schema or naming conflict, 503
    while the central database is away (the edge keeps the rows and retries)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return _error(401, "edge token missing (Authorization: Bearer ...)")
    try:
        shipment = json.loads(await request.body())
        name = str(shipment["edge"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "shipment is not JSON with an 'edge' field")
    try:
        edge = registry.authenticate(ctx.store.engine, name, header[7:].strip())
        if shipment.get("site") != edge["site"]:
            return _error(
                409, f"edge {name!r} is registered in site {edge['site']!r}, not {shipment.get('site')!r}"
            )
        filed = ingest(ctx.store.engine, edge, shipment)
    except registry.EdgeAuthError as exc:
        return _error(401, str(exc))
    except IngestError as exc:
        return _error(exc.status, str(exc))
    except IntegrityError as exc:  # not an outage: retrying the same rows cannot help
        first = str(exc.orig).splitlines()[0]
        return _error(409, f"shipment conflicts with rows already on the central: {first}")
    except DBAPIError as exc:
        log.warning("ingest from %s: database unavailable: %s", name, str(exc.orig).splitlines()[0])
        return _error(503, "central database unavailable; keep the rows and retry")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _error(400, f"malformed shipment: {exc!r}")
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
    allowed = None if user.role == "admin" or user.cameras is None else sorted(user.cameras)
    result = search(ctx.store, q, cameras=allowed, limit=limit).to_dict()
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
def thumbnail(track_id: int, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """The track's thumbnail from the edge that owns it (pixelated for masked users)."""
    query = (
        select(
            tracks.c.thumbnail.label("path"),
            tracks.c.class_name,
            cameras.c.name.label("camera"),
            edges.c.media_url,
            edges.c.token_hash,
        )
        .join(cameras, cameras.c.id == tracks.c.camera_id)
        .join(edges, edges.c.id == tracks.c.edge_id)
        .where(tracks.c.id == track_id)
    )
    return _proxy(ctx, user, query, "thumbnail")


@router.get("/events/{event_id}/snapshot", response_class=Response)
def event_snapshot(event_id: int, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """The event's snapshot from the edge that owns it (pixelated whole for masked users: the
    central has no boxes to pixelate people one by one)."""
    query = (
        select(
            events.c.snapshot.label("path"),
            literal("person").label("class_name"),
            cameras.c.name.label("camera"),
            edges.c.media_url,
            edges.c.token_hash,
        )
        .join(cameras, cameras.c.id == events.c.camera_id)
        .join(edges, edges.c.id == events.c.edge_id)
        .where(events.c.id == event_id)
    )
    return _proxy(ctx, user, query, "snapshot")


def _proxy(ctx: ServerContext, user: Principal, query, what: str) -> Response:
    with ctx.store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or not row.path or not row.media_url or not user.can_see(row.camera):
        raise not_found(what)
    try:
        data = fetch_from_edge(row.media_url, row.token_hash, row.path)
    except EdgeUnavailable as exc:
        raise ApiError(502, str(exc)) from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ApiError(502, "the edge sent something that is not an image")
    pixelate = not user.unmasked and row.class_name == "person"
    return jpeg_response(image, privacy.Mask((), pixelate, None))
