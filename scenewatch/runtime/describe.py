"""One background worker per node that describes finished tracks, so camera threads never wait for it.

Describing a track (pose on its best crops, colours per body part) costs tens of milliseconds of CPU.
Done in the camera's thread when a track ends, it stalled decoding and dropped frames whenever
several tracks ended together. The camera now only hands the finished track over
(:meth:`DescribeQueue.submit`, never blocking); one worker thread, at a lower scheduling priority
than the cameras, describes the tracks in the order they ended and hands each result to the job's
``deliver`` (the finishing stage stores it and its search index rows).

Overflow degrades instead of blocking. A job that waited more than ``light_after_s`` (the worker
is falling behind for good, not just a burst of tracks ending together, as at a stop) is described
cheaply: its best crop only, body parts from box proportions instead of pose (counted as
``degraded``), so a backlog shrinks quickly. Memory is bounded too: past ``light_at`` waiting jobs
a new one keeps only its best crop, past ``bare_at`` none (class, motion, zones and carried items,
no colours; counted as ``bare`` as well).
Nothing is dropped: :meth:`drain` waits until the jobs of one owner (a camera's finishing stage) or of all
are done; each camera drains before its run ends. A process killed with jobs waiting leaves those
tracks stored without attributes (see ``scenewatch.flow.finish``).

>>> class Job:
...     light = False
...     def lighten(self, crops):
...         self.light = True
...     def __call__(self):
...         return {"light": self.light}
>>> queue = DescribeQueue()
>>> out = []
>>> queue.submit("writer", "gate", Job(), out.append)
>>> queue.drain("writer", timeout=5.0)
True
>>> out
[{'light': False}]
>>> queue.close()
True
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

LOW_PRIORITY_NICE = 10  # the worker's niceness above the process's (Linux: per thread)


class DescribeJob(Protocol):
    """A finished track's description, detached from the camera's state (see
    ``AttributeDescriber.detach``)."""

    def lighten(self, crops: int) -> None:
        """Describe cheaply: at most ``crops`` (best first), no pose; frees the other crops."""

    def __call__(self) -> dict | None:
        """The attributes JSON of the track."""


@dataclass(slots=True)
class _Job:
    owner: Any
    camera: str
    work: DescribeJob
    deliver: Callable[[dict | None], None]
    submitted: float
    crops: int | None = None  # described from at most this many crops, without pose; None: fully


@dataclass
class DescribeStats:
    """Counters of one camera (or of the whole node)."""

    submitted: int = 0
    described: int = 0
    degraded: int = 0  # described cheaply because the queue was long
    bare: int = 0  # of those, described without any crop (the queue was very long)
    failed: int = 0  # the description or its storing raised: the track stays undescribed
    wait_seconds: float = 0.0  # hand-over to stored, summed
    cpu_seconds: float = 0.0  # worker CPU time of its descriptions
    pending: int = 0  # handed over, not yet stored

    def as_dict(self) -> dict[str, float | int]:
        done = max(self.described + self.failed, 1)
        return {
            "describe_submitted": self.submitted,
            "describe_done": self.described,
            "describe_degraded": self.degraded,
            "describe_bare": self.bare,
            "describe_failed": self.failed,
            "describe_pending": self.pending,
            "describe_wait_s": round(self.wait_seconds / done, 3),
            "describe_cpu_seconds": round(self.cpu_seconds, 3),
        }


class DescribeQueue:
    """The node's describer worker: FIFO, one thread, low priority, never blocks ``submit``.

    ``light_after_s``: a job that waited longer is described from one crop without pose;
    ``light_at``: queue length from which new jobs keep one crop, ``bare_at``: none.
    ``nice``: how much lower the worker's priority is than the cameras' (0 keeps it equal;
    ignored where unsupported).
    """

    def __init__(
        self,
        light_after_s: float = 10.0,
        light_at: int = 256,
        bare_at: int = 1024,
        nice: int = LOW_PRIORITY_NICE,
    ):
        self.light_after_s = light_after_s
        self.light_at = max(1, light_at)
        self.bare_at = max(self.light_at, bare_at)
        self.nice = nice
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._running: _Job | None = None
        self._closed = False
        self.total = DescribeStats()
        self._cameras: dict[str, DescribeStats] = {}
        self._owners: dict[int, int] = {}  # id(owner) -> jobs waiting or running
        self.max_queued = 0
        self._thread = threading.Thread(target=self._work, name="describer", daemon=True)
        self._thread.start()

    # -- camera side -----------------------------------------------------------------------------

    def submit(
        self, owner: Any, camera: str, work: DescribeJob, deliver: Callable[[dict | None], None]
    ) -> None:
        """Queue ``work``; ``deliver`` gets its result in the worker thread. Never blocks.

        After :meth:`close` there is no worker: the job runs in the caller (nothing is lost)."""
        with self._cond:
            closed = self._closed
        if closed:
            deliver(work())
            return
        with self._cond:
            waiting = len(self._jobs)
            crops = None if waiting < self.light_at else 1 if waiting < self.bare_at else 0
            self._jobs.append(_Job(owner, camera, work, deliver, time.monotonic(), crops))
            self.max_queued = max(self.max_queued, len(self._jobs))
            self._owners[id(owner)] = self._owners.get(id(owner), 0) + 1
            for stats in (self.total, self._camera(camera)):
                stats.submitted += 1
                stats.pending += 1
            self._count_degraded(camera, crops)
            self._cond.notify_all()
        if crops is not None:
            work.lighten(crops)  # outside the lock: frees the crops it no longer needs

    def drain(self, owner: Any = None, timeout: float | None = None) -> bool:
        """Wait until every job of ``owner`` (of anyone when None) is stored; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy(owner):
                if not self._thread.is_alive():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.5 if left is None else min(left, 0.5))
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Drain, then stop the worker; True when every job was stored."""
        drained = self.drain(None, timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(5.0)
        return drained

    # -- figures -----------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._jobs)

    def stats(self, camera: str | None = None) -> dict[str, float | int]:
        """Node-wide counters, or one camera's."""
        with self._cond:
            stats = self.total if camera is None else self._cameras.get(camera, DescribeStats())
            out = stats.as_dict()
            if camera is None:
                out["describe_queued"] = len(self._jobs)
                out["describe_max_queued"] = self.max_queued
            return out

    # -- internals ---------------------------------------------------------------------------------

    def _camera(self, camera: str) -> DescribeStats:
        stats = self._cameras.get(camera)
        if stats is None:
            stats = self._cameras[camera] = DescribeStats()
        return stats

    def _count_degraded(self, camera: str, crops: int | None) -> None:
        for stats in (self.total, self._camera(camera)):
            stats.degraded += crops is not None
            stats.bare += crops == 0

    def _busy(self, owner: Any) -> bool:
        if owner is None:
            return bool(self._jobs) or self._running is not None
        return self._owners.get(id(owner), 0) > 0

    def _lower_priority(self) -> None:
        if self.nice <= 0 or not hasattr(os, "setpriority"):
            return
        try:  # Linux schedules threads on their own: this lowers the worker only
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self.nice)
        except OSError:
            log.debug("describer: cannot lower the worker's priority", exc_info=True)

    def _take(self) -> _Job | None:
        with self._cond:
            while not self._jobs:
                if self._closed:
                    return None
                self._cond.wait()
            job = self._running = self._jobs.popleft()
            if job.crops is None and time.monotonic() - job.submitted > self.light_after_s:
                job.crops = 1  # behind for good: catch up cheaply
                self._count_degraded(job.camera, job.crops)
                job.work.lighten(job.crops)
            return job

    def _work(self) -> None:
        self._lower_priority()
        while (job := self._take()) is not None:
            cpu = time.thread_time()
            ok = True
            try:
                job.deliver(job.work())
            except Exception:  # one bad track must not stop the describer of every camera
                log.exception("camera %s: describing a finished track failed", job.camera)
                ok = False
            cpu = time.thread_time() - cpu
            waited = time.monotonic() - job.submitted
            with self._cond:
                for stats in (self.total, self._camera(job.camera)):
                    stats.pending -= 1
                    stats.described += ok
                    stats.failed += not ok
                    stats.wait_seconds += waited
                    stats.cpu_seconds += cpu
                left = self._owners.get(id(job.owner), 1) - 1
                if left > 0:
                    self._owners[id(job.owner)] = left
                else:
                    self._owners.pop(id(job.owner), None)
                self._running = None
                self._cond.notify_all()
