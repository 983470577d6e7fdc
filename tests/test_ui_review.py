"""The Review page in a real browser: the time bar draws the tracks of the sample indexed by the
real pipeline, hovering previews without asking the server for data, a click plays the footage
from that moment; at 390 px the page still fits. Uses test_ui's server and browser."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import func, select
from test_ui import page, server, shot, signed_in  # noqa: F401  (fixtures and helpers)

from scenewatch.store.schema import tracks

PERSON_RGB = (0x3B, 0x9E, 0xFF)  # review.js's colour for people


def _span(running: dict) -> tuple[float, float]:
    with running["store"].engine.connect() as conn:
        first, last = conn.execute(select(func.min(tracks.c.first_ts), func.max(tracks.c.last_ts))).one()
    return first, last


def _person_pixels(browser_page) -> int:
    """Pixels of the bar in the people's colour (bypass_csp lets Playwright evaluate this)."""
    r, g, b = PERSON_RGB
    return browser_page.evaluate(
        f"""(() => {{
        const c = document.querySelector('#rv-bar');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === {r} && d[i + 1] === {g} && d[i + 2] === {b}) n++;
        return n;
    }})()"""
    )


def test_the_bar_shows_tracks_and_a_click_plays_from_there(server, page, artifacts_dir):  # noqa: F811
    first, last = _span(server)
    start, end = first - 10, last + 10
    user = signed_in(server, page, "review-admin", "admin")
    asked: list[str] = []
    user.on("request", lambda r: asked.append(r.url) if "/api/review/" in r.url else None)
    user.goto(f"{server['url']}/ui/review.html?camera=sample&start={start}&end={end}")
    user.wait_for_function("document.querySelector('#rv-summary')?.textContent.includes('busiest')")
    assert "Review" in user.inner_text("nav a.here")
    assert _person_pixels(user) > 500  # people in view over most of the file
    assert "person" in user.inner_text("#rv-legend")
    assert [u for u in asked if "/clip" not in u and "events_after" not in u].__len__() == 1

    # hovering along the bar asks for thumbnails at most, never for the data again
    bar = user.query_selector("#rv-bar").bounding_box()
    y = bar["y"] + bar["height"] * 0.5
    for step in range(40):
        user.mouse.move(bar["x"] + bar["width"] * (0.05 + 0.9 * step / 40), y)
    user.mouse.move(bar["x"] + bar["width"] * 0.5, y)
    user.wait_for_selector("#rv-hover:not([hidden]) img")
    user.wait_for_function("document.querySelector('#rv-hover img')?.naturalWidth > 0")
    assert len([u for u in asked if "/clip" not in u]) == 1
    shot(user, artifacts_dir, "review-01-hover")

    # a click at 40 % of the window plays the footage from that time
    user.mouse.click(bar["x"] + bar["width"] * 0.4, y)
    user.wait_for_function(
        "(() => { const v = document.querySelector('#rv-clip'); return v && v.readyState >= 2 && v.duration > 0; })()",
        timeout=60000,
    )
    user.wait_for_function("document.querySelector('#rv-clip')?.currentTime > 0.3", timeout=20000)
    src = user.get_attribute("#rv-clip", "src")
    at = float(src.split("at=")[1].split("&")[0])
    assert abs(at - (start + 0.4 * (end - start))) < (end - start) / 100, (src, start, end)
    shot(user, artifacts_dir, "review-02-playing")

    # the whole day: one request, the tracks a narrow band of it
    day = user.evaluate(f"(() => {{ const d = new Date({first} * 1000); return d.toISOString(); }})()")
    asked.clear()
    user.goto(f"{server['url']}/ui/review.html?camera=sample&day={quote(day[:10])}")
    user.wait_for_function("document.querySelector('#rv-summary')?.textContent.includes('busiest')")
    assert len(asked) == 1 and "buckets=" in asked[0]
    shot(user, artifacts_dir, "review-03-day")

    # dragging across the hour around the file zooms in on it: one more request, the tracks wide again
    whole_day = user.inner_text("#rv-summary")
    query = parse_qs(urlsplit(asked[0]).query)
    day_start, day_end = float(query["start"][0]), float(query["end"][0])
    bar = user.query_selector("#rv-bar").bounding_box()
    x = lambda ts: bar["x"] + bar["width"] * (ts - day_start) / (day_end - day_start)  # noqa: E731
    y = bar["y"] + bar["height"] * 0.5
    # the hour around the file, kept inside the day: near midnight the file's own day is short on one side
    lo, hi = max(first - 1800, day_start + 60), min(last + 1800, day_end - 60)
    user.mouse.move(x(lo), y)
    user.mouse.down()
    user.mouse.move(x(hi), y, steps=5)
    user.mouse.up()
    user.wait_for_function("!document.querySelector('#rv-whole').hidden")
    user.wait_for_function(f"document.querySelector('#rv-summary').textContent !== {json.dumps(whole_day)}")
    assert len(asked) == 2 and _person_pixels(user) > 500
    assert user.query_selector("#rv-clip") is None  # a drag is not a click: nothing plays
    shot(user, artifacts_dir, "review-04-zoomed")
    user.context.close()


def test_review_at_390_px(server, page, artifacts_dir):  # noqa: F811
    first, last = _span(server)
    user = signed_in(server, page, "review-phone", "viewer")
    user.set_viewport_size({"width": 390, "height": 844})
    user.goto(f"{server['url']}/ui/review.html?camera=sample&start={first - 10}&end={last + 10}")
    user.wait_for_function("document.querySelector('#rv-summary')?.textContent.includes('busiest')")
    width = user.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    bar = user.query_selector("#rv-bar").bounding_box()
    assert bar["width"] > 300 and _person_pixels(user) > 100
    shot(user, artifacts_dir, "review-05-390px")
    user.context.close()
