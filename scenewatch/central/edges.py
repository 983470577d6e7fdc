"""The central's edge registry: add an edge (its token is shown once), rotate, authenticate, list."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from scenewatch.central import tokens
from scenewatch.config.central import NAME
from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import cameras, edges, tracks


class EdgeAuthError(SceneWatchError):
    """Unknown edge, wrong or rotated (stale) token."""


def add_edge(engine: Engine, name: str, site: str) -> str:
    """Register edge ``name`` in ``site``; returns its token (shown once, stored hashed)."""
    for what, value in (("edge", name), ("site", site)):
        if not NAME.match(value):
            raise SceneWatchError(f"bad {what} name {value!r}", "use 1-32 letters, digits, '_', '-' or '.'")
    token = tokens.new_token()
    with engine.begin() as conn:
        if conn.scalar(select(edges.c.id).where(edges.c.name == name)) is not None:
            raise SceneWatchError(
                f"edge {name!r} already exists", "give it a new token with `scenewatch edges rotate`"
            )
        conn.execute(
            insert(edges).values(
                name=name, site=site, token_hash=tokens.token_hash(token), created_at=time.time()
            )
        )
    return token


def rotate_token(engine: Engine, name: str) -> str:
    """A new token for edge ``name``; the old one stops working at once."""
    token = tokens.new_token()
    with engine.begin() as conn:
        done = conn.execute(
            update(edges).where(edges.c.name == name).values(token_hash=tokens.token_hash(token))
        ).rowcount
    if not done:
        raise SceneWatchError(f"no edge named {name!r}", "list edges with `scenewatch edges`")
    return token


def authenticate(engine: Engine, name: str, token: str) -> dict[str, Any]:
    """The edge row if ``token`` is edge ``name``'s current token, else EdgeAuthError."""
    with engine.connect() as conn:
        row = conn.execute(select(edges).where(edges.c.name == name)).first()
    if row is None:
        raise EdgeAuthError(f"unknown edge {name!r}", "register it on the central: scenewatch edges add")
    if not tokens.matches(token, row.token_hash):
        raise EdgeAuthError(
            f"wrong or outdated token for edge {name!r}",
            "copy the current token from `scenewatch edges add/rotate` into the edge config",
        )
    return dict(row._mapping)


def list_edges(engine: Engine, now: float | None = None) -> list[dict[str, Any]]:
    """Every edge with its last contact, backlog, version, schema, cameras and tracks held."""
    now = time.time() if now is None else now
    n_cameras = (
        select(func.count()).select_from(cameras).where(cameras.c.edge_id == edges.c.id).scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                edges.c.name,
                edges.c.site,
                edges.c.last_contact,
                edges.c.backlog,
                edges.c.version,
                edges.c.schema_revision,
                edges.c.media_url,
                n_cameras.label("cameras"),
                edges.c.id,
            ).order_by(edges.c.site, edges.c.name)
        ).all()
        out = []
        for row in rows:
            item = dict(row._mapping)
            # counted per edge on the (edge_id, edge_row) index: cheap even with millions of rows
            item["tracks"] = conn.scalar(
                select(func.count()).select_from(tracks).where(tracks.c.edge_id == item.pop("id"))
            )
            last = item["last_contact"]
            item["seconds_since_contact"] = None if last is None else round(now - last, 1)
            out.append(item)
    return out
