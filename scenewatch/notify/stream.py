"""Live fan-out of alerts to in-process subscribers (the UI's SSE or websocket connections).

Publishing never blocks: each subscriber has a bounded queue; when a slow one is full the oldest
alert is dropped and the subscriber is later handed a gap marker saying how many it missed.
Nothing here is durable: a subscriber that reconnects reads what it missed from the API.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import ServerSentEvent

GAP = "gap"
SSE_SEP = "\n"  # one newline per line, as browsers and the tests read it (sse-starlette: CRLF)


class Subscription:
    """One subscriber's queue; thread-safe. Items are ``("alert", dict)`` or ``("gap", {"missed": n})``."""

    def __init__(self, hub: AlertStream, maxsize: int):
        self._hub = hub
        self._items: deque[dict[str, Any]] = deque()
        self._maxsize = maxsize
        self._missed = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._waker: Callable[[], object] | None = None
        self.dropped = 0  # in all, for the curious

    def put(self, item: dict[str, Any]) -> None:
        with self._lock:
            if len(self._items) >= self._maxsize:
                self._items.popleft()  # the oldest goes: a live view wants the latest
                self._missed += 1
                self.dropped += 1
            self._items.append(item)
            self._ready.set()
            waker = self._waker
        if waker is not None:
            waker()

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        """Everything queued, oldest first, behind a gap marker if some were dropped."""
        with self._lock:
            out: list[tuple[str, dict[str, Any]]] = []
            if self._missed:
                out.append((GAP, {"missed": self._missed}))
                self._missed = 0
            out.extend(("alert", item) for item in self._items)
            self._items.clear()
            self._ready.clear()
            return out

    def get(self, timeout: float | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Wait up to ``timeout`` for something, then :meth:`drain` (maybe empty)."""
        self._ready.wait(timeout)
        return self.drain()

    def close(self) -> None:
        self._hub.unsubscribe(self)


class AlertStream:
    """The hub: ``publish`` from any thread, ``subscribe`` per client.

    >>> hub = AlertStream(maxsize=2)
    >>> sub = hub.subscribe()
    >>> for n in range(3): hub.publish({"n": n})
    >>> sub.drain()
    [('gap', {'missed': 1}), ('alert', {'n': 1}), ('alert', {'n': 2})]
    """

    def __init__(self, maxsize: int = 200):
        self.maxsize = maxsize
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int | None = None) -> Subscription:
        sub = Subscription(self, maxsize or self.maxsize)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, item: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.put(item)


async def events(
    hub: AlertStream, heartbeat_s: float = 15.0, maxsize: int | None = None
) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
    """Async iterator of ``(type, data)`` for one client; ``None`` every ``heartbeat_s`` of quiet.

    For a websocket: send each item as JSON. Unsubscribes when the client goes away.
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    sub = hub.subscribe(maxsize)
    # publishers run in other threads: wake the event loop thread-safely
    sub._waker = lambda: loop.call_soon_threadsafe(wake.set)
    try:
        while True:
            items = sub.drain()
            if not items:
                try:
                    await asyncio.wait_for(wake.wait(), heartbeat_s)
                except TimeoutError:
                    yield None
                wake.clear()
                continue
            for item in items:
                yield item
    finally:
        sub._waker = None
        sub.close()


async def sse_lines(
    hub: AlertStream, heartbeat_s: float = 15.0, maxsize: int | None = None
) -> AsyncIterator[str]:
    """Server-sent events as text, each alert as :func:`sse_event` writes it; quiet periods get a
    ``: keepalive`` comment. (The API's route hands :func:`sse_event` to sse-starlette instead.)
    """
    async for item in events(hub, heartbeat_s, maxsize):
        yield (KEEPALIVE if item is None else sse_event(*item)).encode().decode()


def sse_comment(text: str) -> ServerSentEvent:
    """A comment line: keeps proxies from closing a quiet connection; clients ignore it."""
    return ServerSentEvent(comment=text, sep=SSE_SEP)


KEEPALIVE = sse_comment("keepalive")


def sse_event(kind: str, data: dict[str, Any]) -> ServerSentEvent:
    """One server-sent event: ``event: alert`` carries ``id:`` (its event id) so a client can tell
    repeats; a dropped stretch is ``event: gap`` with ``{"missed": n}``.

    >>> sse_event("alert", {"id": 7}).encode()
    b'id: 7\\nevent: alert\\ndata: {"id":7}\\n\\n'
    """
    ident = str(data["id"]) if kind == "alert" and "id" in data else None
    body = json.dumps(data, separators=(",", ":"), default=str)
    return ServerSentEvent(body, event=kind, id=ident, sep=SSE_SEP)
