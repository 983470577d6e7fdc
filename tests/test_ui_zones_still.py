"""The Zones page of a viewer without 'unmasked', no pipeline running: the file camera's still
shows the scene with its people pixelated (the real detector on the real first frame of
vtest.avi), and where the detector cannot run the page says why the whole picture is masked."""

from __future__ import annotations

import base64
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import VTEST, needs_models
from test_file_still import HIDDEN, PEOPLE
from test_privacy_masking import BACKGROUND, fine_detail
from test_ui import ARGS, CHROMIUM, PASSWORD, free_port, playwright_api, pytestmark, shot  # noqa: F401

from scenewatch.api.context import ServerContext


@pytest.fixture
def server(tmp_path):
    """A uvicorn server with the file camera 'sample' configured, no pipeline, an admin and a
    masked viewer."""
    import uvicorn

    from scenewatch.api import auth, create_app
    from scenewatch.config import AppConfig, CameraConfig
    from scenewatch.config.source import SourceConfig
    from scenewatch.store.data import DataStore

    store = DataStore.open(tmp_path / "data")
    settings = AppConfig(cameras=[CameraConfig(name="sample", source=SourceConfig(url=str(VTEST)))])
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    auth.create_user(store.engine, "view", PASSWORD, "viewer")
    app = create_app(store, settings, config_path=tmp_path / "scenewatch.yaml")
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    yield {"url": f"http://127.0.0.1:{uv.config.port}", "ctx": app.state.ctx}
    uv.should_exit = True
    thread.join(10)


def zones_page_as_viewer(server, artifacts_dir, name: str) -> tuple[str | None, np.ndarray]:
    """(the page's note on the picture, or None when hidden; the picture the page shows)."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            login = {"username": "view", "password": PASSWORD}
            assert page.request.post(server["url"] + "/api/auth/login", data=login).ok
            page.goto(server["url"] + "/ui/zones.html")
            page.wait_for_function("document.querySelector('#snapshot')?.naturalWidth > 0", timeout=60000)
            shot(page, artifacts_dir, name)
            note = None if page.is_hidden("#mask-note") else page.inner_text("#mask-note")
            # the picture as the page holds it (the blob it was given), at its own size
            data = page.evaluate(
                """() => { const img = document.querySelector('#snapshot');
                  const c = document.createElement('canvas'); c.width = img.naturalWidth;
                  c.height = img.naturalHeight; c.getContext('2d').drawImage(img, 0, 0);
                  return c.toDataURL('image/png').split(',')[1]; }"""
            )
            assert errors == [], errors
        finally:
            browser.close()
    image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
    return note, image


def first_frame() -> np.ndarray:
    capture = cv2.VideoCapture(str(VTEST))
    ok, image = capture.read()
    capture.release()
    assert ok
    return image


@needs_models
def test_zones_page_shows_a_masked_viewer_the_scene_with_people_pixelated(server, artifacts_dir):
    note, shown = zones_page_as_viewer(server, artifacts_dir, "zones-still-masked-viewer")
    clear = first_frame()
    assert note is None
    assert fine_detail(shown, BACKGROUND) > 0.8 * fine_detail(clear, BACKGROUND)
    for x1, y1, x2, y2 in PEOPLE:
        inner = (x1 + 2, y1 + 2, x2 - 2, y2 - 2)
        assert fine_detail(shown, inner) < HIDDEN * fine_detail(clear, inner)


def test_zones_page_says_why_the_whole_still_is_masked(server, artifacts_dir, monkeypatch):
    monkeypatch.setenv("SCENEWATCH_MODELS", str(artifacts_dir / "no-models-here"))
    ctx: ServerContext = server["ctx"]
    note, shown = zones_page_as_viewer(server, artifacts_dir, "zones-still-masked-whole")
    assert (
        note is not None
        and "whole picture is masked" in note
        and "centernet detector cannot run (run `scenewatch models fetch`)" in note
    )
    assert ctx.stills.get(ctx.settings, ctx.settings.camera("sample"), None).people is None
    assert fine_detail(shown, BACKGROUND) < 0.3 * fine_detail(first_frame(), BACKGROUND)
