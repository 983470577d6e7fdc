"""The zone editor against a server whose pipeline is watching the looped sample (the embedded
default camera): saving a zone while the camera runs goes to the running camera, which neither
replays the file nor stores a track twice. Screenshots go to ``artifacts_dir``/ui."""

from __future__ import annotations

import pytest
from conftest import needs_models
from support.servers import AppServer
from test_config_reload import duplicates, run_rows, track_rows, wait_for
from test_ui import PASSWORD, page, shot  # noqa: F401 (page: the browser fixture)
from test_ui import pytestmark as ui_marks

pytestmark = [*ui_marks, needs_models]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real uvicorn server with its pipeline running the embedded default config (the sample,
    looped, played at its own rate; detections 2.5 times a second to spare a busy machine)."""

    from scenewatch.api import auth, create_app
    from scenewatch.api.live_frames import LiveFrames
    from scenewatch.api.runner import PipelineRunner
    from scenewatch.config import AppConfig
    from scenewatch.pipeline import default_config
    from scenewatch.store.data import DataStore

    root = tmp_path_factory.mktemp("ui-reload")
    store = DataStore.open(root / "data")
    sample = default_config().cameras[0].model_copy(update={"detect_fps": 2.5})
    settings = AppConfig(cameras=[sample])
    auth.create_user(store.engine, "admin", PASSWORD, "admin")
    live = LiveFrames()
    runner = PipelineRunner(store, settings, live)
    app = create_app(store, settings, runner, config_path=root / "scenewatch.yaml", live=live)
    with AppServer(app, "the UI server") as served:
        runner.start()
        yield {"url": served.url, "store": store, "app": app, "runner": runner}
        runner.stop()


def test_saving_a_zone_while_the_sample_runs_stores_no_track_twice(server, page, artifacts_dir):  # noqa: F811
    store = server["store"]
    page.goto(server["url"] + "/")
    page.wait_for_url("**/login.html**")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/index.html")
    wait_for(lambda: len([r for r in track_rows(store) if r["finished"]]) >= 3, "the sample's first tracks")

    page.goto(server["url"] + "/ui/zones.html")
    page.wait_for_function("document.querySelector('#snapshot')?.naturalWidth > 0")
    page.click("#mode-zone")
    canvas = page.query_selector("#canvas").bounding_box()
    for fx, fy in ((0.1, 0.3), (0.9, 0.3), (0.9, 0.95), (0.1, 0.95)):
        page.mouse.click(canvas["x"] + fx * canvas["width"], canvas["y"] + fy * canvas["height"])
    page.fill("#shape-name", "road")
    page.click("#finish")
    done = max(r["last_frame"] for r in track_rows(store))  # analysed before the save
    page.click("#save")
    page.wait_for_selector("#message:has-text('Saved')")
    assert "zone road" in page.inner_text("#shapes")
    shot(page, artifacts_dir, "reload-01-zone-saved-while-running")

    # the camera goes on from where it was: tracks past the frames analysed before the save
    wait_for(
        lambda: [r for r in track_rows(store) if r["finished"] and r["first_frame"] > done],
        "tracks that start after the frames analysed before the save",
    )
    rows = track_rows(store)
    assert duplicates(rows) == []
    assert len(run_rows(store)) == 1  # one run: the sample was never reopened
    assert server["runner"].running
    page.goto(server["url"] + "/")
    card = page.wait_for_selector(".camera[data-camera='sample']")
    page.wait_for_function("document.querySelector('.camera img.view')?.naturalWidth > 0")
    assert card.query_selector(".badge") is not None
    shot(page, artifacts_dir, "reload-02-live-after-zone-save")
