"""Clips rendered in the background while the page shows how far they are.

The player asks a clip's progress (``?part=progress``); the first ask starts the render on a small
pool and every ask answers at once with the stage and frames done of total, so the page shows
what is happening instead of a blank player, then plays the cached result. A finished job
(ready, failed, not recorded yet) is answered once and forgotten: the next ask starts afresh,
which for a rendered clip finds it in the cache at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from scenewatch.api import clipper
from scenewatch.api.errors import ApiError
from scenewatch.errors import SceneWatchError

log = logging.getLogger(__name__)
WORKERS = 1  # clips rendered at once for people waiting on them (decoding and encoding use threads)
MAX_JOBS = 64  # jobs remembered; beyond this the oldest finished ones are forgotten
MAX_WAITING = 8  # unfinished jobs at once; a further clip waits (answered as queued) for a free place
_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="clip-render")
_jobs: dict[str, tuple[clipper.Progress, float]] = {}  # key -> (progress, started at)
_guard = threading.Lock()


def follow(key: str, render: Callable[[], Path]) -> dict:
    """The progress of the job ``key`` (JSON-ready), starting ``render`` when none runs.

    ``elapsed_s`` is the time since the job started; ``retry_after`` the seconds to wait before
    asking again when the video is not recorded yet."""
    with _guard:
        job = _jobs.get(key)
        if job is None and sum(not p.finished for p, _t in _jobs.values()) >= MAX_WAITING:
            return {**asdict(clipper.Progress()), "elapsed_s": 0.0}  # asked again, it starts later
        if job is None:
            job = _jobs[key] = (clipper.Progress(), time.monotonic())
            _forget_old()
            _pool.submit(_run, job[0], render)
        elif job[0].finished:
            del _jobs[key]
        progress, started = job
    return {**asdict(progress), "elapsed_s": round(time.monotonic() - started, 1)}


def _run(progress: clipper.Progress, render: Callable[[], Path]) -> None:
    with clipper.reporting(progress):
        try:
            render()
            progress.stage = "ready"
        except ApiError as exc:
            retry = (exc.headers or {}).get("retry-after")
            progress.stage = "waiting" if retry else "failed"
            progress.retry_after = int(retry or 0)
            progress.message = exc.error
        except SceneWatchError as exc:  # the video is gone or unreadable
            progress.stage, progress.message = "failed", exc.message
        except Exception:
            log.exception("rendering a clip failed")
            progress.stage, progress.message = "failed", "the clip could not be rendered (see the server log)"


def _forget_old() -> None:
    finished = [k for k, (p, _t) in _jobs.items() if p.finished]
    for key in finished[: max(0, len(_jobs) - MAX_JOBS)]:
        del _jobs[key]
