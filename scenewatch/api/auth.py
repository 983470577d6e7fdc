"""Users and their passwords (argon2id, strength checked with zxcvbn).

Login sessions and CSRF tokens are ``auth_sessions.py``, the login rate limit ``auth_limit.py``;
both are re-exported here (``auth.lookup_session``, ``auth.LoginLimiter``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select, update
from zxcvbn import zxcvbn

from scenewatch.api.auth_limit import LoginLimiter
from scenewatch.api.auth_sessions import (
    Session,
    cached_session,
    create_session,
    end_session,
    expire_session_now,
    forget_sessions,
    lookup_session,
)
from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import user_sessions, users

ROLES = ("admin", "operator", "viewer")
MIN_PASSWORD = 10
MAX_PASSWORD = 512
# zxcvbn's score 3: about 10^8 guesses or more, out of reach of online guessing under the login limit
STRONG_SCORE = 3
# zxcvbn's cost grows steeply with length (l33t variants: ~1 s at 32 characters, 4 s at 100), so
# the first 32 characters decide: a password is at least as strong as its start.
_ESTIMATE_CHARS = 32
_SITE_WORDS = ("scenewatch", "camera", "admin")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash of a random password, verified when the user does not exist, so both take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(SceneWatchError):
    """A user operation that cannot be done (unknown role, name taken, weak password)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str, name: str) -> None:
    """Refuse a password that is too short, too long or easy to guess (zxcvbn estimate, which
    knows common passwords, words, keyboard patterns, repeats and the user's own name)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: at most {MAX_PASSWORD} characters")
    head = password[:_ESTIMATE_CHARS]
    estimate = zxcvbn(head, user_inputs=[name, *_SITE_WORDS], max_length=_ESTIMATE_CHARS)
    if estimate["score"] < STRONG_SCORE:
        raise AccountError(
            f"password too easy to guess: {_weakness(estimate)}",
            "use four or more unrelated words, or a generated password",
        )


def _weakness(estimate: dict[str, Any]) -> str:
    """Why zxcvbn found a password weak, in a few words."""
    matches = estimate["sequence"]
    parts = [*matches, *(m for match in matches for m in match.get("base_matches", ()))]
    if any(m.get("dictionary_name") == "user_inputs" for m in parts):
        return "it is built on the user name or the product name"
    warning = estimate["feedback"]["warning"].rstrip(".")
    return warning[:1].lower() + warning[1:] if warning else "it follows a common pattern"


def generate_password() -> str:
    """A password for the first admin: 128 bits, URL-safe, printed once."""
    return secrets.token_urlsafe(16)


def _public(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data.pop("password_hash", None)
    return data


def create_user(
    engine: Engine,
    name: str,
    password: str,
    role: str,
    cameras: list[str] | None = None,
    unmasked: bool = False,
) -> dict[str, Any]:
    """A new user; ``cameras`` None means every camera."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}", f"use one of: {', '.join(ROLES)}")
    check_password_strength(password, name)
    now = time.time()
    with engine.begin() as conn:
        if conn.scalar(select(users.c.id).where(users.c.name == name)) is not None:
            raise AccountError(f"user {name!r} exists already")
        user_id = conn.execute(
            insert(users)
            .values(
                name=name,
                password_hash=hash_password(password),
                role=role,
                cameras=cameras,
                unmasked=unmasked,
                disabled=False,
                created_at=now,
                password_changed_at=now,
            )
            .returning(users.c.id)
        ).scalar_one()
    return get_user(engine, user_id)


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(users)) or 0


def get_user(engine: Engine, user_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise AccountError(f"no user with id {user_id}")
    return _public(row)


def find_user(engine: Engine, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    return None if row is None else _public(row)


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [_public(r) for r in conn.execute(select(users).order_by(users.c.name))]


def update_user(engine: Engine, user_id: int, **values: Any) -> dict[str, Any]:
    """Change role, cameras, unmasked or disabled; a disabled user's sessions end at once."""
    allowed = {"role", "cameras", "unmasked", "disabled"}
    values = {k: v for k, v in values.items() if k in allowed}
    if "role" in values and values["role"] not in ROLES:
        raise AccountError(f"unknown role {values['role']!r}", f"use one of: {', '.join(ROLES)}")
    with engine.begin() as conn:
        if values and conn.execute(update(users).where(users.c.id == user_id).values(**values)).rowcount == 0:
            raise AccountError(f"no user with id {user_id}")
        if values.get("disabled"):
            conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
    forget_sessions()
    return get_user(engine, user_id)


def set_password(engine: Engine, user_id: int, password: str) -> None:
    """New password; every session of the user ends (a stolen session dies with the old password)."""
    check_password_strength(password, get_user(engine, user_id)["name"])
    with engine.begin() as conn:
        done = conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=hash_password(password), password_changed_at=time.time())
        )
        if done.rowcount == 0:
            raise AccountError(f"no user with id {user_id}")
        conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
    forget_sessions()


def delete_user(engine: Engine, user_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
        if conn.execute(delete(users).where(users.c.id == user_id)).rowcount == 0:
            raise AccountError(f"no user with id {user_id}")
    forget_sessions()


def authenticate(engine: Engine, name: str, password: str) -> dict[str, Any] | None:
    """The user when ``password`` is right and the account enabled; None otherwise."""
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(
                update(users).where(users.c.id == row.id).values(password_hash=hash_password(password))
            )
    return _public(row)


__all__ = [
    "ROLES",
    "AccountError",
    "LoginLimiter",
    "Session",
    "authenticate",
    "cached_session",
    "check_password_strength",
    "count_users",
    "create_session",
    "create_user",
    "delete_user",
    "end_session",
    "expire_session_now",
    "find_user",
    "forget_sessions",
    "generate_password",
    "get_user",
    "hash_password",
    "list_users",
    "lookup_session",
    "set_password",
    "update_user",
]
