"""The audit log, for admins: view, verify the hash chain, export (the export is itself audited)."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from scenewatch.api import audit
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ErrorBody
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


class Verification(BaseModel):
    ok: bool
    rows: int
    head: str
    first_bad: int | None
    reason: str | None


@router.get("", response_model=list[AuditRow])
def list_rows(
    limit: Limit = 100,
    before_id: int | None = Query(None, ge=1, le=2**62),
    action: str | None = Query(None, max_length=32),
    user_name: str | None = Query(None, alias="user", max_length=64),
    _user: Principal = Depends(admin),
    ctx: ServerContext = Depends(get_ctx),
):
    """Newest first; page with ``before_id``."""
    return audit.rows(ctx.store.engine, limit, before_id, action, user_name)


@router.get("/verify", response_model=Verification)
def verify(_user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)):
    """Walk the hash chain; ``first_bad`` is the first row that does not link."""
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
