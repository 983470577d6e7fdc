"""Every page of the web UI in a real browser with a busy store: how long until its data is shown.

The store holds ``--tracks`` tracks (default 10,000, with thumbnail files, attributes and search
terms) and ``--events`` events (default 1,000, with snapshot files) over one day, dealt to four
cameras with zones (``bench/review.py`` seeds them), and ``--audit`` audit rows. A real uvicorn
server answers Debian's Chromium driven by Playwright, signed in as an admin (``--role viewer``:
a viewer of every camera, who sees people pixelated). Each page is loaded
``--repeat`` times; a load counts from the navigation's start to the moment the page's data is on
screen (its list, table or chart filled and the images in view decoded), measured in the page
itself. Printed per page: median and slowest, and the requests and bytes the page made up to a
second after it was shown.

Then the review timeline is scrubbed: the pointer moves across the whole 24 h bar one pixel at a
time, hovering and then dragging, and the requests made meanwhile are counted (a request per pixel
would be one per step).

Run: .venv/bin/python bench/pages.py [--tracks 10000] [--events 1000] [--audit 2000] [--repeat 5]
     [--pages live,search,...] [--role admin|viewer] [--detail]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe_machine  # noqa: E402
from review import DAY, START, ZONES, seed  # noqa: E402
from served import serve  # noqa: E402

CAMERAS = ("gate", "yard", "road", "dock")
PASSWORD = "correct-horse-battery"
CHROMIUM = os.environ.get("SCENEWATCH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# the images on screen are decoded: part of "the data is shown" on pages that list pictures
IMAGES_IN_VIEW = """[...document.images].filter((i) => { const r = i.getBoundingClientRect();
  return r.bottom > 0 && r.top < innerHeight && r.width > 0 && (i.getAttribute('src') || i.dataset.src); })
  .every((i) => i.getAttribute('src') && i.complete)"""
DAY_ISO = time.strftime("%Y-%m-%d", time.gmtime(START))
# name, address, the condition meaning "its data is on screen"
PAGES = [
    (
        "live",
        "/ui/index.html",
        f"document.querySelectorAll('.camera .badge:not(:empty)').length === {len(CAMERAS)}",
    ),
    (
        "search",
        "/ui/search.html?q=" + "person%20in%20a%20red%20top",
        f"document.querySelectorAll('.hit').length > 0 && {IMAGES_IN_VIEW}",
    ),
    ("alerts", "/ui/alerts.html", f"document.querySelectorAll('.card.alert').length > 0 && {IMAGES_IN_VIEW}"),
    (
        "review",
        f"/ui/review.html?camera=gate&day={DAY_ISO}",
        f"!!document.querySelector('#rv-summary')?.textContent && "
        f"document.querySelectorAll('#rv-events li[data-event]').length > 0 && {IMAGES_IN_VIEW}",
    ),
    (
        "zones",
        "/ui/zones.html",
        "document.querySelectorAll('#shapes li').length > 0 && !!document.querySelector('#rules h2')",
    ),
    (
        "health",
        "/ui/health.html",
        "!!document.querySelector('#fleet') && !!document.querySelector('#history')",
    ),
    (
        "admin (users, audit)",
        "/ui/admin.html",
        "document.querySelectorAll('#users tr[data-user]').length > 0 && "
        "document.querySelectorAll('#audit tr[data-id]').length > 0",
    ),
]
# counts the requests and bytes of the page so far (resource timing; the buffer is raised first)
SPENT = """() => { const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return [all.length, all.reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0)]; }"""

# the page's requests in order: each call with its start and end, the pictures as one line
TIMELINE = """(() => { const all = performance.getEntriesByType('resource'), lines = [];
  const ms = (e) => `${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)} ms`;
  for (const e of all) if (!/\\.jpg/.test(e.name)) lines.push(`${ms(e)} ${e.name.replace(location.origin, '')}`);
  const pics = all.filter((e) => /\\.jpg/.test(e.name));
  if (pics.length) lines.push(`${pics.length} pictures: first asked at ${Math.min(...pics.map((e) => e.startTime)).toFixed(0)} ms, ` +
    `last done at ${Math.max(...pics.map((e) => e.responseEnd)).toFixed(0)} ms, ` +
    `slowest ${Math.max(...pics.map((e) => e.duration)).toFixed(0)} ms`);
  return lines; })()"""


def write_media(store, n_cameras: int) -> int:
    """A real JPEG behind every thumbnail and snapshot the rows name (one picture each kind)."""
    from sqlalchemy import select

    from scenewatch.store.schema import events, tracks

    rng = np.random.default_rng(3)
    crop = cv2.GaussianBlur(rng.integers(0, 255, (160, 80, 3), np.uint8), (9, 9), 3)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (360, 640, 3), np.uint8), (9, 9), 3)
    thumb = cv2.imencode(".jpg", crop)[1].tobytes()
    snap = cv2.imencode(".jpg", frame)[1].tobytes()
    with store.engine.connect() as conn:
        paths = [(p, thumb) for p in conn.scalars(select(tracks.c.thumbnail))]
        paths += [(p, snap) for p in conn.scalars(select(events.c.snapshot))]
    for relative, body in paths:
        path = store.media.absolute(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return len(paths)


def with_zones(settings):
    """The seeded cameras with the zones their tracks were found in (the Zones page lists them)."""
    from scenewatch.config import AppConfig

    polygons = [[[0, 0], [400, 0], [400, 720], [0, 720]], [[400, 0], [800, 0], [800, 720], [400, 720]],
                [[800, 0], [1280, 0], [1280, 720], [800, 720]]]  # fmt: skip
    data = settings.model_dump(mode="json", exclude_unset=True)
    for camera in data["cameras"]:
        camera["zones"] = [{"name": z, "polygon": p} for z, p in zip(ZONES, polygons, strict=True)]
    return AppConfig.model_validate(data)


def fill_audit(engine, rows: int) -> None:
    from scenewatch.api import audit

    for i in range(rows):
        audit.append(engine, "admin", "search", f"query:{i}", {"q": "person in a red top", "results": i % 24})


def load_once(page, url: str, ready: str) -> tuple[float, int, int]:
    """One load of ``url``: ms from navigation start to ``ready`` holding, requests, bytes."""
    page.goto(url, wait_until="commit")
    page.wait_for_function(
        f"() => {{ if ({ready}) {{ window.__shown ??= performance.now(); return true; }} return false; }}",
        polling="raf",
        timeout=60_000,
    )
    shown = page.evaluate("window.__shown")
    page.wait_for_timeout(1000)  # what the page asks for once shown counts too (lazy pictures)
    requests, spent = page.evaluate(SPENT)
    return shown, requests, spent


def scrub(page, base: str) -> dict[str, tuple[int, int]]:
    """Move across the review bar pixel by pixel, hovering then dragging out the whole day: the
    (data, picture) requests made while hovering, while dragging and on release (the new view)."""
    page.goto(f"{base}/ui/review.html?camera=gate&day={DAY_ISO}")
    page.wait_for_selector("#rv-events li[data-event]")
    page.wait_for_timeout(1000)
    box = page.locator("#rv-bar").bounding_box()
    y, left, right = box["y"] + 40, box["x"] + 1, box["x"] + box["width"] - 1
    pixels = int(right - left)
    made: list[str] = []
    page.on("request", lambda r: made.append(r.url))

    def taken() -> tuple[int, int]:
        pictures = sum(".jpg" in u for u in made)
        counted = (len(made) - pictures, pictures)
        made.clear()
        return counted

    page.mouse.move(left, y)
    page.mouse.move(right, y, steps=pixels)
    page.wait_for_timeout(500)
    counts = {"pixels": (pixels, 0), "hovering": taken()}
    page.mouse.move(left, y)
    taken()
    page.mouse.down()
    page.mouse.move(right, y, steps=pixels)
    counts["dragging"] = taken()
    page.mouse.up()
    page.wait_for_timeout(1000)
    counts["on release"] = taken()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--audit", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pages", default="", help="comma list of page names (default: all)")
    parser.add_argument(
        "--role",
        choices=["admin", "viewer"],
        default="admin",
        help="sign in as an admin (sees people as recorded) or a viewer of every camera (people pixelated)",
    )
    parser.add_argument(
        "--detail", action="store_true", help="also print the requests of each page's last load"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from scenewatch.api import create_app

    wanted = {p.strip() for p in args.pages.split(",") if p.strip()}
    with tempfile.TemporaryDirectory() as tmp:
        made = time.perf_counter()
        store, settings = seed(Path(tmp) / "data", args.tracks, args.events, CAMERAS)
        files = write_media(store, len(CAMERAS))
        fill_audit(store.engine, args.audit)
        if args.role != "admin":
            from scenewatch.api import auth

            auth.create_user(store.engine, args.role, PASSWORD, args.role)
        print(
            f"store: {args.tracks} tracks, {args.events} events, {files} media files, {args.audit} audit rows, "
            f"{len(CAMERAS)} cameras, one day ({time.perf_counter() - made:.1f} s to seed)"
        )
        app = create_app(store, with_zones(settings), config_path=Path(tmp) / "scenewatch.yaml")
        server, thread, base = serve(app)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900}, bypass_csp=True, timezone_id="UTC"
                )
                context.add_init_script("performance.setResourceTimingBufferSize(10000)")
                page = context.new_page()
                page.goto(base + "/ui/login.html")
                page.fill("#username", args.role)
                page.fill("#password", PASSWORD)
                page.click("#submit")
                page.wait_for_url("**/index.html")
                print(f"signed in as {args.role}")
                print(f"{'page':22s} {'median':>8s} {'slowest':>8s} {'requests':>8s} {'KiB':>8s}")
                for name, path, ready in PAGES:
                    if (wanted and name.split()[0] not in wanted) or (
                        name.startswith("admin") and args.role != "admin"
                    ):
                        continue
                    loads = [load_once(page, base + path, ready) for _ in range(args.repeat)]
                    times = [t for t, _, _ in loads]
                    print(
                        f"{name:22s} {statistics.median(times):6.0f} ms {max(times):6.0f} ms "
                        f"{statistics.median(r for _, r, _ in loads):8.0f} "
                        f"{statistics.median(b for _, _, b in loads) / 1024:8.0f}"
                    )
                    if args.detail:
                        for line in page.evaluate(TIMELINE):
                            print("    " + line)
                if not wanted or "scrub" in wanted:
                    counts = scrub(page, base)
                    print(
                        f"review timeline scrubbed across 24 h, {counts.pop('pixels')[0]} px, "
                        "requests (data + pictures): "
                        + ", ".join(
                            f"{data} + {pictures} {phase}" for phase, (data, pictures) in counts.items()
                        )
                    )
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    print(f"machine: {describe_machine()}, load average {os.getloadavg()[0]:.1f} (timings are noisy above 2)")
    print(f"seeded day: {DAY_ISO} (UTC), {DAY / 3600:.0f} h")


if __name__ == "__main__":
    main()
