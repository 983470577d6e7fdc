"""One pool of detector workers for all cameras of a node: fair, bounded, never blocking a camera.

Each camera gets a :class:`PoolClient` with a queue of ``depth`` frames. ``submit`` never waits:
when the queue is full the oldest waiting frame is dropped (and counted), so a camera the pool
cannot keep up with stays current instead of falling further behind. Workers serve the cameras
round-robin, one frame at a time and at most one frame of a camera at once, so a camera that
floods frames gets the same share as one that sends few, and its results come back in order.
The models here take a batch of one, so cameras share an inference another way: a frame submitted
with its regions ``mosaic`` (``scenewatch.runtime.regions``) takes along the waiting mosaics of the
cameras next in turn whose tiles fit beside its own (``share``), and each camera gets the boxes of
its own tiles back as if it had run alone. Nobody waits for a partner: only frames already waiting
join, the camera in turn leads, and a mosaic that fills the canvas alone runs alone. Each camera
counts its inferences (its share of each shared one), those shared, and its tiles.

>>> class Echo:
...     def detect_one(self, image):
...         return image.shape
>>> pool = DetectorPool([Echo()])
>>> cam = pool.client("a")
>>> cam.submit(np.zeros((4, 6, 3)), token=1)
>>> cam.wait_idle(2.0)
True
>>> cam.results()
[(1, (4, 6, 3), None)]
>>> pool.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from scenewatch.runtime.regions import Mosaic, compose, share, split

log = logging.getLogger(__name__)


class OneImageDetector(Protocol):
    def detect_one(self, image: np.ndarray) -> Any: ...


@dataclass(slots=True)
class _Request:
    image: np.ndarray
    token: Any
    submitted: float
    mosaic: Mosaic | None = None  # the regions drawn on ``image``: it may share a canvas


@dataclass(slots=True)
class _Job:
    """What one inference serves: the camera in turn and those whose mosaics share its canvas
    (``placed``: each one's tiles where they lie on the shared canvas; None when it runs alone)."""

    members: list[tuple[PoolClient, _Request]]
    placed: list[Mosaic] | None = None


@dataclass(eq=False)  # identity: two handles of one camera name are still two handles
class PoolClient:
    """One camera's handle on the pool. ``token`` travels with the frame and comes back with the
    result, so the camera knows which frame (and plan) an answer belongs to."""

    pool: DetectorPool
    camera: str
    depth: int
    waiting: deque = field(default_factory=deque)
    done: deque = field(default_factory=deque)
    busy: bool = False
    submitted: int = 0
    dropped: int = 0
    detected: int = 0
    detector_seconds: float = 0.0  # wall time of this camera's inferences (its share of the workers)
    detector_cpu_seconds: float = 0.0  # CPU time the worker thread spent on them (see DetectorPool)
    wait_seconds: float = 0.0  # total time its frames waited in the queue
    inferences: float = 0.0  # its share of the detector's runs: 1 alone, 1/k of one shared by k cameras
    shared: int = 0  # frames detected on a canvas shared with other cameras
    tiles: int = 0  # mosaic tiles detected
    on_drop: Any = None  # called with the dropped token, in the submitting thread

    def submit(self, image: np.ndarray, token: Any = None, mosaic: Mosaic | None = None) -> None:
        """Queue ``image`` for detection; never blocks. A full queue drops its oldest frame.
        ``mosaic``: the regions drawn on ``image``; answers stay in its canvas's pixels."""
        dropped = self.pool._put(self, _Request(image, token, time.monotonic(), mosaic))
        if dropped is not None and self.on_drop is not None:
            self.on_drop(dropped.token)

    def results(self) -> list[tuple[Any, Any, BaseException | None]]:
        """Finished ``(token, detections, error)`` in submission order; never blocks."""
        out = []
        while self.done:
            out.append(self.done.popleft())
        return out

    @property
    def pending(self) -> int:
        """Frames waiting or being detected."""
        return len(self.waiting) + int(self.busy)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing of this camera is waiting or running; False on timeout."""
        return self.pool._wait_idle(self, timeout)

    def close(self) -> None:
        """Leave the pool; frames still waiting are discarded."""
        self.pool._remove(self)


class DetectorPool:
    """Worker threads, one per detector in ``detectors`` (each owns its model session).

    ``inline`` says the detectors compute in the calling thread (single-threaded ONNX Runtime
    sessions), so a worker's thread CPU time is an inference's whole cost; otherwise their own
    threads do part of the work and only the wall time is known. On a busy machine the wall time
    also counts the time a worker waited for a core, so it overstates the cost.
    """

    def __init__(
        self,
        detectors: Sequence[OneImageDetector],
        depth: int = 1,
        inline: bool = True,
        share_mosaics: bool = True,
    ):
        if not detectors:
            raise ValueError("the pool needs at least one detector")
        self.depth = depth
        self.inline = inline
        self.share_mosaics = share_mosaics
        self._clients: list[PoolClient] = []
        self._next = 0  # round-robin position in _clients
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, args=(d,), name=f"detector-{i}", daemon=True)
            for i, d in enumerate(detectors)
        ]
        for thread in self._threads:
            thread.start()

    def client(self, camera: str, depth: int | None = None) -> PoolClient:
        client = PoolClient(self, camera, depth or self.depth)
        with self._cond:
            self._clients.append(client)
        return client

    @property
    def workers(self) -> int:
        return len(self._threads)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers after their current frame."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    # -- internals ---------------------------------------------------------------------------------

    def _put(self, client: PoolClient, request: _Request) -> _Request | None:
        with self._cond:
            dropped = None
            if len(client.waiting) >= client.depth:
                dropped = client.waiting.popleft()
                client.dropped += 1
            client.waiting.append(request)
            client.submitted += 1
            self._cond.notify()
        return dropped

    def _take(self) -> _Job | None:
        """The next camera in round-robin order with a frame waiting and none running, with the
        waiting mosaics that fit beside its own."""
        with self._cond:
            while not self._closed:
                n = len(self._clients)
                for step in range(n):
                    client = self._clients[(self._next + step) % n]
                    if client.waiting and not client.busy:
                        self._next = (self._next + step + 1) % n
                        client.busy = True
                        job = _Job([(client, client.waiting.popleft())])
                        if self.share_mosaics and job.members[0][1].mosaic is not None:
                            self._partners(job)
                        return job
                self._cond.wait()
            return None

    def _partners(self, job: _Job) -> None:
        """Add to ``job`` the cameras next in turn whose waiting mosaic fits on its canvas (their
        turn stays where it was: a shared inference costs nobody a place in the round)."""
        lead, request = job.members[0]
        assert request.mosaic is not None
        mosaics = [request.mosaic]
        start, n = self._clients.index(lead), len(self._clients)
        for step in range(1, n):
            client = self._clients[(start + step) % n]
            mosaic = client.waiting[0].mosaic if client.waiting and not client.busy else None
            if mosaic is None or (placed := share([*mosaics, mosaic])) is None:
                continue
            client.busy = True
            job.members.append((client, client.waiting.popleft()))
            mosaics.append(mosaic)
            job.placed = placed

    def _run(self, detector: OneImageDetector, job: _Job) -> list[Any]:
        """One inference for the job: each member's answer, in canvas pixels of its own mosaic."""
        request = job.members[0][1]
        if request.mosaic is None:
            return [detector.detect_one(request.image)]
        # a canvas is detected as drawn (a detector that takes other sizes is not resized to its own)
        detect = getattr(detector, "detect_canvas", detector.detect_one)
        if job.placed is None:
            return [detect(request.image)]
        own = [request.mosaic for _, request in job.members if request.mosaic is not None]
        canvas = compose([request.image for _, request in job.members], own, job.placed)
        return list(split(detect(canvas), own, job.placed))

    def _work(self, detector: OneImageDetector) -> None:
        while (job := self._take()) is not None:
            started, cpu = time.monotonic(), time.thread_time()
            error: BaseException | None = None
            results: list[Any] = [None] * len(job.members)
            try:
                results = self._run(detector, job)
            except Exception as exc:  # one bad frame must not kill the worker serving every camera
                log.exception("camera %s: detection failed", job.members[0][0].camera)
                error = exc
            finished, cpu = time.monotonic(), time.thread_time() - cpu
            wall = finished - started
            cost = cpu if self.inline else wall
            # A shared run's cost goes to each camera by the canvas area of its tiles.
            areas = np.array([_area(request.mosaic) for _, request in job.members], np.float64)
            shares = areas / areas.sum() if len(areas) > 1 and areas.sum() > 0 else np.ones(len(areas))
            with self._cond:
                for (client, request), result, part in zip(job.members, results, shares, strict=True):
                    client.busy = False
                    client.detected += error is None
                    client.inferences += 1 / len(job.members)
                    client.shared += len(job.members) > 1
                    client.tiles += len(request.mosaic.tiles) if request.mosaic is not None else 0
                    client.detector_seconds += wall * part
                    client.detector_cpu_seconds += cost * part
                    client.wait_seconds += started - request.submitted
                    client.done.append((request.token, result, error))
                self._cond.notify_all()

    def _wait_idle(self, client: PoolClient, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while client.waiting or client.busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
        return True

    def _remove(self, client: PoolClient) -> None:
        with self._cond:
            client.waiting.clear()
            if client in self._clients:
                index = self._clients.index(client)
                self._clients.remove(client)
                if index < self._next:
                    self._next -= 1
                self._next = self._next % len(self._clients) if self._clients else 0


def _area(mosaic: Mosaic | None) -> float:
    return float(sum(t.w * t.h for t in mosaic.tiles)) if mosaic is not None else 0.0
