"""Health in the browser: the Live card and the Health page show the same state as the API, read
from the same report, while a real camera lags and after it stops being watched."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import VTEST, needs_models, needs_samples
from test_health_truth import camera, run_in_thread, settings, wait_for
from test_ui import ARGS, CHROMIUM, PASSWORD, free_port, playwright_api, shot

from scenewatch.store.data import DataStore

pytestmark = [needs_samples, needs_models, pytest.mark.skipif(playwright_api is None, reason="no playwright")]


def test_live_card_and_health_page_agree_while_lagging_and_after_the_stop(tmp_path, artifacts_dir):
    import uvicorn

    from scenewatch.api import auth, create_app
    from scenewatch.health.store import fleet_report

    store = DataStore.open(tmp_path / "data")
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    config = settings(str(VTEST), lagging_after_s=1.0, lagging_clear_s=0.5)

    def slow(frame, tracked, finished) -> None:
        time.sleep(2.0)  # a machine too slow for this camera: analysis falls behind the source

    stop, pipeline = run_in_thread(store, config, track_observers={"gate": [slow]})
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(create_app(store, config), host="127.0.0.1", port=port, log_level="warning")
    )
    server = threading.Thread(target=uv.run, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: (c := camera(fleet_report(store.engine), "gate")) and c["faults"] and c)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "/ui/login.html")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("#submit")
            page.wait_for_url("**/index.html")
            card = page.wait_for_selector(".camera[data-camera='gate'] .body:has-text('lagging')")
            badge = page.inner_text(".camera[data-camera='gate'] .badge")
            body = card.inner_text()
            shot(page, artifacts_dir, "health-01-live-lagging")
            page.goto(url + "/ui/health.html")
            row = page.wait_for_selector("#fleet tr:has-text('gate')")
            fleet_row = row.inner_text()
            shot(page, artifacts_dir, "health-02-page-lagging")
            report = camera(fleet_report(store.engine), "gate")
            # one state: the badge, the page and the report name the same status and fault
            assert badge == "warning" and "warning" in fleet_row and report["status"] == "warning"
            assert "s behind" in body and "lagging" in fleet_row and "s behind" in fleet_row
            assert "offline" not in body and "offline" not in fleet_row

            stop.set()
            pipeline.join(60)
            page.reload()
            row = page.wait_for_selector("#fleet tr:has-text('gate')")
            assert "not watched" in row.inner_text() and "lagging" not in row.inner_text()
            closed = page.inner_text("#history")
            assert "(not watched)" in closed and "open" not in closed.split("\n", 1)[1]
            shot(page, artifacts_dir, "health-03-page-not-watched")
            page.goto(url + "/ui/index.html")
            page.wait_for_selector(".camera[data-camera='gate'] .badge:has-text('not watched')")
            assert "lagging" not in page.inner_text(".camera[data-camera='gate'] .body")
            shot(page, artifacts_dir, "health-04-live-not-watched")
            browser.close()
        assert errors == [], errors
    finally:
        stop.set()
        pipeline.join(60)
        uv.should_exit = True
        server.join(10)
