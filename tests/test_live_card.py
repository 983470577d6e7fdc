"""The Live page's camera card says one thing about a camera nothing watches: its badge "not
watched", and beside it no online rate that was never measured and no "no faults" nobody checked."""

from __future__ import annotations

import pytest
from conftest import VTEST
from support.servers import AppServer
from test_ui import ARGS, CHROMIUM, PASSWORD, playwright_api
from test_ui import pytestmark as ui_marks

pytestmark = ui_marks


@pytest.fixture
def server(tmp_path):
    """A real uvicorn server with one configured file camera that no run watches."""
    from scenewatch.api import auth, create_app
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.config.source import SourceConfig
    from scenewatch.store import repo
    from scenewatch.store.data import DataStore

    store = DataStore.open(tmp_path / "data")
    repo.ensure_camera(store.engine, "gate", str(VTEST), 768, 576)
    settings = AppConfig(cameras=[CameraConfig(name="gate", source=SourceConfig(url=str(VTEST)))])
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    app = create_app(store, settings, config_path=tmp_path / "scenewatch.yaml")
    with AppServer(app, "the UI server") as served:
        yield served.url


def test_card_of_a_camera_not_watched_says_one_thing(server, artifacts_dir):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server + "/")
        page.wait_for_url("**/login.html**")
        page.fill("#username", "admin")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url("**/index.html")
        card = page.wait_for_selector(".camera[data-camera='gate'] .badge:has-text('not watched')")
        assert card is not None
        body = page.inner_text(".camera[data-camera='gate'] .body")
        folder = artifacts_dir / "ui"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "live-card-not-watched.png"), full_page=True)
        browser.close()
    assert body == "768×576", body
    assert errors == [], errors
