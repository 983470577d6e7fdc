"""The clip player and the search pickers in a real browser (Playwright driving Debian's
Chromium) against the real server of tests/test_ui.py: a played clip shows what the server is
doing until it is ready, then the matched object's box over the video (a toggle); the camera and
time pickers beside the query narrow the results. Screenshots go to ``test-artifacts/ui/``."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import test_ui
from test_ui import PASSWORD, page, server, shot  # noqa: F401 (fixtures)
from test_ui_operator import copy_tracks

pytestmark = test_ui.pytestmark
PAINTED = """(() => {
  const c = document.querySelector('#player canvas.clip-boxes');
  if (!c || !c.width) return 0;
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
  return n;
})()"""


@pytest.fixture(scope="module", autouse=True)
def admin_session(server, page):  # noqa: F811
    """The module's page is signed in as the admin (its cookies; the UI reads the CSRF token)."""
    answer = page.request.post(
        server["url"] + "/api/auth/login", data={"username": "admin", "password": PASSWORD}
    )
    assert answer.ok, answer.text()


def test_played_clip_shows_progress_then_the_matched_box(server, page, artifacts_dir):  # noqa: F811
    page.goto(server["url"] + "/ui/search.html")
    page.fill("#q", "person walking")
    page.click("#go")
    page.wait_for_selector(".hit")
    texts: list[str] = []
    page.query_selector(".hit").click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # what the status line says while the clip is made
        text = page.evaluate("document.querySelector('#player .clip-status')?.textContent || ''")
        if text and text not in texts:
            texts.append(text)
            if "rendering frame" in text:
                shot(page, artifacts_dir, "30-clip-rendering-progress")
        if text.startswith("ready in"):
            break
        time.sleep(0.05)
    assert texts and texts[-1].startswith("ready in"), texts
    page.wait_for_function("document.querySelector('#clip')?.currentTime > 0.3", timeout=30000)
    # the track's box is drawn over the picture once the clip reaches the track (2 s in)
    page.wait_for_function(
        "Number(document.querySelector('#player canvas.clip-boxes')?.dataset.drawn) > 0", timeout=30000
    )
    page.evaluate("document.querySelector('#clip').pause()")
    assert page.evaluate(PAINTED) > 100
    shot(page, artifacts_dir, "31-clip-box-overlay")
    page.click("#player input.show-boxes")  # the toggle
    page.wait_for_function("document.querySelector('#player canvas.clip-boxes').dataset.drawn === '0'")
    assert page.evaluate(PAINTED) == 0
    shot(page, artifacts_dir, "32-clip-box-overlay-off")


def local_input(ts: float) -> str:
    """A datetime-local value (the browser and this process share the machine's time zone)."""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%dT%H:%M")


def cameras_shown(page) -> set[str]:  # noqa: F811
    return {h.inner_text().split(" · ")[1] for h in page.query_selector_all(".hit")}


def search(page) -> None:  # noqa: F811
    page.click("#go")
    page.wait_for_function(
        "document.querySelector('#understood:not([hidden])') && !document.querySelector('#results p.mute')"
        " || document.querySelector('#results p')?.textContent === 'No results.'"
    )


def test_pickers_narrow_the_results(server, page, artifacts_dir):  # noqa: F811
    from sqlalchemy import func, select

    from scenewatch.store.schema import tracks

    store = server["store"]
    copy_tracks(store, "sample", "annex")  # the same people a day later on a second camera
    with store.engine.connect() as conn:
        first, last = conn.execute(select(func.min(tracks.c.first_ts), func.max(tracks.c.last_ts))).one()
    between = (first + last) / 2  # after every sample track, before every annex one
    page.goto(server["url"] + "/ui/search.html")
    page.wait_for_selector("#search-camera option[value='annex']", state="attached")
    page.fill("#q", "person")
    search(page)
    assert cameras_shown(page) == {"sample", "annex"}

    page.select_option("#search-camera", ["annex"])
    search(page)
    assert cameras_shown(page) == {"annex"}
    assert "cameras annex" in page.inner_text("#understood-picked")
    shot(page, artifacts_dir, "33-search-camera-picker")

    page.select_option("#search-camera", [])
    page.fill("#search-from", local_input(between))
    search(page)
    assert cameras_shown(page) == {"annex"}  # the older tracks are before the window
    assert "from" in page.inner_text("#understood-picked") and page.is_visible("#understood-time")
    shot(page, artifacts_dir, "34-search-from-picker")

    page.fill("#search-from", "")
    page.fill("#search-to", local_input(between))
    search(page)
    assert cameras_shown(page) == {"sample"}

    page.fill("#search-from", local_input(last + 3600))  # from after to: refused in plain words
    page.click("#go")
    page.wait_for_selector("#search-error:has-text('end is before start')")
    assert page.query_selector_all(".hit") == []
    shot(page, artifacts_dir, "35-search-picker-refused")
