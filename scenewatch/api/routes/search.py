"""Plain-language search (English or Chinese) over the cameras the user may see; every search is
audited with its text."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import re
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scenewatch.api import audit
from scenewatch.api.cache import cached_answer, rows_of
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, viewer
from scenewatch.api.routes.common import Id
from scenewatch.api.routes.tracks import visible_track
from scenewatch.search.engine import MAX_LIMIT

router = APIRouter(prefix="/api/search", tags=["search"], responses={404: {"model": ErrorBody}})


class MemberOut(BaseModel):
    """One fragment of a result's walk: the same camera, its own track, clip and thumbnail."""

    track_id: int
    start_ts: float
    end_ts: float
    score: float | None  # None: this fragment alone does not match the query
    thumbnail_url: str | None
    clip_url: str


class HitOut(BaseModel):
    track_id: int
    camera: str
    class_name: str
    start: str
    end: str
    start_ts: float
    end_ts: float
    score: float
    reasons: list[str]
    thumbnail_url: str | None
    clip_url: str
    fragments: int  # tracks of this walk (the camera's fragments of one object, grouped)
    members: list[MemberOut]  # those tracks in time order, this one among them


class SearchOut(BaseModel):
    understood: dict
    ignored: list[str]
    notes: list[str]
    results: list[HitOut]


def _answer(result) -> SearchOut:
    """The answer's shape; a thumbnail is offered where the search found its file's path (inside the
    media folder: ``search/results.py`` checked it), served by the track's thumbnail route."""
    data = result.to_dict()
    hits = [
        HitOut(
            track_id=h["track_id"],
            camera=h["camera"],
            class_name=h["class"],
            start=h["start"],
            end=h["end"],
            start_ts=h["start_ts"],
            end_ts=h["end_ts"],
            score=h["score"],
            reasons=h["reasons"],
            thumbnail_url=f"/api/tracks/{h['track_id']}/thumbnail.jpg" if h["thumbnail"] else None,
            clip_url=f"/api/clips/track/{h['track_id']}",
            fragments=h["fragments"],
            members=_members(hit),
        )
        for h, hit in zip(data["results"], result.results, strict=True)
    ]
    return SearchOut(
        understood=data["understood"], ignored=data["ignored"], notes=data["notes"], results=hits
    )


def _members(hit) -> list[MemberOut]:
    members = hit.to_dict()["members"]
    paths = [m.thumbnail for m in hit.members] or [hit.thumbnail]
    out = []
    for m, path in zip(members, paths, strict=True):
        thumbnail = f"/api/tracks/{m['track_id']}/thumbnail.jpg" if path else None
        out.append(MemberOut(**m, thumbnail_url=thumbnail, clip_url=f"/api/clips/track/{m['track_id']}"))
    return out


def _unrestricted(user: Principal) -> bool:
    return user.cameras is None or user.role == "admin"


def _scope(names: list[str], user: Principal, camera: list[str] | None) -> list[str] | None:
    """The cameras to search (None: all) out of ``names``, the cameras there are."""
    if not camera and _unrestricted(user):
        return None
    allowed = user.visible(names)
    if camera:
        return [c for c in camera if c in allowed]  # unknown or not yours: left out
    return allowed


def visible_names(ctx: ServerContext, user: Principal) -> tuple[str, ...] | None:
    """The cameras whose names (and zones) a query may recognise for this user; None: all."""
    return _readable([] if _unrestricted(user) else ctx.camera_names(), user)


def _readable(names: list[str], user: Principal) -> tuple[str, ...] | None:
    """``visible_names`` out of ``names``, the cameras there are."""
    return None if _unrestricted(user) else tuple(user.visible(names))


NOTHING = SearchOut(understood={}, ignored=[], notes=["no cameras to search"], results=[])
_NOTHING_BYTES = NOTHING.model_dump_json().encode()
MAX_TEXT = 500
EMPTY_QUERY = "the query is empty"
EMPTY_HINT = "type what to look for, e.g. person in a red top"
_NUMBER = re.compile(r"-?\d+(\.\d+)?")  # a picked time in epoch seconds


def _picked_cameras(names: list[str], user: Principal, picked: list[str] | None) -> list[str] | None:
    """The cameras picked beside the query, each one the user may see (another is answered as
    unknown, as a camera that does not exist)."""
    if not picked:
        return None
    mine = user.visible(names)
    for name in picked:
        if name not in mine:
            known = ", ".join(mine[:8]) or "none"
            raise ApiError(400, f"unknown camera {name!r} (your cameras: {known})", "cameras")
    return list(dict.fromkeys(picked))


def _picked_time(value: str | None, name: str) -> datetime | None:
    """A time picked beside the query: ISO 8601 (without an offset: the server's time zone) or
    epoch seconds; in the server's time zone, like the times the text names."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        moment = (
            datetime.fromtimestamp(float(text), UTC)
            if _NUMBER.fullmatch(text)
            else datetime.fromisoformat(text)
        )
        return moment.astimezone()  # naive: taken as local time
    except (ValueError, OverflowError, OSError):
        raise ApiError(
            400, f"{name} {value!r} is not a time: use e.g. 2026-12-06T18:00 or epoch seconds", name
        ) from None


def _check_text(q: str) -> None:
    """The same plain words as the command line for a query that cannot be searched."""
    if not q.strip():
        raise ApiError(422, f"{EMPTY_QUERY}: {EMPTY_HINT}", "q")
    if len(q) > MAX_TEXT:
        raise ApiError(422, f"the query is too long ({len(q)} characters): at most {MAX_TEXT}", "q")


@router.get("", response_model=SearchOut)
async def search(
    q: str = Query("", description='e.g. "person in a red top", "穿红色上衣的人" (1 to 500 characters)'),
    camera: list[str] | None = Query(None, max_length=20, description="Only these cameras."),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=MAX_LIMIT - 1, description="Skip this many results (paging)."),
    cameras: list[str] | None = Query(
        None, max_length=20, description="Picked cameras: narrow the cameras the text names; unknown: 400."
    ),
    start: str | None = Query(
        None,
        max_length=40,
        description="Picked start: ISO 8601 (no offset: the server's time zone) or epoch seconds; "
        "narrows the time the text names.",
    ),
    end: str | None = Query(None, max_length=40, description="Picked end, as ``start``."),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """What was understood and ignored, and the ranked tracks with their reasons; page with
    ``offset`` (ranks beyond 200 are not kept). The picked ``cameras``, ``start`` and ``end`` narrow
    what the text says ("on yard", "yesterday after 6pm") to where both agree."""
    # A coroutine: a repeated search (the audit record awaited, the answer cached) takes no worker
    # thread; the database is read in one only when the camera list or a new answer is needed.
    _check_text(q)
    needs_names = bool(camera or cameras) or not _unrestricted(user)
    names = await run_in_threadpool(ctx.camera_names) if needs_names else []
    picked = _picked_cameras(names, user, cameras)
    window = (_picked_time(start, "start"), _picked_time(end, "end"))
    if window[0] and window[1] and window[0] > window[1]:
        raise ApiError(400, "end is before start: pick an end after the start", "end")
    limit = min(limit, MAX_LIMIT - offset)
    asked: dict[str, object] = {"text": q, "cameras": camera}
    if picked or window != (None, None):
        asked["picked"] = {"cameras": picked, "start": start, "end": end}
    # The record's commit (shared by concurrent searches) and the answer go side by side; nothing
    # of the answer leaves before the record is committed, and none does if it cannot be (503).
    recorded = audit.append_soon(ctx.store.engine, user.name, "search", "search", asked)
    try:
        body = await _answer_bytes(ctx, user, names, picked, window, (q, camera, limit, offset))
    finally:
        await recorded.committed()
    return Response(body, media_type="application/json")


async def _answer_bytes(
    ctx: ServerContext,
    user: Principal,
    names: list[str],
    picked: list[str] | None,
    window: tuple[datetime | None, datetime | None],
    asked: tuple[str, list[str] | None, int, int],
) -> bytes:
    """The JSON answer to text ``q`` on ``camera`` (``asked``) for ``user``, cached."""
    q, camera, limit, offset = asked
    scope = _scope(names, user, camera)
    if picked is not None:
        scope = picked if scope is None else [c for c in scope if c in picked]
    if scope == []:
        return _NOTHING_BYTES
    # the same text over the same cameras gives the same answer until the index changes: tracks are
    # found through their terms (written when a track is finished) or as the newest rows, so the
    # many updates of tracks still in progress keep the cached answers (``api/cache.py``: how fresh)
    tables = (rows_of("tracks"), "track_terms", "search_zones", "cameras")
    versions = ctx.versions
    visible = _readable(names, user)  # part of the key: it changes how the text is read
    key = (q, None if scope is None else tuple(scope), limit, offset, visible, window)

    def compute() -> bytes:
        from scenewatch.search.engine import search as run_search

        found = run_search(
            ctx.store,
            q,
            cameras=scope,
            limit=offset + limit,
            visible=visible,
            shares=ctx.term_shares,
            window=window,
            vectors=ctx.vectors,
        )
        found.results = found.results[offset:]
        return _answer(found).model_dump_json().encode()

    if versions is None:
        return await run_in_threadpool(compute)
    mine = (*key, versions.own(*tables))  # the server's own writes show in the next answer
    return await cached_answer(ctx.search_cache, mine, compute, lambda: versions.version(*tables))


@router.get("/like/{track_id}", response_model=SearchOut)
def more_like(
    track_id: Id,
    limit: int = Query(20, ge=1, le=100),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Tracks that look like this one."""
    from scenewatch.search.engine import more_like as run_more_like

    visible_track(ctx, user, track_id)
    audit.append(ctx.store.engine, user.name, "search", f"track:{track_id}", {"like": track_id})
    names = [] if _unrestricted(user) else ctx.camera_names()
    scope = _scope(names, user, None)
    if scope == []:
        return NOTHING
    found = run_more_like(ctx.store, track_id, limit=limit, cameras=scope, visible=_readable(names, user))
    return _answer(found)
