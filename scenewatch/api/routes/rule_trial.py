"""Trying a rule on the past: what a rule, as the form holds it (saved or not), would have raised
over the camera's stored tracks (``scenewatch.rules.replay``). Nothing is stored or delivered."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, SkipValidation, ValidationError

from scenewatch.api import audit
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, operator
from scenewatch.api.routes.config import CameraGeometry, _configured, _validated
from scenewatch.config import CameraConfig
from scenewatch.rules.replay import ReplayError, parse_since, replay

router = APIRouter(
    prefix="/api/config",
    tags=["config"],
    responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
)


class RuleTest(CameraGeometry):
    """The form's zones, lines and rules (as PUT /api/config/cameras/NAME takes them), the rule to
    try and how far back."""

    rule: str = Field(min_length=1, max_length=64, description="The rule's name among ``rules``.")
    since: str = Field("7d", max_length=16, description="How far back: 90s, 30m, 12h, 7d, 2w.")


class RuleTestEvent(BaseModel):
    start: float
    end: float | None
    track_ids: list[int]
    thumbnail_urls: list[str]
    detail: dict


class RuleTestOut(BaseModel):
    camera: str
    rule: str
    start: float
    until: float
    count: int
    tracks: int
    replayed: int
    frames: int
    seconds: float
    events: list[RuleTestEvent]


@router.post("/cameras/{name}/rules/test", response_model=RuleTestOut)
def try_rule(
    name: str,
    body: Annotated[RuleTest, SkipValidation],  # documented as RuleTest, checked below
    user: Principal = Depends(operator),
    ctx: ServerContext = Depends(get_ctx),
):
    """What ``rule`` would have raised over the camera's stored tracks since ``since``, with the
    same rule engine the camera runs: the count and the events with their tracks' thumbnails."""
    camera = _configured(ctx, user, name)
    raw: Any = body
    if not isinstance(raw, dict):
        raise ApiError(422, "send an object: zones, lines, rules, rule and since", "body")
    geometry = _validated({k: v for k, v in raw.items() if k in ("zones", "lines", "rules")})
    rule, since = str(raw.get("rule") or ""), str(raw.get("since") or "7d")
    try:
        seconds = parse_since(since)
        data = camera.model_dump(mode="json", exclude_defaults=True)
        data.update(geometry.model_dump(mode="json", exclude_defaults=True))
        try:
            edited = CameraConfig.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ApiError(422, first["msg"], ".".join(str(p) for p in first["loc"]) or None) from None
        audit.append(
            ctx.store.engine, user.name, "search", f"camera:{name}", {"rule_test": rule, "since": since}
        )
        tracker = edited.tracker_settings(ctx.settings.tracker)
        result = replay(ctx.store.engine, edited, rule, time.time() - seconds, tracker=tracker)
    except ReplayError as exc:
        raise ApiError(404 if exc.field == "camera" else 422, exc.reason, exc.field) from None
    return RuleTestOut(
        **{k: v for k, v in result.as_dict().items() if k != "events"},
        events=[
            RuleTestEvent(
                start=e.start,
                end=e.end,
                track_ids=e.track_ids,
                thumbnail_urls=[
                    f"/api/tracks/{t}/thumbnail.jpg"
                    for t, thumb in zip(e.track_ids, e.thumbnails, strict=True)
                    if thumb
                ],
                detail=e.detail,
            )
            for e in result.events
        ],
    )
