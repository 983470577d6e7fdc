"""The web UI in a real browser (Playwright driving Debian's Chromium) against a real server over
the sample footage indexed by the real pipeline: log in, search and play the clip, receive a live
alert and acknowledge it, draw a zone, keep a search as an alert (operators, not viewers), view
health. Screenshots of every page go to the ``artifacts_dir`` folder (``$SCENEWATCH_TEST_ARTIFACTS``)
for people to look at."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import VTEST, needs_samples

CHROMIUM = os.environ.get("SCENEWATCH_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    needs_samples,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
        reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)",
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
PASSWORD = "correct-horse-battery"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real uvicorn server over vtest.avi indexed by the real pipeline (person detections every
    0.2 s); the camera 'sample' is configured so that live view and the zone editor work."""
    import uvicorn

    from scenewatch.api import auth, create_app
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.config.source import SourceConfig
    from scenewatch.pipeline import index_file
    from scenewatch.store.data import DataStore

    root = tmp_path_factory.mktemp("ui")
    store = DataStore.open(root / "data")
    video = VTEST
    settings = AppConfig(cameras=[CameraConfig(name="sample", source=SourceConfig(url=str(video)))])
    result = index_file(store, settings, video, "sample", detect_fps=5)
    assert result.tracks > 5
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    app = create_app(store, settings, config_path=root / "scenewatch.yaml")
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    yield {"url": f"http://127.0.0.1:{port}", "store": store, "app": app}
    uv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server, artifacts_dir):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        # bypass_csp: Playwright evaluates its wait conditions as strings, which our CSP forbids
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page, artifacts_dir: Path, name: str) -> None:
    folder = artifacts_dir / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_login_then_live_grid(server, page, artifacts_dir):
    page.goto(server["url"] + "/")
    page.wait_for_url("**/login.html**")
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("#submit")
    page.wait_for_selector("#error:has-text('wrong user name or password')")
    shot(page, artifacts_dir, "01-login-wrong-password")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/index.html")
    card = page.wait_for_selector(".camera[data-camera='sample']")
    page.wait_for_function("document.querySelector('.camera img.view')?.naturalWidth > 0")
    assert "admin (admin)" in page.inner_text("nav")
    assert card.query_selector(".badge") is not None
    shot(page, artifacts_dir, "02-live-grid")


def test_search_and_play_clip(server, page, artifacts_dir):
    page.goto(server["url"] + "/ui/search.html")
    page.fill("#q", "person walking")
    page.click("#go")
    page.wait_for_selector(".hit")
    understood = page.inner_text("#understood")
    assert "person" in understood and "Ignored" in understood
    hits = page.query_selector_all(".hit")
    assert len(hits) >= 5
    first = page.inner_text(".hit")
    assert "person" in first and "sample" in first and "score" in first
    page.wait_for_function(
        "[...document.querySelectorAll('.hit img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, artifacts_dir, "03-search-results")
    hits[0].click()
    page.wait_for_function(
        "(() => { const v = document.querySelector('#clip'); return v && v.readyState >= 2 && v.duration > 0; })()",
        timeout=60000,
    )
    page.wait_for_function("document.querySelector('#clip')?.currentTime > 0.3", timeout=20000)
    shot(page, artifacts_dir, "04-search-clip-playing")
    # Chinese works too
    page.fill("#q", "穿红色上衣的人")
    page.click("#go")
    page.wait_for_function("document.querySelector('#understood')?.innerText.includes('person')")
    shot(page, artifacts_dir, "05-search-chinese")


def test_live_alert_arrives_and_is_acknowledged(server, page, artifacts_dir):
    from test_api import read_frame

    from scenewatch.rules.events import Event
    from scenewatch.rules.store import save_event
    from scenewatch.store import repo

    store = server["store"]
    page.goto(server["url"] + "/ui/alerts.html")
    page.wait_for_selector("#stream-status:has-text('live')")
    camera = repo.camera_id(store.engine, "sample")
    now = time.time()
    event = Event(
        f"ui-{time.monotonic_ns()}",
        "door-intrusion",
        "intrusion",
        "sample",
        now,
        now + 1,
        [3],
        {},
        read_frame(40),
    )
    event_id = save_event(
        store.engine,
        store.media,
        event,
        camera,
        None,
        {"path": str(VTEST), "start_s": 3.0, "end_s": 6.0},
    )
    card = page.wait_for_selector(f"[data-event='{event_id}']", timeout=10000)  # no reload
    assert "fresh" in card.get_attribute("class")
    page.wait_for_function(f"document.querySelector(\"[data-event='{event_id}'] img\")?.naturalWidth > 0")
    shot(page, artifacts_dir, "06-alert-arrived")
    page.click(f"[data-event='{event_id}'] button.ack")
    page.wait_for_selector(f"[data-event='{event_id}'] .badge.acknowledged")
    page.click(f"[data-event='{event_id}'] button.clip")
    page.wait_for_function(
        "(() => { const v = document.querySelector('.player video'); return v && v.readyState >= 2; })()",
        timeout=60000,
    )
    shot(page, artifacts_dir, "07-alert-acknowledged-clip")
    from scenewatch.rules.store import get_event

    assert get_event(store.engine, event_id)["state"] == "acknowledged"


def test_draw_a_zone(server, page, artifacts_dir):
    from scenewatch.config import load_config

    page.goto(server["url"] + "/ui/zones.html")
    page.wait_for_function("document.querySelector('#snapshot')?.naturalWidth > 0")
    page.click("#mode-zone")
    canvas = page.query_selector("#canvas").bounding_box()
    for fx, fy in ((0.2, 0.5), (0.6, 0.5), (0.7, 0.9), (0.1, 0.9)):
        page.mouse.click(canvas["x"] + fx * canvas["width"], canvas["y"] + fy * canvas["height"])
    page.fill("#shape-name", "plaza")
    page.click("#finish")
    page.click("#mode-line")
    for fx, fy in ((0.05, 0.7), (0.95, 0.7)):
        page.mouse.click(canvas["x"] + fx * canvas["width"], canvas["y"] + fy * canvas["height"])
    page.click("#save")
    page.wait_for_selector("#message:has-text('Saved')")
    assert "zone plaza" in page.inner_text("#shapes")
    shot(page, artifacts_dir, "08-zone-editor-saved")
    written = load_config(server["app"].state.ctx.config_path).camera("sample")
    assert [z.name for z in written.zones] == ["plaza"]
    xs = [p[0] for p in written.zones[0].polygon]
    assert 70 < min(xs) < 85 and 530 < max(xs) < 545  # 0.1 .. 0.7 of 768 px


def signed_in(server, page, name: str, role: str):
    """A page in a browser context of its own (its own cookies), signed in as a new user ``name``;
    its JavaScript errors count against the module's ``page`` like the admin's."""
    from scenewatch.api import auth

    auth.create_user(server["store"].engine, name, PASSWORD, role)
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    other = context.new_page()
    other.on("pageerror", lambda exc: page.errors.append(f"{name}: {exc}"))
    answer = other.request.post(
        server["url"] + "/api/auth/login", data={"username": name, "password": PASSWORD}
    )
    assert answer.ok, answer.text()
    return other


def test_operator_saves_a_search_as_an_alert(server, page, artifacts_dir):
    from test_api import read_frame

    from scenewatch.rules.events import Event
    from scenewatch.rules.store import save_event
    from scenewatch.store import repo

    url = server["url"]
    oper = signed_in(server, page, "oper", "operator")
    try:
        before = oper.request.get(url + "/api/config/cameras/sample").json()
        oper.goto(url + "/ui/search.html?q=" + "person walking")
        oper.wait_for_selector(".hit")
        oper.click("#save-alert:not([disabled])")
        oper.wait_for_selector("#alert-form")
        assert oper.is_checked("#alert-camera-sample")  # the query names no camera: all of them
        assert oper.input_value("#alert-name") == "search-person-walking"
        assert oper.input_value("#alert-score") == "0.5"
        # the server validates; its message names the field
        oper.fill("#alert-score", "3")
        oper.click("#alert-save")
        oper.wait_for_selector("#alert-error:has-text('min_score')")
        assert "less than or equal to 1" in oper.inner_text("#alert-error")
        oper.fill("#alert-score", "0.6")
        shot(oper, artifacts_dir, "11-search-alert-setup")
        oper.click("#alert-save")
        oper.wait_for_selector("#alert-message:has-text('Saved alert')")
        assert "sample" in oper.inner_text("#alert-message") and oper.inner_text("#alert-error") == ""
        shot(oper, artifacts_dir, "12-search-alert-saved")
        after = oper.request.get(url + "/api/config/cameras/sample").json()
        rules = [r for r in after["rules"] if r["type"] == "search"]
        assert [(r["name"], r["query"], r["min_score"]) for r in rules] == [
            ("search-person-walking", "person walking", 0.6)
        ]
        assert after["zones"] == before["zones"] and after["lines"] == before["lines"]  # nothing else lost

        # what such a rule raises shows on the alerts page with its query, score and reasons
        oper.goto(url + "/ui/alerts.html")
        oper.wait_for_selector("#stream-status:has-text('live')")
        store = server["store"]
        now = time.time()
        detail = {
            "query": "person walking",
            "score": 0.72,
            "reasons": ["person", "walking"],
            "track": 1,
            "class": "person",
        }
        event = Event(
            f"ui-search-{time.monotonic_ns()}",
            "search-person-walking",
            "search",
            "sample",
            now,
            now + 1,
            [3],
            detail,
            read_frame(40),
        )
        event_id = save_event(
            store.engine, store.media, event, repo.camera_id(store.engine, "sample"), None, None
        )
        card = oper.wait_for_selector(f"[data-event='{event_id}']", timeout=10000)  # over SSE, no reload
        text = card.inner_text()
        assert "person walking" in text and "score 0.72" in text and "person; walking" in text
        oper.wait_for_function(f"document.querySelector(\"[data-event='{event_id}'] img\")?.naturalWidth > 0")
        shot(oper, artifacts_dir, "13-search-alert-event")
    finally:
        oper.context.close()


def test_viewer_gets_no_alert_action(server, page):
    view = signed_in(server, page, "view", "viewer")
    try:
        view.goto(server["url"] + "/ui/search.html?q=person")
        view.wait_for_selector(".hit")
        assert view.query_selector("#save-alert") is None
        assert view.query_selector("#alert-form") is None
    finally:
        view.context.close()


def test_health_page(server, page, artifacts_dir):
    page.goto(server["url"] + "/ui/health.html")
    page.wait_for_selector("#fleet")
    assert "Site online rate" in page.inner_text("main")
    shot(page, artifacts_dir, "09-health")


def test_admin_page_shows_audit(server, page, artifacts_dir):
    page.goto(server["url"] + "/ui/admin.html")
    page.wait_for_selector("#audit td")
    page.click("#verify")
    page.wait_for_selector("#verdict:has-text('intact')")
    text = page.inner_text("#audit")
    assert "search" in text and "clip_view" in text and "config_change" in text
    shot(page, artifacts_dir, "10-admin-audit")
