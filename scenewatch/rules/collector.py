"""The cyclic garbage collector paused while a rule replay runs.

A week's replay makes a few hundred thousand objects that live until it ends (rows, paths,
events) and no cycles to speak of; the collector's passes over them cost a tenth of its time.
Pauses are counted, so that of two replays at once the first to end does not restart the
collector under the other, and the last restores what was there before the first."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_state = {"pauses": 0, "was_enabled": False}


@contextmanager
def collector_paused() -> Iterator[None]:
    with _lock:
        if _state["pauses"] == 0:
            _state["was_enabled"] = gc.isenabled()
            gc.disable()
        _state["pauses"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["pauses"] -= 1
            if _state["pauses"] == 0 and _state["was_enabled"]:
                gc.enable()
