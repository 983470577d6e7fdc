"""Login sessions: a token given to the client once (cookie or bearer), of which the database keeps
only the sha256, so a copy of the database does not let anyone in; cookie sessions also carry a
CSRF token the client must echo in ``X-CSRF-Token`` on every state-changing request.

Every request checks its token. A lookup is remembered for a few seconds, so most requests need no
query; any change made through this module or ``auth`` (sign-out, password change, user change)
drops what is remembered at once.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from scenewatch.store.schema import user_sessions, users


@dataclass(frozen=True)
class Session:
    id: str  # sha256 of the token
    user_id: int
    csrf: str
    expires_at: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(engine: Engine, user_id: int, ttl_s: float) -> tuple[str, Session]:
    """A new session; returns the token (given to the client, never stored) and the session."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    session = Session(_digest(token), user_id, secrets.token_urlsafe(32), now + ttl_s)
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.expires_at < now))  # housekeeping
        conn.execute(
            insert(user_sessions).values(
                id=session.id,
                user_id=user_id,
                csrf=session.csrf,
                created_at=now,
                expires_at=session.expires_at,
                last_seen_at=now,
            )
        )
    return token, session


# token digest -> (checked at, answer): a few seconds of memory spares a query on every request
_CACHE_S = 3.0
_cache: dict[str, tuple[float, tuple[Session, dict[str, Any]]]] = {}
_cache_lock = threading.Lock()
_generation = 0  # bumped by every forget: a lookup that raced a change is not remembered


def forget_sessions() -> None:
    """Drop the lookup cache (after sign-out, password change, user change: effective at once)."""
    global _generation
    with _cache_lock:
        _cache.clear()
        _generation += 1


def cached_session(token: str) -> tuple[Session, dict[str, Any]] | None:
    """The answer of a lookup of ``token`` made under ``_CACHE_S`` ago and since the last change,
    without touching the database; None: ask ``lookup_session``."""
    if not token or len(token) > 128:
        return None
    with _cache_lock:
        hit = _cache.get(_digest(token))
    if hit is not None and time.monotonic() - hit[0] < _CACHE_S and hit[1][0].expires_at > time.time():
        return hit[1]
    return None


def lookup_session(engine: Engine, token: str) -> tuple[Session, dict[str, Any]] | str:
    """The live session and its user, or why not: 'unknown', 'expired' or 'disabled'."""
    if not token or len(token) > 128:
        return "unknown"
    if (hit := cached_session(token)) is not None:
        return hit
    now = time.monotonic()
    with _cache_lock:
        generation = _generation
    found = _lookup(engine, token)
    if not isinstance(found, str):
        with _cache_lock:
            if len(_cache) > 10000:
                _cache.clear()
            if generation == _generation:  # no sign-out or user change since the query began
                _cache[_digest(token)] = (now, found)
    return found


def _lookup(engine: Engine, token: str) -> tuple[Session, dict[str, Any]] | str:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                user_sessions, users.c.name, users.c.role, users.c.cameras, users.c.unmasked, users.c.disabled
            )
            .join(users, users.c.id == user_sessions.c.user_id)
            .where(user_sessions.c.id == _digest(token))
        ).first()
    if row is None:
        return "unknown"
    if row.expires_at < time.time():
        end_session(engine, token)
        return "expired"
    if row.disabled:
        return "disabled"
    user = {
        "id": row.user_id,
        "name": row.name,
        "role": row.role,
        "cameras": row.cameras,
        "unmasked": bool(row.unmasked),
    }
    return Session(row.id, row.user_id, row.csrf, row.expires_at), user


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.id == _digest(token)))
    forget_sessions()


def expire_session_now(engine: Engine, session_id: str) -> None:
    """For tests and admins: make a session expired without deleting it."""
    with engine.begin() as conn:
        conn.execute(update(user_sessions).where(user_sessions.c.id == session_id).values(expires_at=0.0))
    forget_sessions()
