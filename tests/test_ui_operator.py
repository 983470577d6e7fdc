"""The operator's UI in a real browser (Playwright driving Debian's Chromium) against the real
server of tests/test_ui.py: the empty query in plain words, search paging and the camera picker,
no mosaic for masked viewers of a stopped camera, read-only zones for viewers, no 404 (favicon),
Chinese text in a real font, user management and audit filters on the admin page, and every page
at phone width (390 px). Screenshots go to ``test-artifacts/ui/``."""

from __future__ import annotations

import time

import numpy as np
import pytest
import test_ui
from test_ui import PASSWORD, page, server, shot, signed_in  # noqa: F401 (fixtures)

pytestmark = test_ui.pytestmark
PAGES = ["index.html", "search.html", "alerts.html", "health.html", "zones.html", "admin.html"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", autouse=True)
def admin_session(server, page):  # noqa: F811
    """The module's page is signed in as the admin (its cookies; the UI reads the CSRF token)."""
    answer = page.request.post(
        server["url"] + "/api/auth/login", data={"username": "admin", "password": PASSWORD}
    )
    assert answer.ok, answer.text()


def test_empty_query_clears_results_and_says_so(server, page, artifacts_dir):  # noqa: F811
    page.goto(server["url"] + "/ui/search.html?q=person")
    page.wait_for_selector(".hit")
    page.fill("#q", "   ")
    page.click("#go")
    page.wait_for_selector("#search-error:has-text('the query is empty')")
    api = page.request.get(server["url"] + "/api/search?q=")
    assert api.status == 422
    assert page.inner_text("#search-error") == api.json()["error"]  # the API's own words
    assert page.query_selector_all(".hit") == []
    assert page.is_hidden("#understood") and page.is_hidden("#more")
    shot(page, artifacts_dir, "20-search-empty-query")


def copy_tracks(store, source: str, name: str) -> int:
    """The finished tracks of camera ``source`` once more on a recorded camera ``name`` (a second
    view of the same scene, a day later), indexed for search; returns how many."""
    from sqlalchemy import insert, select

    from scenewatch.search.index import reindex
    from scenewatch.store import repo
    from scenewatch.store.schema import tracks

    camera = repo.ensure_camera(store.engine, name, "recorded", 768, 576, 10.0)
    with store.engine.begin() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(tracks).where(tracks.c.camera_id == repo.camera_id(store.engine, source))
            )
        ]
        for row in rows:
            row.pop("id")
            row.update(camera_id=camera, first_ts=row["first_ts"] + 86400, last_ts=row["last_ts"] + 86400)
        conn.execute(insert(tracks), rows)
    reindex(store.engine)
    return len(rows)


def test_more_results_and_camera_picker(server, page, artifacts_dir):  # noqa: F811
    assert copy_tracks(server["store"], "sample", "annex") > 12  # two cameras: more than one page
    page.goto(server["url"] + "/ui/search.html")
    page.wait_for_selector("#search-camera option[value='annex']", state="attached")
    page.fill("#q", "person")
    page.click("#go")
    page.wait_for_selector(".hit")
    first = [h.get_attribute("data-track") for h in page.query_selector_all(".hit")]
    assert len(first) == 24 and page.is_visible("#more")  # one page, and more behind it
    for _ in range(8):  # page on until a short page ends it
        count = len(page.query_selector_all(".hit"))
        page.click("#more")
        page.wait_for_function(
            f"document.querySelectorAll('.hit').length > {count} || !!document.querySelector('#more[hidden]')"
        )
        if page.is_hidden("#more"):
            break
    both = [h.get_attribute("data-track") for h in page.query_selector_all(".hit")]
    assert both[:24] == first and len(both) > 24 and len(set(both)) == len(both)  # nothing twice
    api = page.request.get(server["url"] + f"/api/search?q=person&limit={len(both) + 10}").json()
    assert [str(h["track_id"]) for h in api["results"]] == both  # one long page: the same, in order
    shot(page, artifacts_dir, "21-search-more-results")

    page.select_option("#search-camera", "annex")
    page.click("#go")
    page.wait_for_function("document.querySelector('.hit') && !document.querySelector('#results p')")
    cards = page.query_selector_all(".hit")
    assert cards and all("· annex ·" in h.inner_text() for h in cards)
    assert len(cards) < len(both)


def people_at(store, camera: str, frame: int) -> np.ndarray:
    """The person boxes the pipeline found on one frame of ``camera`` (what it hands the live view)."""
    from sqlalchemy import select

    from scenewatch.store import repo
    from scenewatch.store.schema import boxes, tracks

    query = (
        select(boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .where(tracks.c.camera_id == repo.camera_id(store.engine, camera), tracks.c.class_name == "person")
        .where(boxes.c.frame == frame)
    )
    with store.engine.connect() as conn:
        found = np.array(conn.execute(query).all(), dtype=np.float32).reshape(-1, 4)
    assert len(found) >= 3, f"the sample has people on frame {frame}"
    return found


def test_masked_viewer_sees_no_mosaic_and_no_zone_tools(server, page, artifacts_dir):  # noqa: F811
    from test_api import read_frame

    ctx = server["app"].state.ctx
    view = signed_in(server, page, "watcher", "viewer")
    try:
        # no live frame: the server would pixelate the whole still; the card says the camera stopped
        view.goto(server["url"] + "/ui/index.html")
        card = ".camera[data-camera='sample']"
        view.wait_for_selector(f"{card} .stopped")
        assert "camera stopped" in view.inner_text(f"{card} .stopped")
        assert view.is_hidden(f"{card} img.view") and view.get_attribute(f"{card} img.view", "src") is None
        shot(view, artifacts_dir, "22-live-viewer-camera-stopped")
        # a live frame with its person boxes: the masked picture is shown, people pixelated by box
        ctx.live.put("sample", read_frame(40), people_at(server["store"], "sample", 40), time.time())
        view.wait_for_function(
            f'document.querySelector("{card} img.view")?.naturalWidth > 0', timeout=60000, polling=500
        )
        assert view.query_selector(f"{card} .stopped") is None
        shot(view, artifacts_dir, "23-live-viewer-streaming")
        ctx.live.forget("sample")
        view.wait_for_selector(f"{card} .stopped", timeout=60000)

        # zones: a viewer sees the shapes, and no tool to change them
        admin = view.request.post(
            server["url"] + "/api/auth/login",
            data={"username": "admin", "password": PASSWORD, "bearer": True},
        ).json()["token"]
        zone = {"name": "kerb", "polygon": [[10, 300], [700, 300], [700, 560], [10, 560]]}
        put = view.request.put(
            server["url"] + "/api/config/cameras/sample",
            data={"zones": [zone], "lines": [], "rules": []},
            headers={"authorization": f"Bearer {admin}"},
        )
        assert put.ok, put.text()
        view.goto(server["url"] + "/ui/zones.html")
        view.wait_for_function("document.querySelector('#snapshot')?.naturalWidth > 0")
        view.wait_for_selector("#shapes li")
        assert "zone kerb" in view.inner_text("#shapes")
        for control in ("#mode-zone", "#mode-line", "#finish", "#shape-name", "#save"):
            assert view.is_hidden(control), control
        assert view.query_selector_all("#shapes button") == []
        assert "Viewers see zones" in view.inner_text("#read-only")
        shot(view, artifacts_dir, "24-zones-viewer-read-only")
    finally:
        view.context.close()


def test_every_page_without_a_404(server, page):  # noqa: F811
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    for name in PAGES:  # the live view and the alert stream never go idle: a fixed look instead
        page.goto(server["url"] + "/ui/" + name)
        page.wait_for_selector("nav a.here")
        page.wait_for_timeout(1500)
    assert failed == []
    assert any(u.endswith("/ui/favicon.svg") for u in asked)  # the icon every page links
    # what the browser asks on its own where a page links none (Playwright does not see that request)
    assert page.request.get(server["url"] + "/favicon.ico").status == 200


def test_chinese_renders_in_a_real_font(server, page, artifacts_dir):  # noqa: F811
    page.goto(server["url"] + "/ui/search.html?q=穿红色上衣的人")
    page.wait_for_function("document.querySelector('#understood')?.innerText.includes('person')")
    # with no CJK font every character is the same empty box; with one, each has its own shape
    shapes = page.evaluate(
        """() => ['人', '口', '红'].map((c) => {
             const canvas = document.createElement('canvas'); canvas.width = canvas.height = 40;
             const g = canvas.getContext('2d'); g.font = '32px ' + getComputedStyle(document.body).fontFamily;
             g.fillText(c, 2, 34);
             return Array.from(g.getImageData(0, 0, 40, 40).data.filter((_, i) => i % 4 === 3)).join(',');
           })"""
    )
    assert len(set(shapes)) == 3
    page.wait_for_function("[...document.querySelectorAll('.hit img')].every(i => i.complete)")
    shot(page, artifacts_dir, "25-search-chinese-font")


def test_admin_manages_users_and_filters_the_audit_log(server, page, artifacts_dir):  # noqa: F811
    from scenewatch.api import auth

    engine = server["store"].engine
    auth.create_user(engine, "casey", PASSWORD, "viewer", cameras=["sample"])
    for number in range(60):  # more audit rows than one page
        page.request.get(server["url"] + f"/api/search?q=person+{number}")
    page.goto(server["url"] + "/ui/admin.html")
    row = "#users tr[data-user='casey']"
    page.wait_for_selector(row)

    page.select_option(f"{row} select.role", "operator")
    page.wait_for_selector("#user-message:has-text('casey: role is now operator')")
    page.fill(f"{row} input.cameras", "")
    page.click(f"{row} button.grant")
    page.wait_for_selector("#user-message:has-text('casey: all cameras')")
    page.check(f"{row} input.unmasked")
    page.wait_for_selector("#user-message:has-text('casey: sees people unmasked')")
    stored = auth.find_user(engine, "casey")
    assert (stored["role"], stored["cameras"], stored["unmasked"]) == ("operator", None, True)

    page.fill(f"{row} input.password", "short")
    page.click(f"{row} button.reset")
    page.wait_for_selector("#user-error:has-text('casey:')")  # the server's reason, in its words
    page.fill(f"{row} input.password", "a-new-and-long-secret")
    page.click(f"{row} button.reset")
    page.wait_for_selector("#user-message:has-text('casey: password set')")
    assert auth.authenticate(engine, "casey", "a-new-and-long-secret") is not None
    shot(page, artifacts_dir, "26-admin-users-managed")

    page.click(f"{row} button.delete")
    assert page.inner_text(f"{row} button.delete") == "Really delete casey?"
    assert auth.find_user(engine, "casey") is not None  # one click does not delete
    page.click(f"{row} button.delete")
    page.wait_for_selector("#user-message:has-text('casey: deleted')")
    assert page.query_selector(row) is None and auth.find_user(engine, "casey") is None
    assert page.query_selector("#users tr[data-user='admin'] button.delete") is None  # not yourself

    # the audit log: filter by action, page back, filter by time
    page.fill("#audit-action", "user_change")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function(
        "[...document.querySelectorAll('#audit tr[data-id] td:nth-child(3)')].every(td => td.innerText === 'user_change')"
        " && document.querySelectorAll('#audit tr[data-id]').length >= 5"
    )
    assert "user:casey" in page.inner_text("#audit")
    shot(page, artifacts_dir, "27-admin-audit-filtered")
    page.click("#audit-clear")
    page.wait_for_function("document.querySelectorAll('#audit tr[data-id]').length === 50")
    newest = [int(r.get_attribute("data-id")) for r in page.query_selector_all("#audit tr[data-id]")]
    page.click("#audit-older")
    page.wait_for_function(f"+document.querySelector('#audit tr[data-id]')?.dataset.id < {min(newest)}")
    page.click("#audit-newest")
    page.wait_for_function(f"+document.querySelector('#audit tr[data-id]')?.dataset.id >= {max(newest)}")
    page.fill("#audit-since", "2099-01-01T00:00")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_selector("#audit td:has-text('No rows match.')")


def test_every_page_at_phone_width(server, page, artifacts_dir):  # noqa: F811
    context = page.context.browser.new_context(viewport=PHONE, bypass_csp=True, is_mobile=True)
    phone = context.new_page()
    phone.on("pageerror", lambda exc: page.errors.append(f"phone: {exc}"))
    try:
        answer = phone.request.post(
            server["url"] + "/api/auth/login", data={"username": "admin", "password": PASSWORD}
        )
        assert answer.ok, answer.text()
        for number, name in enumerate(PAGES):
            phone.goto(server["url"] + "/ui/" + name)
            phone.wait_for_selector("nav a.here")
            phone.wait_for_selector("main > *")
            if name == "zones.html":
                phone.wait_for_function("document.querySelector('#snapshot')?.naturalWidth > 0")
            phone.wait_for_timeout(500)
            overflow = phone.evaluate(
                "() => [document.documentElement.scrollWidth, document.querySelector('nav').scrollWidth,"
                " document.querySelector('nav').clientWidth]"
            )
            assert overflow[0] <= PHONE["width"] and overflow[1] <= overflow[2], (name, overflow)
            for link in phone.query_selector_all("nav a, nav button"):
                box = link.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
            if name == "zones.html":
                image = phone.query_selector("#snapshot").bounding_box()
                layer = phone.query_selector("#canvas").bounding_box()
                assert image["width"] > 300  # not a strip
                for key in ("x", "y", "width", "height"):
                    assert abs(image[key] - layer[key]) < 1.5, (key, image, layer)
            shot(phone, artifacts_dir, f"3{number}-phone-{name.removesuffix('.html')}")
        phone.goto(server["url"] + "/ui/login.html")
        phone.wait_for_selector("#login")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(phone, artifacts_dir, "36-phone-login")
    finally:
        context.close()
