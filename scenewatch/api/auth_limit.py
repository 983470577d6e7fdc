"""The login rate limit: wrong passwords counted per address and user name, in memory."""

from __future__ import annotations

import threading
import time
from collections import deque

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
