"""The Live page with the overlay on, in a real browser: requests and bytes a second for a grid of
1, 4 and 9 cameras, the page of an earlier commit (one objects request per tile every 200 ms and a
snapshot per new frame) against this one (one stream for the page).

First the real pipeline watches the sample footage (``vtest.avi``) for ``--frames`` analysed frames,
and what it hands the live view is kept: each picture with its person boxes and the tracks
reported on it. Then a real uvicorn server gets those frames as nine cameras (each from another
point of the clip), ``--fps`` frames a second each, through ``LiveFrames.put``, the call the
pipeline process makes, so that every grid size and both pages see the same frames at the same
rate on any machine. Debian's Chromium, driven by Playwright and signed in as an admin, shows the
Live page with the grid of 1, 4 or 9; once every tile has its first picture, the server counts the
``/api/`` requests it answers and the body bytes it sends for ``--seconds``, and the page counts
the new frames each tile showed with their boxes. Printed per page: requests and KiB a second,
frames shown a second per tile, and KiB per frame shown.

Run: .venv/bin/python bench/live_overlay.py [--seconds 20] [--fps 5] [--grids 1,4,9]
     [--before 6c2b78e] [--frames 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402
from served import serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"
CHROMIUM = os.environ.get("SCENEWATCH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
CAMERAS = [f"cam-{i}" for i in range(1, 10)]
# the page's own count of new frames shown per tile (the overlay's frame number changing)
SEEN = """(() => { window.__seen = {};
  setInterval(() => { for (const card of document.querySelectorAll('.camera:not([hidden])')) {
    const seq = card.overlay && card.overlay.seq;
    if (seq == null) continue;
    const seen = (window.__seen[card.dataset.camera] ??= new Set()); seen.add(seq); } }, 50); })();"""


class Counted:
    """ASGI wrapper: the ``/api/`` requests answered and the response body bytes sent."""

    def __init__(self, app):
        self.app = app
        self.requests = 0
        self.bytes = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        self.requests += 1

        async def counted(message):
            if message["type"] == "http.response.body":
                self.bytes += len(message.get("body", b""))
            await send(message)

        return await self.app(scope, receive, counted)


def record(frames: int) -> list[tuple]:
    """What the real pipeline hands the live view over the sample: (image, people, boxes, track
    ids, classes) of ``frames`` analysed frames."""
    from scenewatch.api.live_frames import PERSON
    from scenewatch.config import AppConfig
    from scenewatch.config.default import default_config
    from scenewatch.flow.cameras import run_cameras
    from scenewatch.store.data import DataStore

    kept: list[tuple] = []
    stop = threading.Event()

    def observe(frame, detected, tracked) -> None:
        if len(kept) < frames:
            people = detected.xyxy[detected.class_ids == PERSON]
            kept.append((frame.image.copy(), people, tracked.xyxy, tracked.track_ids, tracked.class_ids))
        else:
            stop.set()

    sample = default_config().cameras[0].model_copy(update={"detect_fps": 5.0, "rules": []})
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        run_cameras(store, AppConfig(cameras=[sample]), stop, detection_observers={"sample": [observe]})
    return kept


def feed(live, frames: list[tuple], fps: float, stop: threading.Event) -> None:
    """Each camera its own point of the recorded clip, ``fps`` new frames a second."""
    step = 0
    while not stop.is_set():
        for i, name in enumerate(CAMERAS):
            image, people, boxes, ids, classes = frames[(step + 7 * i) % len(frames)]
            live.put(name, image, people, time.time(), boxes, ids, classes)
        step += 1
        stop.wait(1.0 / fps)


def measure(browser, base: str, counted: Counted, grid: int, script: str | None, seconds: float) -> dict:
    """One page with a grid of ``grid`` (``script``: another index.js served in place of this one)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.add_init_script(
        f"localStorage.setItem('sw_live_layout', '{grid}'); localStorage.setItem('sw_live_overlay', 'on');"
    )
    context.add_init_script(SEEN)
    if script is not None:
        context.route(
            "**/ui/index.js", lambda route: route.fulfill(body=script, content_type="text/javascript")
        )
    page = context.new_page()
    answer = page.request.post(base + "/api/auth/login", data={"username": "admin", "password": PASSWORD})
    assert answer.ok, answer.text()
    page.goto(base + "/ui/index.html")
    page.wait_for_function(
        f"[...document.querySelectorAll('.camera:not([hidden]) img.view')].filter(i => i.naturalWidth > 0)"
        f".length === {grid}",
        timeout=60_000,
        polling=200,
    )
    page.evaluate("window.__seen = {}")
    requests, sent, started = counted.requests, counted.bytes, time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    elapsed = time.monotonic() - started
    requests, sent = counted.requests - requests, counted.bytes - sent
    shown = page.evaluate("Object.values(window.__seen).map(s => s.size)")
    context.close()
    return {
        "requests": requests / elapsed,
        "kib": sent / 1024 / elapsed,
        "frames": float(np.mean(shown)) / elapsed if shown else 0.0,
        "tiles": len(shown),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each page is counted")
    parser.add_argument("--fps", type=float, default=5.0, help="new frames a second per camera")
    parser.add_argument("--grids", default="1,4,9")
    parser.add_argument(
        "--before", default="6c2b78e", help="the commit whose Live page is the baseline (per-tile polling)"
    )
    parser.add_argument("--frames", type=int, default=60, help="analysed frames of the sample to replay")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from scenewatch.api import auth, create_app
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.config import AppConfig
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore

    grids = [int(g) for g in args.grids.split(",")]
    before = subprocess.run(
        ["git", "show", f"{args.before}:scenewatch/web/index.js"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(describe_machine())
    made = time.perf_counter()
    frames = record(args.frames)
    people = np.mean([len(f[3]) for f in frames])
    print(
        f"recorded {len(frames)} analysed frames of the sample in {time.perf_counter() - made:.0f} s, {people:.1f} tracks each"
    )
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        store = DataStore.open(Path(tmp) / "data")
        height, width = frames[0][0].shape[:2]
        for name in CAMERAS:
            repo.ensure_camera(store.engine, name, "sample", width, height, 10.0)
        auth.create_user(store.engine, "admin", PASSWORD, "admin")
        live = LiveFrames()
        feeder = threading.Thread(target=feed, args=(live, frames, args.fps, stop), daemon=True)
        feeder.start()
        counted = Counted(create_app(store, AppConfig(cameras=[]), live=live))
        server, thread, base = serve(counted)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                print(
                    f"{args.fps:g} new frames a second per camera; each page counted for {args.seconds:g} s"
                )
                print(
                    f"{'page':28s} {'tiles':>5s} {'requests/s':>10s} {'KiB/s':>8s} {'frames/s/tile':>13s}"
                    f" {'KiB/frame':>9s}"
                )
                for grid in grids:
                    for label, script in (
                        (f"per-tile polling ({args.before})", before),
                        ("one stream", None),
                    ):
                        got = measure(browser, base, counted, grid, script, args.seconds)
                        per_frame = got["kib"] / max(got["frames"] * got["tiles"], 1e-9)
                        print(
                            f"{label:28s} {grid:5d} {got['requests']:10.1f} {got['kib']:8.0f}"
                            f" {got['frames']:13.1f} {per_frame:9.0f}"
                        )
                browser.close()
        finally:
            stop.set()
            server.should_exit = True
            thread.join(10)


if __name__ == "__main__":
    main()
