"""The central's edge registry: add an edge (its token is shown once), rotate, authenticate, list.

An edge's token is derived from the central's secret key file and a nonce kept in ``edges``
(``edge_tokens.py``): the database alone holds no usable key. The media base URL the central fetches
an edge's thumbnails and snapshots from is set here by an admin, never by the edge.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from scenewatch.central import edge_tokens as tokens
from scenewatch.config.central import MEDIA_URL_HINT, NAME, media_url_problem
from scenewatch.errors import SceneWatchError
from scenewatch.store.data import DataStore
from scenewatch.store.keys import node_key
from scenewatch.store.schema import cameras, edges, tracks

# compared against when the edge is unknown, so that answer takes as long as a wrong token
_DUMMY_HASH = tokens.token_hash(tokens.PREFIX + "no-such-edge")


class EdgeAuthError(SceneWatchError):
    """Unknown edge, wrong or rotated (stale) token: one message for all, names are not revealed."""


def check_media_url(url: str) -> str:
    """``url`` without a trailing '/', or a SceneWatchError saying what is wrong with it."""
    problem = media_url_problem(url)
    if problem:
        raise SceneWatchError(f"bad --media-url {url!r}: {problem}", MEDIA_URL_HINT)
    return url.rstrip("/")


def add_edge(store: DataStore, name: str, site: str, media_url: str | None = None) -> str:
    """Register edge ``name`` in ``site``; returns its token (shown once, stored hashed)."""
    for what, value in (("edge", name), ("site", site)):
        if not NAME.match(value):
            raise SceneWatchError(f"bad {what} name {value!r}", "use 1-32 letters, digits, '_', '-' or '.'")
    media_url = None if media_url is None else check_media_url(media_url)
    nonce = tokens.new_nonce()
    token = tokens.derive_token(_node_key(store), name, nonce)
    with store.engine.begin() as conn:
        if conn.scalar(select(edges.c.id).where(edges.c.name == name)) is not None:
            raise SceneWatchError(
                f"edge {name!r} already exists", "give it a new token with `scenewatch edges rotate`"
            )
        conn.execute(
            insert(edges).values(
                name=name,
                site=site,
                token_hash=tokens.token_hash(token),
                token_nonce=nonce,
                media_url=media_url,
                created_at=time.time(),
            )
        )
    return token


def rotate_token(store: DataStore, name: str) -> str:
    """A new token for edge ``name``; the old one (and its media key) stops working at once."""
    nonce = tokens.new_nonce()
    token = tokens.derive_token(_node_key(store), name, nonce)
    _update(store.engine, name, token_hash=tokens.token_hash(token), token_nonce=nonce)
    return token


def set_media_url(engine: Engine, name: str, media_url: str) -> str:
    """Set where the central fetches edge ``name``'s media; returns the URL as stored."""
    media_url = check_media_url(media_url)
    _update(engine, name, media_url=media_url)
    return media_url


def _node_key(store: DataStore) -> bytes:
    # with PostgreSQL the data folder may not exist yet: it holds the key file
    store.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return node_key(store.root)


def _update(engine: Engine, name: str, **values: Any) -> None:
    with engine.begin() as conn:
        done = conn.execute(update(edges).where(edges.c.name == name).values(**values)).rowcount
    if not done:
        raise SceneWatchError(f"no edge named {name!r}", "list edges with `scenewatch edges`")


def media_key(store: DataStore, name: str, nonce: str | None) -> bytes:
    """The key that signs media requests to edge ``name`` (re-derived from the key file)."""
    if nonce is None:
        raise SceneWatchError(
            f"edge {name!r} was registered before media signing keys",
            f"give it a new token with `scenewatch edges rotate {name}` and put it in the edge config",
        )
    return tokens.media_key(tokens.derive_token(_node_key(store), name, nonce))


def authenticate(engine: Engine, name: str, token: str) -> dict[str, Any]:
    """The edge row if ``token`` is edge ``name``'s current token, else EdgeAuthError.

    An unknown edge and a wrong token get the same message after the same work (a hash compare),
    so the answer does not tell which edge names exist."""
    with engine.connect() as conn:
        row = conn.execute(select(edges).where(edges.c.name == name)).first()
    good = tokens.matches(token, _DUMMY_HASH if row is None else row.token_hash)
    if row is None or not good:
        raise EdgeAuthError(
            f"wrong or unknown edge token for edge {name!r}",
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
