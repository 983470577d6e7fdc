"""Small pieces the routers share: page-size limits, user JSON, masked image responses."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from typing import Annotated, Any

import cv2
import numpy as np
from fastapi import Path, Query, Response
from pydantic import BaseModel

from scenewatch.api import privacy
from scenewatch.api.errors import not_found

# database ids: positive and within 64-bit integers (bigger numbers are 422, not a crash)
Id = Annotated[int, Path(ge=1, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items (1-500).")]
NO_STORE = {"cache-control": "no-store"}
# masked per user, and a new privacy zone must take effect at once: never kept by a cache
MEDIA_HEADERS = {"cache-control": "private, no-store"}


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    cameras: list[str] | None = None
    unmasked: bool = False
    disabled: bool = False
    created_at: float | None = None


def user_out(user: dict[str, Any]) -> UserOut:
    return UserOut(**{k: user.get(k) for k in UserOut.model_fields if user.get(k) is not None})


def camera_named(ctx, user, key: str) -> str:
    """The camera that path segment ``key`` names: a camera name, else the numeric id of a camera
    ``user`` may see (central names such as 'north/gate' hold a '/', which no path segment can
    carry). Ids of other cameras stay as they are, so a 404 does not reveal their names."""
    from sqlalchemy import select

    from scenewatch.store.schema import cameras

    if key in ctx.camera_names() or not (key.isascii() and key.isdigit()) or len(key) > 18:
        return key
    with ctx.store.engine.connect() as conn:
        name = conn.scalar(select(cameras.c.name).where(cameras.c.id == int(key)))
    return name if name is not None and user.can_see(name) else key


def media_url(store, absolute_or_relative: str | None) -> str | None:
    """The API URL of a media file (thumbnails come from search as absolute paths)."""
    if not absolute_or_relative:
        return None
    from pathlib import Path

    path = Path(absolute_or_relative)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(store.media.root.resolve())
        except ValueError:
            return None
    return f"/api/media/{path.as_posix()}"


def read_image(store, relative: str) -> np.ndarray:
    """A media image, 404 when the file is gone (retention) or not an image; 400 on traversal."""
    from scenewatch.api.errors import ApiError

    try:
        path = store.media.absolute(relative)
    except ValueError:
        raise ApiError(400, "media path leaves the media folder", "path") from None
    if not path.is_file():
        raise not_found("media file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise not_found("media file")
    return image


def jpeg_response(image: np.ndarray, mask: privacy.Mask, scale=(1.0, 1.0), offset=(0.0, 0.0)) -> Response:
    body = privacy.encode_jpeg(privacy.apply(image, mask, scale, offset))
    return Response(body, media_type="image/jpeg", headers=MEDIA_HEADERS)


def stored_jpeg(store, relative: str) -> Response:
    """A media JPEG as stored, for a user who is shown it unmasked: no decoding and encoding again;
    404 like :func:`read_image` when the file is gone or not a JPEG."""
    from scenewatch.api.errors import ApiError

    try:
        path = store.media.absolute(relative)
    except ValueError:
        raise ApiError(400, "media path leaves the media folder", "path") from None
    try:
        body = path.read_bytes()
    except OSError:
        raise not_found("media file") from None
    if not body.startswith(b"\xff\xd8\xff"):
        raise not_found("media file")
    return Response(body, media_type="image/jpeg", headers=MEDIA_HEADERS)
