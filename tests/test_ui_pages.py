"""What pages ask the server for: the review bar is scrubbed without a request per pixel (its
preview picture comes where the pointer rests), and a long alert list asks only for the snapshots
near the screen, the others as they are scrolled to. Uses test_ui's server and browser."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from test_ui import page, server, shot, signed_in  # noqa: F401  (fixtures and helpers)

from scenewatch.store.schema import tracks

MORE_EVENTS = 40


def _pictures(urls: list[str]) -> list[str]:
    return [u for u in urls if ".jpg" in u]


def test_scrubbing_the_review_bar_asks_for_pictures_only_where_the_pointer_rests(server, page, artifacts_dir):  # noqa: F811
    with server["store"].engine.connect() as conn:
        first, last = conn.execute(select(func.min(tracks.c.first_ts), func.max(tracks.c.last_ts))).one()
    user = signed_in(server, page, "scrub-admin", "admin")
    user.goto(f"{server['url']}/ui/review.html?camera=sample&start={first - 10}&end={last + 10}")
    user.wait_for_function("document.querySelector('#rv-summary')?.textContent.includes('busiest')")
    asked: list[str] = []
    user.on("request", lambda r: asked.append(r.url))
    bar = user.query_selector("#rv-bar").bounding_box()
    y, left, right = bar["y"] + bar["height"] * 0.5, bar["x"] + 1, bar["x"] + bar["width"] - 1
    pixels = int(right - left)

    # one sweep over every pixel of the bar, tracks under most of them
    user.mouse.move(left, y)
    user.mouse.move(right, y, steps=pixels)
    assert pixels > 500
    assert len(_pictures(asked)) <= 3, (pixels, _pictures(asked))
    assert not [u for u in asked if "/api/review/" in u]  # the bar's data is on the page already

    # resting on a track shows its picture
    user.mouse.move(bar["x"] + bar["width"] * 0.5, y)
    user.wait_for_function("document.querySelector('#rv-hover img')?.naturalWidth > 0")
    shot(user, artifacts_dir, "pages-01-review-rest")

    # dragging out a range asks for nothing until it is let go; then for the new view, once
    asked.clear()
    user.mouse.move(bar["x"] + bar["width"] * 0.2, y)
    user.mouse.down()
    user.mouse.move(bar["x"] + bar["width"] * 0.8, y, steps=pixels // 2)
    assert asked == []
    with user.expect_request(lambda r: "/api/review/" in r.url, timeout=60_000):
        user.mouse.up()
    user.wait_for_timeout(500)  # anything else it would ask for
    assert len([u for u in asked if "/api/review/" in u and "/clip" not in u]) == 1, asked
    user.close()


def test_a_long_alert_list_asks_only_for_the_snapshots_near_the_screen(server, page, artifacts_dir):  # noqa: F811
    from test_api import read_frame

    from scenewatch.rules.events import Event
    from scenewatch.rules.store import save_event
    from scenewatch.store import repo

    store = server["store"]
    camera = repo.camera_id(store.engine, "sample")
    frame = read_frame(40)
    now = time.time()
    for i in range(MORE_EVENTS):
        event = Event(
            f"many-{i}", "door", "intrusion", "sample", now - 60 * i, now - 60 * i + 1, [3], {}, frame
        )
        save_event(store.engine, store.media, event, camera, None, None)
    user = signed_in(server, page, "many-admin", "admin")
    asked: list[str] = []
    user.on("request", lambda r: asked.append(r.url))
    user.goto(f"{server['url']}/ui/alerts.html")
    user.wait_for_function(
        f"document.querySelectorAll('.card.alert').length >= {MORE_EVENTS}"
        " && document.querySelector('.card.alert img')?.naturalWidth > 0"
    )
    user.wait_for_timeout(1000)  # time for any picture the page would still ask for
    near = len(_pictures(asked))
    cards = user.eval_on_selector_all(".card.alert", "cards => cards.length")
    assert 1 <= near <= cards // 2, (near, cards)
    shot(user, artifacts_dir, "pages-02-alerts-many")

    # the last card's snapshot comes once it is scrolled to
    user.eval_on_selector(".card.alert:last-child", "card => card.scrollIntoView()")
    user.wait_for_function("document.querySelector('.card.alert:last-child img')?.naturalWidth > 0")
    assert len(_pictures(asked)) > near
    user.close()
