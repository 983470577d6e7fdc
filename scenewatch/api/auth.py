"""Users, password hashing (argon2id), login sessions, CSRF tokens and the login rate limit.

A session token is 32 random bytes given to the client once (cookie or bearer); the database keeps
only its sha256, so a copy of the database does not let anyone in. Cookie sessions also carry a
CSRF token the client must echo in ``X-CSRF-Token`` on every state-changing request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select, update
from zxcvbn import zxcvbn

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


# -- sessions ---------------------------------------------------------------------------------------


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


def forget_sessions() -> None:
    """Drop the lookup cache (after sign-out, password change, user change: effective at once)."""
    with _cache_lock:
        _cache.clear()


def lookup_session(engine: Engine, token: str) -> tuple[Session, dict[str, Any]] | str:
    """The live session and its user, or why not: 'unknown', 'expired' or 'disabled'."""
    if not token or len(token) > 128:
        return "unknown"
    digest = _digest(token)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(digest)
    if hit is not None and now - hit[0] < _CACHE_S and hit[1][0].expires_at > time.time():
        return hit[1]
    found = _lookup(engine, token)
    if not isinstance(found, str):
        with _cache_lock:
            if len(_cache) > 10000:
                _cache.clear()
            _cache[digest] = (now, found)
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


# -- login rate limit -------------------------------------------------------------------------------

_Key = tuple[str, str, str]  # (kind, client address, lower-case user name)


class LoginLimiter:
    """Wrong passwords (at sign-in or at a password change), counted three ways so that guessing
    stops paying off while nobody can lock a user out from elsewhere:

    - one address with one user name: ``max_failures`` per ``window_s``;
    - one address, any user names: ``ADDRESS_FACTOR`` times that (a spray over many names);
    - one user name, any addresses: ``USER_FACTOR`` times that per ``USER_WINDOWS`` windows
      (guessing from many addresses). Past it only addresses that have guessed wrong for that user
      wait, so the real user at an address that has not still gets in: an attacker can never lock
      the last admin out.

    In memory: one server process is the deployment; a restart forgets, which only ever lets a user
    back in."""

    ADDRESS_FACTOR = 4
    USER_FACTOR = 6
    USER_WINDOWS = 15

    def __init__(self, max_failures: int = 5, window_s: float = 60.0):
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[_Key, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def address_max(self) -> int:
        return self.max_failures * self.ADDRESS_FACTOR

    @property
    def user_max(self) -> int:
        return self.max_failures * self.USER_FACTOR

    @property
    def user_window_s(self) -> float:
        return self.window_s * self.USER_WINDOWS

    @staticmethod
    def _keys(client: str, name: str) -> tuple[_Key, _Key, _Key]:
        name = name.lower()
        return ("pair", client, name), ("address", client, ""), ("user", "", name)

    def _wait(self, key: _Key, limit: int, window: float, now: float) -> float:
        """Seconds until ``key`` has fewer than ``limit`` failures in ``window``; 0 when it has."""
        recent = [t for t in self._failures.get(key, ()) if t > now - window]
        return recent[-limit] + window - now if len(recent) >= limit else 0.0

    def retry_after(self, client: str, name: str, now: float | None = None) -> float:
        """Seconds until ``client`` may try a password for ``name``; 0 when allowed now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._retry_after(client, name, now)

    def begin(self, client: str, name: str, now: float | None = None) -> float:
        """Seconds to wait before ``client`` may try a password for ``name``. When 0, the try is
        counted as a failure at once, so that parallel tries cannot all pass the check before the
        first is counted; ``succeeded`` takes it back."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = self._retry_after(client, name, now)
            if wait == 0:
                self._record(client, name, now)
        return wait

    def succeeded(self, client: str, name: str) -> None:
        """A right password: the try was no failure, and the pair's typos before it are forgiven;
        the address and user counts keep the other tries."""
        pair, address, user = self._keys(client, name)
        with self._lock:
            self._failures.pop(pair, None)
            for key in (address, user):
                if times := self._failures.get(key):
                    times.pop()  # one entry of this instant: counts matter, not whose it was

    def _retry_after(self, client: str, name: str, now: float) -> float:
        pair, address, user = self._keys(client, name)
        waits = [
            self._wait(pair, self.max_failures, self.window_s, now),
            self._wait(address, self.address_max, self.window_s, now),
        ]
        user_wait = self._wait(user, self.user_max, self.user_window_s, now)
        if user_wait > 0:  # only for an address that has guessed wrong for this user lately
            waits.append(min(user_wait, self._wait(pair, 1, self.user_window_s, now)))
        return max(waits)

    def _record(self, client: str, name: str, now: float) -> None:
        pair, address, user = self._keys(client, name)
        sizes = {pair: self.max_failures, address: self.address_max, user: self.user_max}
        for key, size in sizes.items():
            times = self._failures.get(key)
            if times is None or times.maxlen != size:
                times = self._failures[key] = deque(times or (), maxlen=size)
            times.append(now)
        if len(self._failures) > 10000:  # bounded memory under a spray of names
            stale = now - self.user_window_s
            for key in [k for k, v in self._failures.items() if v[-1] <= stale]:
                del self._failures[key]
