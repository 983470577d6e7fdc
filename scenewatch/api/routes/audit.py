"""The audit log, for admins: view, verify the chain and its anchor, export (itself audited); and
the 503 every audited action answers when its record cannot be written."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from scenewatch.api import audit
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, admin
from scenewatch.api.routes.common import Limit

router = APIRouter(prefix="/api/audit", tags=["audit"], responses={403: {"model": ErrorBody}})


class AuditRow(BaseModel):
    id: int
    ts: float
    user: str
    action: str
    target: str
    detail: dict
    prev_hash: str
    hash: str
    mac: str | None  # None on rows written before rows were signed


class CheckpointOut(BaseModel):
    id: int
    rows: int
    head: str
    ts: float


class Verification(BaseModel):
    ok: bool
    rows: int
    head: str
    first_bad: int | None
    reason: str | None
    unanchored_before: int | None  # rows before this id predate signing: linked, but not signed
    checkpoint: CheckpointOut | None  # the newest checkpoint kept outside the database


@router.get("", response_model=list[AuditRow])
def list_rows(
    limit: Limit = 100,
    before_id: int | None = Query(None, ge=1, le=2**62),
    action: str | None = Query(None, max_length=32),
    user_name: str | None = Query(None, alias="user", max_length=64),
    since: float | None = Query(None, ge=0, le=1e11, description="From this time (epoch seconds)."),
    until: float | None = Query(None, ge=0, le=1e11, description="Before this time (epoch seconds)."),
    _user: Principal = Depends(admin),
    ctx: ServerContext = Depends(get_ctx),
):
    """Newest first; page with ``before_id`` (the smallest id of the page before)."""
    if since is not None and until is not None and since >= until:
        raise ApiError(422, "the time range is empty: 'since' must be before 'until'", "since")
    return audit.rows(ctx.store.engine, limit, before_id, action, user_name, since, until)


@router.get("/verify", response_model=Verification)
def verify(_user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)):
    """Walk the hash chain and check each row's MAC and the checkpoints; ``first_bad`` is the first
    row that fails; a log cut short after its last checkpoint fails with no ``first_bad``."""
    return audit.verify(ctx.store.engine)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def export(
    format: Literal["jsonl", "csv"] = "jsonl",
    user: Principal = Depends(admin),
    ctx: ServerContext = Depends(get_ctx),
):
    """Every row, oldest first, with its hashes (re-verifiable elsewhere)."""
    audit.append(ctx.store.engine, user.name, "export", "audit", {"format": format})
    body = audit.export_jsonl(ctx.store.engine) if format == "jsonl" else audit.export_csv(ctx.store.engine)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    headers = {"content-disposition": f'attachment; filename="scenewatch-audit.{format}"'}
    return StreamingResponse(body, media_type=media, headers=headers)


async def audit_refused(_request: Request, exc: Exception) -> JSONResponse:
    """No record, no answer: 503, and nothing of what was asked for."""
    return JSONResponse({"error": str(exc), "field": None}, status_code=503, headers={"Retry-After": "30"})
